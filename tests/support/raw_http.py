"""HTTP/1.1 by hand, for peers no HTTP client library plays: half-open sockets, abandoned requests, bodies shorter
than their Content-Length, many kept-alive connections. Loopback only; every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def address(host: str) -> tuple[str, int]:
    """`(host, port)` of a base URL such as `http://127.0.0.1:8000`."""
    parts = urlsplit(host)
    assert parts.hostname in ("127.0.0.1", "localhost", "::1"), "raw HTTP goes to loopback only"
    return parts.hostname, parts.port or 80


def request_bytes(body: bytes | Any, path: str = "/embed", token: str | None = None, length: int | None = None) -> bytes:  # noqa: ANN401
    """A POST of `body` (bytes as they are, else JSON); `length` overrides the declared Content-Length."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data) if length is None else length}\r\n"
    ).encode()
    return head + auth + b"\r\n" + data


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset: the peer sees the disconnect at once."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:  # noqa: ANN401 - any JSON
        return json.loads(self.body)


def read_answer(sock: socket.socket, timeout: float = 30.0) -> Answer | None:
    """The next response on a blocking socket, or None when the server closed it first."""
    sock.settimeout(timeout)
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    status, headers = _head(head)
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Answer(status, headers, rest[:length])


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> Answer:
    """Send one request on a kept-alive asyncio connection and read its answer."""
    writer.write(data)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status, headers = _head(head[:-4])
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


def _head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers


def rss_bytes(pid: int) -> tuple[int, int]:
    """Resident memory of a process now and at its peak (Linux /proc), in bytes."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
