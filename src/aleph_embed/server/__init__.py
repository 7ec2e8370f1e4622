"""A local `/embed`-compatible server computing real embeddings with transformers (the `[server]` extra).

Run it with `aleph-embed serve [--bind 127.0.0.1] [--port 8000] [--model NAME=PATH ...] [--token T]` (or
`python -m aleph_embed.server`); without `--model` it serves all-MiniLM-L6-v2 as `DEFAULT_MODEL_NAME`. From Python, `LocalServer` starts one in a
child process on a free loopback port (`LocalServer(config=ServerConfig(...))` for the other settings):

    with LocalServer() as server, EmbedClient(server.host, server.token) as client:
        client.embed(EmbedRequest(model=server.default_model, prompt="hello"))

Importing this package is cheap: torch, transformers and FastAPI load only in the server process, httpx on first
use of `LocalServer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aleph_embed.lazy import lazy_names

if TYPE_CHECKING:
    from .config import ServerConfig
    from .launcher import DEFAULT_MODEL_NAME, LocalServer

_MODULES = {".launcher": ("DEFAULT_MODEL_NAME", "LocalServer"), ".config": ("ServerConfig",)}
"""The module of each name, imported on first use (`aleph-embed --help` reads `.cli` without httpx)."""


__getattr__, __dir__ = lazy_names(__name__, _MODULES, globals())


__all__ = ["DEFAULT_MODEL_NAME", "LocalServer", "ServerConfig"]
