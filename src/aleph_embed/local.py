"""Where the CLI's /embed calls go: the configured host, or a local server started for the command."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import ConfigurationError


@contextmanager
def embedding_endpoint(host: str | None, token: str | None, model: str | None) -> Iterator[tuple[str, str | None, str]]:
    """Yield (host, token, model). With no host and no AA_HOST, start the local server for the duration."""
    host = host or os.environ.get("AA_HOST")
    model = model or os.environ.get("AA_MODEL")
    if host:
        if not model:
            raise ConfigurationError("no model: pass --model or set AA_MODEL (see GET /models_available)")
        yield host, token, model
        return
    try:
        from .server.launcher import LocalServer
    except ImportError as error:
        raise ConfigurationError(
            f"no --host and no AA_HOST, and the local server cannot start ({error}); "
            "install it with `pip install 'aleph-embed[server]'` or point --host at an /embed API"
        ) from None
    print("aleph-embed: no --host or AA_HOST; starting the local /embed server ...", file=sys.stderr)
    with LocalServer() as server:
        print(f"aleph-embed: local server at {server.host} serving {server.default_model}", file=sys.stderr)
        yield server.host, server.token, model or server.default_model
