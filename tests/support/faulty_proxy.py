"""A loopback HTTP proxy that fails the first call of every fourth request body on chosen paths (default: /embed).

The faults rotate through 503 QUEUE_FULL, 429 with Retry-After, and a connection reset (RST, no answer).
Which prompts fail is decided by a hash of the request body, so a retry of a failed call goes through.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from aleph_embed.server.launcher import LOOPBACK

FAULTS = ("queue_full", "rate_limited", "reset")


class FaultyProxy:
    """`host` is the proxy's base URL; `faults` counts what was injected, `seen` every call by (path, model)."""

    def __init__(self, upstream: str, paths: tuple[str, ...] = ("/embed",)) -> None:
        self.upstream = upstream.rstrip("/")
        self.paths = paths
        self.faults: Counter[str] = Counter()
        self.seen: Counter[tuple[str, str | None]] = Counter()
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=60.0)
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler())
        self._server.daemon_threads = True
        self.host = f"http://{LOOPBACK}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def fault_for(self, path: str, body: bytes) -> str | None:
        """The fault to inject for this call, if any (only the first call of a chosen prompt fails)."""
        if path not in self.paths:
            return None
        digest = hashlib.sha256(body).digest()
        if digest[0] % 4:
            return None
        with self._lock:
            if digest in self._failed:
                return None
            self._failed.add(digest)
            fault = FAULTS[digest[1] % len(FAULTS)]
            self.faults[fault] += 1
        return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._forward(b"")

            def do_POST(self) -> None:
                self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))

            do_PUT = do_POST

            def _forward(self, body: bytes) -> None:
                model = json.loads(body).get("model") if body.startswith(b"{") else None
                with proxy._lock:
                    proxy.seen[(self.path.split("?")[0], model)] += 1
                fault = proxy.fault_for(self.path.split("?")[0], body)
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "queue_full":
                    self._answer(503, json.dumps({"error": "queue full", "code": "QUEUE_FULL"}).encode(), {})
                    return
                if fault == "rate_limited":
                    self._answer(429, json.dumps({"error": "too many requests", "code": "TOO_MANY_REQUESTS"}).encode(),
                                 {"Retry-After": "1"})
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                upstream = proxy._http.request(self.command, proxy.upstream + self.path, content=body, headers=headers)
                self._answer(upstream.status_code, upstream.content, {"Content-Type": upstream.headers.get("content-type", "")})

            def _answer(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        return Handler
