"""QdrantIngestor end to end: real local /embed server, real Qdrant (embedded mode and server binary)."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbeddingSettings
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import (
    CollectionMismatchError, IngestConfigurationError, QdrantIngestor, VectorSpec, point_id, recorded_settings,
)
from aleph_embed.ingest.documents import SourceDocument

from ..support.corpora import stdlib_paragraphs
from ..support.qdrant_server import QdrantServer

DOCUMENTS = stdlib_paragraphs(48)


def stored(qdrant: QdrantClient, collection: str) -> dict[str, models.Record]:
    records, _ = qdrant.scroll(collection, limit=10_000, with_payload=True, with_vectors=True)
    return {str(record.id): record for record in records}


def test_ingest_stores_direct_embed_vectors_and_reruns_without_embed_calls(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    ingestor = QdrantIngestor(
        embedder=embedder, settings=settings, qdrant=qdrant, collection=collection, batch_size=16, chunking=False
    )

    report = ingestor.ingest(DOCUMENTS)

    assert (report.ingested, report.skipped, report.failed) == (len(DOCUMENTS), 0, [])
    assert embedder.usage.requests == len(DOCUMENTS)
    points = stored(qdrant, collection)
    assert len(points) == qdrant.count(collection).count == len(DOCUMENTS)
    direct = embedder.embed_texts([d["text"] for d in DOCUMENTS], settings)
    for document, vector in zip(DOCUMENTS, direct):
        point = points[point_id(SourceDocument(document["text"], document["id"]))]
        np.testing.assert_allclose(point.vector, vector, atol=1e-5)
        assert point.payload["page_content"] == document["text"]
        assert point.payload["metadata"] == document["metadata"]
    info = qdrant.get_collection(collection).config.params.vectors
    assert (info.size, info.distance) == (len(direct[0]), models.Distance.COSINE)  # what the frameworks expect
    recorded = recorded_settings(qdrant, collection)
    assert recorded is not None and recorded.embedding_settings() == settings
    assert (recorded.layout, recorded.host_kind, recorded.chunking) == ("both", "local", None)

    calls = embedder.usage.requests
    again = ingestor.ingest(DOCUMENTS)
    assert (again.ingested, again.skipped, again.documents) == (0, len(DOCUMENTS), len(DOCUMENTS))
    assert embedder.usage.requests == calls  # nothing re-embedded
    assert qdrant.count(collection).count == len(DOCUMENTS)


def test_upserts_over_grpc_in_byte_bounded_batches_and_only_the_last_one_waits(
    qdrant_server: QdrantServer, collection: str, embedder: EmbedClient, settings: EmbeddingSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    qdrant = QdrantClient(url=qdrant_server.url, prefer_grpc=True, grpc_port=qdrant_server.grpc_port,
                          check_compatibility=False)
    upserts: list[tuple[int, bool]] = []
    upsert = qdrant.upsert
    monkeypatch.setattr(qdrant, "upsert", lambda name, points, wait: upserts.append((len(points), wait)) or
                        upsert(name, points=points, wait=wait))
    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection,
                              batch_bytes=40_000)  # a point of 384 floats and a paragraph: ~10 kB

    report = ingestor.ingest(DOCUMENTS)

    assert (report.ingested, report.failed) == (len(DOCUMENTS), [])
    assert qdrant.count(collection, exact=True).count == report.points  # applied when the run returns
    assert sum(size for size, _ in upserts) == report.points and max(size for size, _ in upserts) <= 4
    assert [wait for _, wait in upserts] == [False] * (len(upserts) - 1) + [True]
    assert ingestor.ingest(DOCUMENTS).skipped == len(DOCUMENTS)
    qdrant.close()


def test_changed_documents_are_reembedded_and_only_they(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection)
    ingestor.ingest(DOCUMENTS)
    changed = [dict(d) for d in DOCUMENTS]
    changed[0]["text"] = "A brand new paragraph about heaps and priority queues."
    changed[5]["text"] = changed[5]["text"] + " (revised)"
    changed[9]["metadata"] = {"module": "moved"}

    report = ingestor.ingest(changed)

    chunker = embedder.chunker(settings.model)
    assert (report.ingested, report.skipped) == (3, len(DOCUMENTS) - 3)
    assert report.embed_calls == report.points == sum(len(chunker.split(changed[i]["text"])) for i in (0, 5, 9))
    points = stored(qdrant, collection)
    assert len(points) == sum(len(chunker.split(document["text"])) for document in changed)
    assert {p.payload["document_id"] for p in points.values()} == {d["id"] for d in DOCUMENTS}
    first = points[point_id(SourceDocument(changed[0]["text"], changed[0]["id"]))]
    assert first.payload["page_content"] == changed[0]["text"]
    (expected,) = embedder.embed_texts([changed[0]["text"]], settings)
    np.testing.assert_allclose(first.vector, expected, atol=1e-5)


def test_named_vectors_come_from_one_embed_call_per_document(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    vectors = {"last": VectorSpec(-1, "mean"), "early": VectorSpec(2, "max")}
    documents = DOCUMENTS[:12]
    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection, vectors=vectors)

    ingestor.ingest(documents)

    assert embedder.usage.requests == len(documents)
    assert set(qdrant.get_collection(collection).config.params.vectors) == {"last", "early"}
    points = stored(qdrant, collection)
    for document in documents:
        direct = embedder.embed(settings.request(document["text"], layers=[-1, 2], pooling=["mean", "max"]))
        point = points[point_id(SourceDocument(document["text"], document["id"]))]
        np.testing.assert_allclose(point.vector["last"], direct.vector(-1, "mean"), atol=1e-5)
        np.testing.assert_allclose(point.vector["early"], direct.vector(2, "max"), atol=1e-5)
        assert not np.allclose(point.vector["last"], point.vector["early"])


def test_a_collection_of_another_size_is_refused_with_what_to_change(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    qdrant.create_collection(collection, vectors_config=models.VectorParams(size=7, distance=models.Distance.COSINE))
    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection)

    expected = r"size 7, but model .* gives 384: use another collection"
    with pytest.raises(IngestConfigurationError, match=expected) as raised:
        ingestor.ingest(DOCUMENTS[:4])
    assert isinstance(raised.value.__cause__, CollectionMismatchError)
    assert (raised.value.report.ingested, raised.value.report.not_reached) == (0, 4)
    assert qdrant.count(collection).count == 0


def test_documents_without_text_are_reported_and_the_rest_stored(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    documents = [*DOCUMENTS[:6], {"id": "blank", "text": "   "}, "a plain string without an id"]
    report = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection).ingest(documents)

    assert [(f.id, f.reason.split(" (")[0]) for f in report.failed] == [("blank", "empty text")]
    assert report.ingested == 7
    assert point_id(SourceDocument("a plain string without an id")) in stored(qdrant, collection)


def test_metadata_with_integer_keys_is_stored_under_the_id_of_the_document_as_given(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    document = SourceDocument("a page numbered by integer keys", metadata={2: "two", 10: "ten"})  # type: ignore[dict-item]
    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection)

    report = ingestor.ingest([document])

    assert (report.ingested, report.failed) == (1, [])
    metadata = stored(qdrant, collection)[point_id(document)].payload["metadata"]
    assert (metadata["2"], metadata["10"]) == ("two", "ten")
    assert ingestor.ingest([document]).skipped == 1  # the same document again: unchanged


async def test_async_clients_share_the_pipeline(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, settings: EmbeddingSettings
) -> None:
    async with AsyncEmbedClient(embed_server.host, embed_server.token, concurrency=8) as embedder:
        qdrant = AsyncQdrantClient(url=qdrant_server.url, check_compatibility=False)
        ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection, batch_size=8)
        first = await ingestor.aingest(DOCUMENTS[:20])
        second = await ingestor.aingest(DOCUMENTS[:24])
        assert (first.ingested, second.ingested, second.skipped) == (20, 4, 20)
        assert first.embed_calls + second.embed_calls == 24
        assert (await qdrant.count(collection)).count == 24
        await qdrant.close()


def test_sync_ingest_inside_an_event_loop_points_to_aingest(
    embedder: EmbedClient, settings: EmbeddingSettings, tmp_path: object
) -> None:
    import asyncio

    ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=QdrantClient(":memory:"), collection="c")

    async def call_sync() -> None:
        ingestor.ingest(["text"])

    with pytest.raises(ValueError, match="await ingestor.aingest"):
        asyncio.run(call_sync())


def test_documents_in_flight_stay_within_the_window(
    embed_server: LocalServer, collection: str, settings: EmbeddingSettings
) -> None:
    def stream() -> object:
        for index in range(240):
            yield {"id": str(index), "text": f"Paragraph number {index} of a long stream of documents."}

    ahead: list[int] = []
    with EmbedClient(embed_server.host, embed_server.token, concurrency=4) as embedder:
        ingestor = QdrantIngestor(
            embedder=embedder, settings=settings, qdrant=QdrantClient(":memory:"), collection=collection,
            batch_size=16, upsert_parallelism=1,
        )
        report = ingestor.ingest(stream(), on_progress=lambda r: ahead.append(r.embed_calls - r.ingested))

    assert report.ingested == 240
    window = 4 + 16 * (1 + 1)  # embed calls in flight + points waiting for or in an upsert
    assert max(ahead) <= window
