"""Ray ingest benchmark: the ingest on Ray Data with 1, 2 and 4 embedding actors sharing the same total calls in
flight, and the single-process ingest in the same run, against the stand-in API (a fixed delay per call:
latency-bound, like a remote API with spare capacity) into a real Qdrant server.

On one machine the actors share the same calls in flight, so Ray can only add overhead (actor start-up, process
hops, Arrow rows, per-block runs of the engine): the ratios show that overhead (each Ray run starts its actors: a
fixed cost that a long run amortises). Across N machines the budget stays the API's: more
actors add chunking/reading CPU and client capacity, not calls in flight.

    python -m bench.bench_ray [--documents 5000] [--concurrency 16] [--delay 0.05]
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import ray  # noqa: E402
import ray.data  # noqa: E402
from qdrant_client import QdrantClient  # noqa: E402

from aleph_embed import EmbedClient, EmbeddingSettings  # noqa: E402
from aleph_embed.ingest.documents import to_source_document  # noqa: E402
from aleph_embed_qdrant import QdrantIngestor  # noqa: E402
from aleph_embed_ray import QdrantTarget, document_rows, ingest  # noqa: E402
from bench._arguments import ingest_arguments  # noqa: E402
from tests.support.corpora import BENCH_MODULES, stdlib_paragraphs  # noqa: E402
from tests.support.qdrant_server import QdrantServer  # noqa: E402
from tests.support.standin import StandInServer  # noqa: E402

ACTORS = (1, 2, 4)


def main() -> None:
    args = ingest_arguments("Ray ingest: 1, 2, 4 actors vs the single-process ingest, same calls in flight")
    documents = stdlib_paragraphs(args.documents, BENCH_MODULES)
    count = len(documents)
    ceiling = args.concurrency / args.delay
    print(f"{count} documents, {args.concurrency} calls in flight in all, stand-in delay {args.delay * 1000:.0f} ms "
          f"(ceiling {ceiling:.0f} calls/s); {os.cpu_count()} CPUs", flush=True)
    with StandInServer(args.delay) as standin, tempfile.TemporaryDirectory() as directory:
        qdrant_server = QdrantServer(Path(directory)).start()
        settings = EmbeddingSettings(model=standin.model)
        qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
        with EmbedClient(standin.host, None, concurrency=args.concurrency) as client:
            started = time.perf_counter()
            report = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection="single").ingest(documents)
            single = time.perf_counter() - started
        assert report.ingested == count, report.summary()
        print(f"{'single process (QdrantIngestor)':<34} {single:7.1f} s  {count / single:7.1f} docs/s  1.00x", flush=True)
        ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, object_store_memory=300 * 1024**2)
        try:
            rows = document_rows(to_source_document(document) for document in documents)
            client_factory = functools.partial(EmbedClient, standin.host, None, concurrency=args.concurrency)

            def run(actors: int, collection: str, limit: int | None = None) -> float:
                dataset = ray.data.from_arrow(rows.slice(0, limit)).repartition(max(4, actors * 2))
                started = time.perf_counter()
                report, *_ = ingest(dataset, client=client_factory, sink=QdrantTarget(qdrant_server.url, collection),
                                      settings=settings, concurrency=args.concurrency, actors=actors, actor_cpus=0.5,
                                      documents_per_block=max(64, count // (actors * 4)))
                assert report.ingested == (limit or count), report.summary()
                return time.perf_counter() - started

            run(4, "warm-up", 256)  # Ray's first dataset run: worker processes and imports
            for actors in ACTORS:
                seconds = run(actors, f"ray-{actors}")
                print(f"{f'Ray Data, {actors} actor(s)':<34} {seconds:7.1f} s  {count / seconds:7.1f} docs/s  "
                      f"{single / seconds:.2f}x", flush=True)
        finally:
            ray.shutdown()
            qdrant_server.stop()


if __name__ == "__main__":
    main()
