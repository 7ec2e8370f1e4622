"""`connect`: the Qdrant the CLI uses, for Python too (a Qdrant server at `QDRANT_URL`, else the CLI's embedded
store), so that a script, a framework's vector store and `aleph-embed` share one setup."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from aleph_embed import ConfigurationError
from aleph_embed.config import data_dir

if TYPE_CHECKING:  # qdrant-client loads when a client is made: the CLI starts without it
    from qdrant_client import QdrantClient

ENV_QDRANT_URL = "QDRANT_URL"
"""The Qdrant server of the CLI and `connect()` (its API key: `QDRANT_API_KEY`)."""
ENV_QDRANT_API_KEY = "QDRANT_API_KEY"
SERVER_HINT = (
    "for concurrent use run a Qdrant server (e.g. `docker run -p 6333:6333 qdrant/qdrant`) and set "
    f"{ENV_QDRANT_URL}=http://localhost:6333 (CLI: --qdrant-url)"
)


def default_store() -> Path:
    """The CLI's embedded store when no URL or path is given: in the user data directory, the same whatever the
    current directory."""
    return data_dir() / "qdrant"


def connect(
    url: str | None = None, path: str | Path | None = None, *, api_key: str | None = None, prefer_grpc: bool = False,
    grpc_port: int = 6334,
) -> QdrantClient:
    """A client on the Qdrant server at `url` (else `QDRANT_URL`; key `api_key` else `QDRANT_API_KEY`), checked to
    answer; else on the embedded store at `path` (default: the CLI's, `default_store()`). `ConfigurationError` when
    the server does not answer, or another process holds the embedded store (one process at a time can open it).
    The one place clients are made: no version check (a server of another minor version warned on every
    connection)."""
    from qdrant_client import QdrantClient

    url = url or os.environ.get(ENV_QDRANT_URL) or None
    if url:
        client = QdrantClient(url=url, api_key=api_key or os.environ.get(ENV_QDRANT_API_KEY),
                              check_compatibility=False, prefer_grpc=prefer_grpc, grpc_port=grpc_port)
        try:
            client.get_collections()
        except Exception as error:  # qdrant-client raises transport and HTTP errors of several kinds
            client.close()
            raise ConfigurationError(
                f"cannot use Qdrant at {url} ({error}); start it, fix the URL or {ENV_QDRANT_API_KEY}, or use an "
                "embedded store (CLI: --qdrant-path DIR)"
            ) from None
        return client
    store = Path(path) if path is not None else default_store()
    store.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(store))
    except RuntimeError:  # qdrant-client: "already accessed by another instance"
        raise ConfigurationError(
            f"the embedded Qdrant store in {store} is in use by another process (an ingest, a search or a Python "
            f"program: only one at a time can open it); wait for it, use another store (CLI: --qdrant-path DIR), or "
            f"{SERVER_HINT}"
        ) from None
