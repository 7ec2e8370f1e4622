"""Where calls go when no host is configured: the configured host, or a local server started for the duration."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ._config import ENV_HOST, NO_MODEL_MESSAGE, resolve_host, resolve_model, resolve_token
from .errors import ConfigurationError, MissingExtraError

SERVER_MODULES = ("torch", "transformers", "fastapi", "uvicorn")


@contextmanager
def embedding_endpoint(
    host: str | None = None, token: str | None = None, model: str | None = None, *, model_option: str = "model=..."
) -> Iterator[tuple[str, str | None, str]]:
    """Yield (host, token, model), each from the argument or the environment. With no host and no `AA_HOST`, start
    the local server (extra `[server]`) for the duration and use its default model unless one is given."""
    host, token, model = resolve_host(host), resolve_token(token), resolve_model(model)
    if host:
        if not model:
            raise ConfigurationError(NO_MODEL_MESSAGE.format(argument=model_option))
        yield host, token, model
        return
    MissingExtraError.check(f"the local /embed server (used when no host and no {ENV_HOST} is given)", "server",
                            *SERVER_MODULES)
    from .server.launcher import LocalServer

    print(f"aleph-embed: no host or {ENV_HOST}; starting the local /embed server ...", file=sys.stderr)
    with LocalServer() as server:
        print(f"aleph-embed: local server at {server.host} serving {server.default_model}", file=sys.stderr)
        yield server.host, server.token, model or server.default_model
