"""A loopback HTTP server whose answers are written raw by a script: gzip bombs, bodies sent a byte a second,
huge error pages (the client's limits are tested against it)."""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import BinaryIO

from aleph_embed.server.launcher import LOOPBACK

Answer = Callable[[BinaryIO], None]
"""Writes one whole answer (status line, headers, body) to the connection."""


class ScriptedServer:
    """Answers every request with `answer`; `host` is its base URL, `requests` counts the requests it got."""

    def __init__(self, answer: Answer) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                server.requests += 1
                self.close_connection = True
                try:
                    answer(self.wfile)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up on us: what is tested
                    pass

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.requests = 0
        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.host = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


def head(status: str = "200 OK", **headers: str | int) -> bytes:
    """A status line and headers (keyword `content_length` becomes `content-length`)."""
    lines = [f"HTTP/1.1 {status}"] + [f"{key.replace('_', '-')}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip body of zeros that expands to `decoded_bytes` (about 1/1000 of it), built without holding it."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(decoded_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


def dribble(wfile: BinaryIO, data: bytes, interval: float = 1.0) -> None:
    """Send `data` one byte every `interval` seconds."""
    for byte in data:
        wfile.write(bytes([byte]))
        wfile.flush()
        time.sleep(interval)

