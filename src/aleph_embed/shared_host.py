"""Where a client or framework class given no host and no `AA_HOST` goes: the CLI's shared local server
(`aleph_embed.server.shared`), so Python and the CLI share one setup. No torch imported here."""

from __future__ import annotations

import sys
from typing import TypeVar

from .config import ENV_HOST, NO_HOST_MESSAGE, resolve_host, server_idle_timeout
from .errors import ConfigurationError, installed

SERVER_MODULES = ("torch", "transformers", "fastapi", "uvicorn")
"""What the local server needs (the extra `[server]`)."""
T = TypeVar("T")


def shared_endpoint() -> tuple[str, str, str]:
    """(host, token, model) of the CLI's shared local server (`aleph_embed.server.shared`: started if it does not
    answer, its identity proved before its token is used): where the clients and framework classes go when given no
    host and no `AA_HOST`. `ConfigurationError` where there is none: the extra `[server]` missing, or
    `AA_SERVER_IDLE=0`."""
    idle = server_idle_timeout()
    if not idle or not all(installed(module) for module in SERVER_MODULES):
        raise ConfigurationError(NO_HOST_MESSAGE)
    from .server.shared import shared_server

    server = shared_server(idle, on_start=lambda: print(
        f"aleph-embed: no host or {ENV_HOST}; starting the local /embed server (it stays up {idle / 60:g} "
        "min after the last request) ...", file=sys.stderr,
    ))
    return server.host, server.token, server.model


def host_or_shared(host: str | None, token: T) -> tuple[str, T | str, str | None]:
    """(host, token, None) for a given host (else `AA_HOST`), else (host, token, model) of `shared_endpoint()`."""
    resolved = resolve_host(host)
    if resolved:
        return resolved, token, None
    return shared_endpoint()
