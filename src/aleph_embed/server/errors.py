"""The local server's errors: one type answered over HTTP (`ServerError`, by the app's one handler) and the error of
a model that cannot be loaded (`ModelLoadError`, before the server listens)."""

from __future__ import annotations

from ..errors import ConfigurationError


class ServerError(Exception):
    """A request the server refuses, answered as `{"error": message, "code": code}` with `status_code`; by default
    400 PAYLOAD_ERROR (the request cannot be answered as sent; the message says what to do instead)."""

    def __init__(self, message: str, status_code: int = 400, code: str = "PAYLOAD_ERROR") -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status_code, code, message


class ModelLoadError(ConfigurationError):
    """A `--model NAME=PATH` cannot be served; the message says which and why."""
