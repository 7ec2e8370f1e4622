"""Load-aware concurrency in the ingest: against a deployment with room for a few calls (503 `QUEUE_FULL` beyond),
`aleph-embed ingest --concurrency 32` narrows its calls in flight, stores every document once and is rejected far
less often than with adaptation off (`--no-adapt-concurrency`, the fixed 32 of before), both measured here."""

from __future__ import annotations

import re
from contextlib import closing
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed.cli import main

from ..support.corpora import write_jsonl
from ..support.qdrant_server import assert_documents_once, stored_chunks
from ..support.standin import StandInServer

CAPACITY = 8
"""The stand-in answers 503 QUEUE_FULL whenever this many calls are already in flight."""
DOCUMENTS = [{"id": f"doc-{number}", "text": f"document {number} on topic {number % 17}"} for number in range(2000)]


def ingest(corpus: Path, store: Path, collection: str, adapt: bool) -> tuple[int, dict[str, int]]:
    """One CLI ingest against a fresh stand-in with room for `CAPACITY`: its exit code and the stand-in's counts."""
    with StandInServer(delay=0.01, dimension=8, capacity=CAPACITY) as standin:
        code = main(["ingest", str(corpus), "--collection", collection, "--qdrant-path", str(store), "--host",
                     standin.host, "--model", standin.model, "--no-chunking", "--concurrency", "32",
                     "--adapt-concurrency" if adapt else "--no-adapt-concurrency"])
        return code, standin.calls()


@pytest.mark.slow
def test_an_ingest_against_a_full_server_narrows_its_calls_and_stores_every_document_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, store = write_jsonl(tmp_path / "corpus.jsonl", DOCUMENTS), tmp_path / "qdrant"
    fixed_code, fixed = ingest(corpus, store, "fixed", adapt=False)
    fixed_out = capsys.readouterr().out
    adaptive_code, adaptive = ingest(corpus, store, "adaptive", adapt=True)
    adaptive_out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\n2000 documents, --concurrency 32, room for {CAPACITY}: rejected {fixed.get('rejected', 0)} fixed, "
              f"{adaptive.get('rejected', 0)} adaptive\n  {fixed_out.strip()}\n  {adaptive_out.strip()}")
    assert adaptive_code == 0 and "2000 ingested" in adaptive_out
    assert adaptive["/embed"] == len(DOCUMENTS)  # one accepted call per document, none embedded twice
    with closing(QdrantClient(path=str(store))) as qdrant:
        assert_documents_once(qdrant, "adaptive", [document["id"] for document in DOCUMENTS])
        assert all(chunks == [0] for chunks in stored_chunks(qdrant, "fixed").values())  # stored at most once
    assert fixed_code in (0, 1) and fixed["/embed"] <= len(DOCUMENTS)  # fixed: a document may run out of retries
    assert adaptive["rejected"] * 3 < fixed["rejected"]
    full = re.search(r"the server was full (\d+) times, calls in flight went down to (\d+)", adaptive_out)
    assert full is not None, adaptive_out
    assert int(full.group(1)) == adaptive["rejected"] and 1 <= int(full.group(2)) <= CAPACITY
    assert "calls in flight went down" not in fixed_out and f"full {fixed['rejected']} times" in fixed_out


async def test_an_async_ingest_narrows_its_calls_too() -> None:
    """The same window with `AsyncEmbedClient` (its calls awaited, not on threads): the report counts every 503."""
    from aleph_embed import AsyncEmbedClient, EmbeddingSettings
    from aleph_embed.ingest import Ingestor, MemorySink

    sink = MemorySink()
    with StandInServer(delay=0.01, dimension=8, capacity=CAPACITY) as standin:
        async with AsyncEmbedClient(standin.host, None, concurrency=32) as client:
            ingestor = Ingestor(embedder=client, settings=EmbeddingSettings(model=standin.model), sink=sink,
                                chunking=False)
            report = await ingestor.aingest(DOCUMENTS[:400])
        calls = standin.calls()
    assert report.ingested == 400 and not report.failed and len(sink.points) == 400
    assert calls["/embed"] == 400 and report.overloads == calls.get("rejected", 0) == client.usage.overloads
    assert report.lowest_concurrency is not None and 1 <= report.lowest_concurrency <= CAPACITY
