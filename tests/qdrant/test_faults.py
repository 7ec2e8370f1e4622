"""Fault injection: a quarter of the /embed calls fail (503 QUEUE_FULL, 429 Retry-After, connection reset),
and every document still ends up in Qdrant exactly once."""

from __future__ import annotations

import pytest
from qdrant_client import QdrantClient

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import QdrantIngestor

from ..support.corpora import stdlib_paragraphs
from ..support.faulty_proxy import FAULTS, FaultyProxy
from ..support.qdrant_server import QdrantServer, assert_documents_once

DOCUMENTS = stdlib_paragraphs(120)


@pytest.mark.slow
def test_every_document_lands_exactly_once_through_a_failing_proxy(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, settings: EmbeddingSettings
) -> None:
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    with FaultyProxy(embed_server.host) as proxy, EmbedClient(proxy.host, concurrency=8) as embedder:
        ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection, batch_size=16)
        report = ingestor.ingest(DOCUMENTS)

    injected = sum(proxy.faults.values())
    assert set(proxy.faults) == set(FAULTS)
    assert len(DOCUMENTS) / 8 < injected < len(DOCUMENTS) / 2.5  # about a quarter of the calls
    assert embedder.usage.retries == injected
    assert (report.ingested, report.failed) == (len(DOCUMENTS), [])
    assert_documents_once(qdrant, collection, [d["id"] for d in DOCUMENTS])


@pytest.mark.slow
def test_transient_qdrant_failures_are_retried_and_nothing_is_doubled(
    embedder: EmbedClient, qdrant_server: QdrantServer, collection: str, settings: EmbeddingSettings
) -> None:
    points_path = f"/collections/{collection}/points"
    with FaultyProxy(qdrant_server.url, paths=(points_path,)) as proxy:
        qdrant = QdrantClient(url=proxy.host, check_compatibility=False)
        ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection, batch_size=4)
        report = ingestor.ingest(DOCUMENTS)

    assert sum(proxy.faults.values()) > 0
    assert (report.ingested, report.failed) == (len(DOCUMENTS), [])
    direct = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    assert_documents_once(direct, collection, [d["id"] for d in DOCUMENTS])
