"""Session-wide fixtures shared by every test area: one local /embed server for the whole run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aleph_embed import EmbedClient
from aleph_embed.server.launcher import LocalServer
from aleph_embed.server.shared import stop_shared_server

from .support.cross_encoder import build_cross_encoder
from .support.qdrant_server import QdrantServer


@pytest.fixture(scope="session", autouse=True)
def cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user cache directory ($XDG_CACHE_HOME) of the whole run, servers included: tokenizers fetched from hosts
    and the local servers' ONNX exports land here, not in ~/.cache (each model is exported once per run)."""
    path = tmp_path_factory.mktemp("cache-home")
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(path)
    yield path
    if previous is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def data_home(tmp_path_factory: pytest.TempPathFactory, cache_home: Path) -> Iterator[Path]:
    """The user data directory of the tests (the CLI's default embedded store); the user cache directory holds the
    CLI's shared local server's state file, so the server a test may start is stopped at the end."""
    yield tmp_path_factory.mktemp("data-home")
    stop_shared_server(cache_home / "aleph-embed")


@pytest.fixture(autouse=True)
def isolated_data(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)


@pytest.fixture(scope="session")
def embed_server() -> Iterator[LocalServer]:
    """The local /embed server with the default model, started once per test session."""
    with LocalServer() as server:
        yield server


@pytest.fixture(scope="session")
def embed_client(embed_server: LocalServer) -> Iterator[EmbedClient]:
    """An EmbedClient on `embed_server`."""
    with EmbedClient(embed_server.host, embed_server.token) as client:
        yield client


@pytest.fixture(scope="session")
def qdrant_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QdrantServer]:
    """One real Qdrant server binary for the session (the ingest's sink tests and the Qdrant tests)."""
    server = QdrantServer(tmp_path_factory.mktemp("qdrant-server")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test cross-encoder (`tests.support.cross_encoder`), written once for the whole run."""
    return build_cross_encoder(tmp_path_factory.mktemp("cross-encoder"))
