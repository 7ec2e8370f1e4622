"""One Ray instance for the Ray tests (2 CPUs, no dashboard, a small object store), and their shared parts; the
Qdrant fixtures are the Qdrant tests' own."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from aleph_embed import EmbedClient
from aleph_embed.server.launcher import LocalServer

from ..qdrant.conftest import collection, settings  # noqa: F401  (shared fixtures)

ray = pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """The session's Ray instance (the two-node test, last, stops it and starts its own cluster)."""
    start_local()
    yield
    ray.shutdown()


def start_local() -> None:
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)


def client_factory(host: str, token: str | None, concurrency: int = 8) -> functools.partial[EmbedClient]:
    """An actor's client (picklable)."""
    return functools.partial(EmbedClient, host, token, concurrency=concurrency)


def local_client(server: LocalServer) -> functools.partial[EmbedClient]:
    return client_factory(server.host, server.token)
