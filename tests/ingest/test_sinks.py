"""The `VectorSink` contract, one scenario on every sink: `MemorySink`, Qdrant embedded and the Qdrant server binary;
and an `Ingestor` over a `MemorySink` through the local /embed server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.chunking import Chunk
from aleph_embed.ingest import (
    CollectionMismatchError,
    Ingestor,
    MemorySink,
    Point,
    SourceDocument,
    VectorSink,
    chunk_point_id,
    point_id,
    read_paths,
)
from aleph_embed.ingest.vectors import VectorPlan
from aleph_embed.server.launcher import LocalServer

DOCS = Path(__file__).resolve().parents[1] / "data" / "docs"
_names = itertools.count()


@pytest.fixture(params=["memory", "qdrant-embedded", "qdrant-server"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorSink]:
    if request.param == "memory":
        yield MemorySink()
        return
    from qdrant_client import QdrantClient

    from aleph_embed_qdrant import QdrantSink

    if request.param == "qdrant-embedded":
        client = QdrantClient(path=str(tmp_path / "qdrant"))
    else:
        client = QdrantClient(url=request.getfixturevalue("qdrant_server").url, check_compatibility=False)
    yield QdrantSink(client, f"contract-{next(_names)}", qdrant_deadline=10)
    client.close()


def test_a_sink_stores_finds_replaces_and_deletes_points(sink: VectorSink) -> None:
    plan = VectorPlan(EmbeddingSettings(model="m"), None)
    document = SourceDocument("# Intro\nsome text", "a.md", {"source": "a.md"}, "a.md")
    first = point_id(document)
    ids = [chunk_point_id(first, index) for index in range(3)]

    async def scenario() -> None:
        assert await sink.prepare(plan, None, "http://127.0.0.1:1") is False
        await sink.ensure(4)
        chunks = [Chunk(index, f"chunk {index}", index, index + 1, ("Intro",), 2) for index in range(3)]
        points = [Point(point, [1.0, 0.0, float(index), 0.5], sink.payload(point, document, "h1", chunk, 3))
                  for index, (point, chunk) in enumerate(zip(ids, chunks))]
        await sink.write(points[:2], last=False)
        await sink.write(points[2:], last=True)
        stored = await sink.stored([*ids, chunk_point_id(first, 7)])
        assert {point: (found.content_hash, found.chunks) for point, found in stored.items()} == {
            point: ("h1", 3) for point in ids}
        whole = Point(first, [0.0, 1.0, 0.0, 0.0], sink.payload(first, document, "h2", None, 1))
        await sink.write([whole], last=True)  # the same id: replaced
        await sink.delete(ids[1:])
        stored = await sink.stored(ids)
        assert {point: (found.content_hash, found.chunks) for point, found in stored.items()} == {first: ("h2", 1)}
        sink.close()
        # A later run: the store exists, and vectors of another size do not fit it.
        assert await sink.prepare(plan, None, "http://127.0.0.1:1") is True
        with pytest.raises(CollectionMismatchError):
            await sink.ensure(8)
        sink.close()

    asyncio.run(scenario())


def test_an_ingestor_over_a_memory_sink_stores_every_long_document_chunked(embed_server: LocalServer) -> None:
    settings = EmbeddingSettings(model=embed_server.default_model)
    files = sorted(path for path in DOCS.rglob("*") if path.is_file())
    sink = MemorySink()
    with EmbedClient(embed_server.host, embed_server.token, concurrency=4) as client:
        ingestor = Ingestor(embedder=client, settings=settings, sink=sink, chunk_tokens=128)
        report = ingestor.ingest(read_paths([str(DOCS)], root=DOCS))
        again = ingestor.ingest(read_paths([str(DOCS)], root=DOCS))
    assert report.failed == [] and report.not_reached == 0
    assert report.documents == report.ingested == len(files) and report.points == len(sink.points) > 2 * len(files)
    documents = {point.payload["document_id"] for point in sink.points.values()}
    assert documents == {str(path.relative_to(DOCS)) for path in files}
    chunked = [point for point in sink.points.values() if point.payload["chunks"] > 1]
    assert chunked and all(len(point.payload["text"]) < 4000 for point in chunked)
    sizes = {len(point.vector) for point in sink.points.values()}  # type: ignore[arg-type]
    assert len(sizes) == 1 and sizes.pop() > 100
    assert (again.skipped, again.ingested, again.embed_calls) == (len(files), 0, 0)  # unchanged: nothing re-embedded


def test_endpoint_auto_resolved_by_the_run_keeps_the_bm25_vectors(embed_server: LocalServer) -> None:
    from aleph_embed.ingest.bm25 import BM25Settings

    sink = MemorySink()
    settings = EmbeddingSettings(model=embed_server.default_model, endpoint="auto")
    with EmbedClient(embed_server.host, embed_server.token) as client:
        ingestor = Ingestor(embedder=client, settings=settings, sink=sink, sparse=BM25Settings())
        assert ingestor.ingest(["Plants turn light into sugar."]).ingested == 1
    (point,) = sink.points.values()
    assert ingestor.settings.endpoint != "auto" and point.sparse["bm25"].indices
