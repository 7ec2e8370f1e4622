"""Stopping the server after a time without requests (`ServerConfig.idle_timeout`), as if it got SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time

from starlette.types import ASGIApp, Receive, Scope, Send


class IdleExit:
    """ASGI middleware noting the last request; a watcher thread sends this process SIGTERM (uvicorn's graceful
    shutdown) once no request has run for `seconds`."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds
        self.running = 0
        self.last = time.monotonic()
        threading.Thread(target=self._watch, name="idle-exit", daemon=True).start()

    @classmethod
    def wrap(cls, app: ASGIApp, seconds: float | None) -> ASGIApp:
        return app if seconds is None else cls(app, seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running -= 1
            self.last = time.monotonic()

    def _watch(self) -> None:
        while True:
            time.sleep(min(5.0, self.seconds / 4))
            if not self.running and time.monotonic() - self.last >= self.seconds:
                os.kill(os.getpid(), signal.SIGTERM)
                return
