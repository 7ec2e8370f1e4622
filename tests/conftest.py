"""Session-wide fixtures shared by every test area: one local /embed server for the whole run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aleph_embed import EmbedClient
from aleph_embed.server.launcher import LocalServer


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user cache directory of the tests (tokenizers fetched from hosts land here, not in ~/.cache)."""
    return tmp_path_factory.mktemp("cache-home")


@pytest.fixture(autouse=True)
def isolated_cache(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))


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
