"""Ingest benchmark by endpoint: 3,000 standard-library docstring paragraphs into a real Qdrant server through
`/embed` (one call per document) and through `/batch_semantic_embed` (100 documents per call), against the stand-in
API that answers every call after a fixed delay (a remote API with spare capacity: latency-bound).

Both runs use the same QdrantIngestor settings and concurrency, back to back, each into a fresh collection; prints
the calls the stand-in answered and the wall time of each, the ratios, and the load average (the machine is shared).

    python -m bench.bench_semantic_ingest [--documents 3000] [--concurrency 16] [--delay 0.05]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from qdrant_client import QdrantClient

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed_qdrant import QdrantIngestor
from bench._arguments import ingest_arguments
from tests.support.corpora import BENCH_MODULES, stdlib_paragraphs
from tests.support.qdrant_server import QdrantServer
from tests.support.standin import StandInServer


def ingest(standin: StandInServer, qdrant_url: str, endpoint: str, documents: list[dict], concurrency: int) -> tuple[int, float]:
    """The calls and the seconds of one ingest through `endpoint` into a fresh collection."""
    settings = EmbeddingSettings(model=standin.model, endpoint=endpoint)  # type: ignore[arg-type]
    qdrant = QdrantClient(url=qdrant_url, check_compatibility=False)
    before = sum(standin.calls().values())
    with EmbedClient(standin.host, None, concurrency=concurrency) as client:
        ingestor = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection=f"bench-{endpoint}")
        started = time.perf_counter()
        report = ingestor.ingest(documents)
        seconds = time.perf_counter() - started
    assert report.ingested == len(documents) and qdrant.count(f"bench-{endpoint}").count == report.points, report
    qdrant.close()
    calls = sum(standin.calls().values()) - before
    print(f"{endpoint:<9} {calls:5d} calls for {report.points} chunks  {seconds:6.2f} s  "
          f"{len(documents) / seconds:7.1f} docs/s", flush=True)
    return calls, seconds


def main() -> None:
    args = ingest_arguments("QdrantIngestor through /embed vs /batch_semantic_embed")
    documents = stdlib_paragraphs(args.documents, BENCH_MODULES)
    with tempfile.TemporaryDirectory() as directory, StandInServer(delay=args.delay) as standin:
        qdrant_server = QdrantServer(Path(directory)).start()
        try:
            print(f"{len(documents)} documents, stand-in at {args.delay * 1000:.0f} ms per call, concurrency "
                  f"{args.concurrency}, Qdrant server", flush=True)
            embed_calls, embed_seconds = ingest(standin, qdrant_server.url, "embed", documents, args.concurrency)
            batch_calls, batch_seconds = ingest(standin, qdrant_server.url, "semantic", documents, args.concurrency)
        finally:
            qdrant_server.stop()
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"/batch_semantic_embed vs /embed: {embed_calls / batch_calls:.0f}x fewer calls, "
          f"{embed_seconds / batch_seconds:.2f}x faster (load average {load})")


if __name__ == "__main__":
    main()
