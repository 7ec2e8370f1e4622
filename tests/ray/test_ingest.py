"""The ingest on Ray Data against the local /embed server and the Qdrant server binary: the same points (dense and
BM25 sparse vectors) as the single-process ingest, every document exactly once through API faults and a killed actor,
no call for unchanged documents."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import ray.data
from qdrant_client import QdrantClient

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.ingest.bm25 import BM25Settings
from aleph_embed.ingest.documents import FileReader
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import QdrantIngestor, recorded_settings
from aleph_embed_ray import EmbedDocuments, QdrantTarget, SharedBudget, VectorDatasink, document_rows, ingest, read_files

from ..support.corpora import stdlib_paragraphs
from ..support.faulty_proxy import FaultyProxy
from ..support.qdrant_server import QdrantServer, assert_documents_once
from .conftest import client_factory, local_client

DATA = Path(__file__).parents[1] / "data"
# tests/data/docs without its largest files (a quarter of its text: each ingest embeds it on 2 shared cores)
PATHS = [DATA / "docs" / "flask" / "testing.rst", DATA / "docs" / "idle" / "README.txt", DATA / "docs" / "npm"]
BIG_FILES = ["config.md", "package-json.md", "npm-install.md", "npm-audit.md", "scripts.md", "dependency-selectors.md",
             "package-lock-json.md"]
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]


def points_of(qdrant: QdrantClient, collection: str) -> dict[str, Any]:
    records, _ = qdrant.scroll(collection, limit=10_000, with_payload=True, with_vectors=True)
    return {str(record.id): record for record in records}


def test_ray_ingest_stores_the_single_process_points_and_skips_them_unchanged(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, settings: EmbeddingSettings
) -> None:
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    reader = FileReader(DATA, exclude=BIG_FILES)
    with EmbedClient(embed_server.host, embed_server.token) as embedder:
        single = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=f"{collection}-single",
                                chunk_tokens=128, sparse=BM25Settings(),
                                # one upsert at a time: qdrant-client's ModelEmbedder (BM25 documents for the server)
                                # is not thread-safe (IndexError in _next_embed with 2 in flight; reported)
                                upsert_parallelism=1).ingest(reader.read(PATHS))
    target = QdrantTarget(qdrant_server.url, collection)
    options: dict[str, Any] = dict(client=local_client(embed_server), sink=target, settings=settings, chunk_tokens=128,
                                   sparse=BM25Settings(), actors=2, actor_cpus=0.5, documents_per_block=4)

    report, unreadable, *_ = ingest(read_files(reader, PATHS, files_per_task=4), **options)

    assert (report.documents, report.ingested, report.failed, unreadable) == (single.documents, single.ingested, [], [])
    assert report.points == single.points > single.documents  # chunked
    expected, stored = points_of(qdrant, f"{collection}-single"), points_of(qdrant, collection)
    assert sorted(stored) == sorted(expected)
    for point_id, record in stored.items():
        assert record.payload == expected[point_id].payload
        got, want = record.vector, expected[point_id].vector  # {"": the dense vector, "bm25": the sparse one}
        assert got[""] == pytest.approx(want[""], abs=1e-6)
        assert (got["bm25"].indices, got["bm25"].values) == (want["bm25"].indices, want["bm25"].values)
    assert recorded_settings(qdrant, collection) == recorded_settings(qdrant, f"{collection}-single") is not None

    again, *_ = ingest(read_files(reader, PATHS), **options)
    assert (again.embed_calls, again.skipped, again.ingested, again.points) == (0, single.documents, 0, 0)


def test_every_document_lands_once_through_api_faults_and_a_killed_actor(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, settings: EmbeddingSettings,
    tmp_path: Path,
) -> None:
    documents = stdlib_paragraphs(120)
    marker = tmp_path / "killed"

    class KilledOnce(EmbedDocuments):
        """Exits its process while its second block's calls are in flight, once in the run."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.blocks = 0

        def __call__(self, batch: pa.Table) -> pa.Table:
            self.blocks += 1
            if self.blocks == 2 and not marker.exists():
                marker.touch()
                threading.Timer(0.2, os._exit, (1,)).start()
            return super().__call__(batch)

    target = QdrantTarget(qdrant_server.url, collection)
    with FaultyProxy(embed_server.host) as proxy:
        budget = SharedBudget.remote(8)
        points = ray.data.from_arrow(document_rows(documents_as_sources(documents))).map_batches(
            KilledOnce, batch_format="pyarrow", batch_size=10, concurrency=2, num_cpus=0.5,
            fn_constructor_kwargs=dict(client=client_factory(proxy.host, None), sink=target, settings=settings,
                                       budget=budget, concurrency=8),
        )
        datasink = VectorDatasink(target, batch_size=16)
        points.write_datasink(datasink)

    assert marker.exists()
    injected = sum(proxy.faults.values())
    assert injected > len(documents) / 8  # about a quarter of the calls failed once
    report = datasink.report
    assert report is not None
    assert (report.documents, report.ingested, report.failed) == (len(documents), len(documents), [])
    assert 0 < datasink.usage["retries"] <= injected  # the killed actor's block's retries are not counted
    assert 0 < report.overloads <= injected  # 503 QUEUE_FULL and 429 seen through the shared window
    assert_documents_once(QdrantClient(url=qdrant_server.url, check_compatibility=False), collection,
                          [document["id"] for document in documents])


def documents_as_sources(documents: list[dict[str, Any]]) -> list[Any]:
    from aleph_embed.ingest.documents import to_source_document

    return [to_source_document(document) for document in documents]
