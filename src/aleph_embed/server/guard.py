"""What keeps the server up under abuse, below the app: connection and body limits, read timeouts, cancellation of
requests whose client left, and a log that cannot flood.

uvicorn gives keep-alive idle time and the header size limit; it has no header-read timeout, no connection limit
that answers before a request is read, no body-read timeout and no limit on body bytes held across requests. The
protocol subclass below adds the first two at the socket level, `RequestGuard` (ASGI) the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

logger = logging.getLogger("aleph_embed.server")


def error_body(code: str, message: str) -> bytes:
    """The API's error shape; ASCII-escaped, so that no input can make it unencodable."""
    return json.dumps({"error": message, "code": code}, ensure_ascii=True).encode()


async def send_error(send: Send, status: int, code: str, message: str, close: bool = False) -> None:
    body = error_body(code, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else [])})
    await send({"type": "http.response.body", "body": body, "more_body": False})


@dataclass(frozen=True)
class ConnectionLimits:
    """Socket-level limits: open connections (more are answered 503 and closed at once) and the seconds a
    connection may take to send a request's headers (then it is closed)."""

    max_connections: int
    header_timeout: float


def guarded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with `limits`; pass it as uvicorn's `http`."""

    class GuardedProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                body = error_body("TOO_MANY_CONNECTIONS", f"the server has {limits.max_connections} connections open "
                                  "(--max-connections); retry soon")
                transport.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                                b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                transport.close()
                logger.warning("connection refused: %d connections open (--max-connections)", limits.max_connections)
                return
            self._await_headers()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._await_headers()  # the next request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE and self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            super().connection_lost(exc)

        def _await_headers(self) -> None:
            self._header_timer = self.loop.call_later(limits.header_timeout, self._headers_late)

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol


class RequestGuard:
    """ASGI middleware in front of the app, for every HTTP request:

    - a body over `max_body_bytes` (declared or streamed) is answered 413 before anything parses it;
    - the bodies held at once, all requests together, stay under `max_inflight_body_bytes` (503 SERVER_BUSY);
    - a body not complete within `body_timeout` seconds is answered 408 and the connection closed;
    - when the client disconnects before its answer, the app's work for it is cancelled (it leaves the queue).
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_inflight_body_bytes: int, body_timeout: float
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_inflight_body_bytes = max_inflight_body_bytes
        self.body_timeout = body_timeout
        self.inflight_body_bytes = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        held = [0]  # body bytes this request counts in `inflight_body_bytes`
        try:
            if not self._hold(held, int(declared) if declared.isdigit() else 0):
                await self._busy(send)
                return
            body = await self._read_body(receive, send, held)
            if body is not None:
                await self._run_until_disconnect(scope, body, receive, send)
        finally:
            self.inflight_body_bytes -= held[0]

    def _hold(self, held: list[int], size: int) -> bool:
        """Count the request's body as `size` bytes (if more than so far); False when that passes the limit."""
        more = size - held[0]
        if more <= 0:
            return True
        if self.inflight_body_bytes + more > self.max_inflight_body_bytes:
            return False
        self.inflight_body_bytes += more
        held[0] = size
        return True

    async def _read_body(self, receive: Receive, send: Send, held: list[int]) -> bytes | None:
        """The whole body, or None when it was answered (too large, too slow, server busy) or the client left."""
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.body_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except asyncio.TimeoutError:
                await send_error(send, 408, "REQUEST_TIMEOUT",
                                 f"the request body did not arrive within {self.body_timeout:g} s (--body-timeout)",
                                 close=True)
                return None
            if message["type"] != "http.request":
                return None  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                await self._too_large(send)
                return None
            if not self._hold(held, size):
                await self._busy(send)
                return None
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _run_until_disconnect(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        """Run the app on `body`; cancel it if the client disconnects first."""
        gone = asyncio.Event()
        body_sent = False

        async def replay() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def run() -> None:
            await self.app(scope, replay, send)

        app = asyncio.create_task(run())

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            app.cancel()

        watcher = asyncio.create_task(watch())
        try:
            await app
        except asyncio.CancelledError:
            if not gone.is_set():
                raise  # the server is stopping, not the client
        finally:
            watcher.cancel()

    async def _too_large(self, send: Send) -> None:
        message = f"request body is larger than {self.max_body_bytes} bytes; send fewer or smaller prompt items"
        await send_error(send, 413, "PAYLOAD_TOO_LARGE", message, close=True)

    async def _busy(self, send: Send) -> None:
        message = (f"the server holds {self.max_inflight_body_bytes} bytes of request bodies "
                   "(--max-inflight-body-bytes); retry soon")
        await send_error(send, 503, "SERVER_BUSY", message, close=True)


LOG_BURST, LOG_PERIOD = 10, 10.0
"""Log records of one message template let through per period (seconds); the rest are counted, not written."""


class RateLimitFilter(logging.Filter):
    """Lets at most `burst` records of one message template through per `period` seconds; says how many it held back."""

    def __init__(self, burst: int = LOG_BURST, period: float = LOG_PERIOD) -> None:
        super().__init__()
        self.burst, self.period = burst, period
        self._windows: dict[tuple[str, Any], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = time.monotonic()
        started, count = self._windows.get(key, (now, 0))
        if now - started >= self.period:
            if count > self.burst:
                record.msg = f"{record.msg} [{count - self.burst} more like this in the last {now - started:.0f} s]"
            started, count = now, 0
        self._windows[key] = (started, count + 1)
        if len(self._windows) > 1000:
            self._windows.clear()
        return count < self.burst


def quiet_logs(burst: int = LOG_BURST, period: float = LOG_PERIOD) -> None:
    """Rate-limit every handler of the root logger (uvicorn's and asyncio's records end there)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(RateLimitFilter(burst, period))

