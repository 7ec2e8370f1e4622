"""Real Qdrant for the ingest tests: embedded local mode, a server binary (`qdrant_server`, shared by the session in
tests/conftest.py), and a two-node cluster."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.server.launcher import LocalServer

from ..support.qdrant_server import QdrantServer, start_cluster

_names = itertools.count()


@pytest.fixture(scope="session")
def qdrant_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[QdrantServer]]:
    """Two real Qdrant peers in one cluster."""
    peers = start_cluster(tmp_path_factory.mktemp("qdrant-cluster"))
    yield peers
    for peer in reversed(peers):
        peer.stop()


@pytest.fixture(params=["embedded", "server"])
def qdrant(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QdrantClient]:
    """A Qdrant client on the embedded local mode (a store in tmp_path) and on the real server."""
    if request.param == "embedded":
        client = QdrantClient(path=str(tmp_path / "qdrant"))
    else:
        server: QdrantServer = request.getfixturevalue("qdrant_server")
        client = QdrantClient(url=server.url, check_compatibility=False)
    yield client
    client.close()


@pytest.fixture
def collection() -> str:
    """A collection name no other test uses (the server is shared by the session)."""
    return f"test-{next(_names)}"


@pytest.fixture(scope="session")
def settings(embed_server: LocalServer) -> EmbeddingSettings:
    return EmbeddingSettings(model=embed_server.default_model)


@pytest.fixture
def embedder(embed_server: LocalServer) -> Iterator[EmbedClient]:
    """A fresh client per test, so `usage` counts this test's /embed calls only."""
    with EmbedClient(embed_server.host, embed_server.token, concurrency=8) as client:
        yield client
