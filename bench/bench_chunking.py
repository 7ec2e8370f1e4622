"""Chunking benchmark: the real documentation folder (tests/data/docs: Markdown, reST, plain text; 415 kB) cut into
chunks with the model's own tokenizer and embedded, against two /embed endpoints: the local server (compute-bound
on this CPU) and the stand-in API answering each call after a fixed delay (latency-bound, like a hosted API with
spare capacity). The embedding is `EmbedClient.embed_many` over every chunk (many calls in flight).

Chunk everything, then embed: the share of the run spent tokenizing and chunking (target under 10%). Against the
stand-in also chunk file by file while the previous files' chunks are in flight: what chunking adds to the run over
embedding alone (the floor, measured in the same run). Prints docs/s and chunks/s with the
machine's load average, and how many questions answered deep inside long files find their file through the chunks
versus through whole files cut to the context (the baseline, same run). Run from the repository root:

    python -m bench.bench_chunking [--files 22] [--delay 0.05] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # noqa: E402

from aleph_embed import Chunk, Chunker, EmbedClient, EmbeddingSettings  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from tests.support.corpora import DEEP_QUESTIONS, doc_files  # noqa: E402
from tests.support.standin import StandInServer  # noqa: E402


def chunk_all(chunker: Chunker, files: list[Path]) -> tuple[list[tuple[str, Chunk]], float]:
    """(file name, chunk) of every file, and the seconds it took."""
    started = time.perf_counter()
    chunks = [
        (path.name, chunk) for path in files for chunk in chunker.split(path.read_text(), kind=chunker.kind_of(path))
    ]
    return chunks, time.perf_counter() - started


def pipelined(client: EmbedClient, settings: EmbeddingSettings, chunker: Chunker, files: list[Path]) -> float:
    """Chunk file by file, each file's chunks sent as soon as it is cut; the wall time until all are embedded."""
    started = time.perf_counter()
    with ThreadPoolExecutor(client.concurrency) as pool:
        futures = [
            pool.submit(client.embed, settings.request(chunk.text))
            for path in files
            for chunk in chunker.split(path.read_text(), kind=chunker.kind_of(path))
        ]
        for future in futures:
            future.result()
    return time.perf_counter() - started


def run(
    label: str, client: EmbedClient, model: str, chunker: Chunker, files: list[Path], setup: float, pipeline: bool
) -> list[tuple[str, list[float]]]:
    """Chunk, then embed (and with `pipeline` chunk while embedding); returns (file name, vector) per chunk."""
    named, chunking = chunk_all(chunker, files)
    chunks = [chunk for _, chunk in named]
    settings = EmbeddingSettings(model=model)
    requests = [settings.request(chunk.text) for chunk in chunks]
    started = time.perf_counter()
    responses = client.embed_many(requests)
    embedding = time.perf_counter() - started
    total = setup + chunking + embedding
    tokens = sum(chunk.tokens for chunk in chunks)
    print(
        f"{label}: {len(files)} docs, {len(chunks)} chunks ({tokens} tokens)\n"
        f"  chunk all, then embed: chunking {chunking:5.2f} s (+ tokenizer fetch {setup:4.2f} s), embedding "
        f"{embedding:6.1f} s -> {len(files) / total:5.2f} docs/s, {len(chunks) / total:6.1f} chunks/s; "
        f"tokenizing + chunking {100 * (chunking + setup) / total:4.1f}% of the run",
        flush=True,
    )
    vectors = [(name, settings.vector(response)) for (name, _), response in zip(named, responses)]
    if not pipeline:
        return vectors
    wall = pipelined(client, settings, chunker, files)
    started = time.perf_counter()
    client.embed_many(requests)
    floor = time.perf_counter() - started
    print(
        f"  chunk while embedding: {wall:6.1f} s -> {len(files) / wall:5.2f} docs/s, {len(chunks) / wall:6.1f} chunks/s; "
        f"embedding alone (same run) {floor:6.1f} s: chunking adds {100 * (wall - floor) / wall:4.1f}% of the run",
        flush=True,
    )
    return vectors


def hits(client: EmbedClient, model: str, vectors: list[tuple[str, list[float]]], k: int) -> tuple[int, int]:
    """How many of `DEEP_QUESTIONS` find their file first, and among the files of the `k` best vectors."""
    settings = EmbeddingSettings(model=model)
    first = within = 0
    for question, source in DEEP_QUESTIONS.items():
        query = client.embed_texts([question], settings)[0]
        ranked = sorted(vectors, key=lambda item: -sum(a * b for a, b in zip(query, item[1])))
        first += ranked[0][0] == source
        within += source in [name for name, _ in ranked[:k]]
    return first, within


def retrieval(client: EmbedClient, model: str, chunk_vectors: list[tuple[str, list[float]]], files: list[Path]) -> None:
    """Deep questions against the chunks, and against whole files cut to the context (the baseline)."""
    truncate = EmbeddingSettings(model=model, long_text="truncate")
    whole = client.embed_texts([path.read_text() for path in files], truncate)
    baseline = hits(client, model, list(zip([path.name for path in files], whole)), 5)
    chunked = hits(client, model, chunk_vectors, 5)
    n = len(DEEP_QUESTIONS)
    print(
        f"  {n} questions answered deep inside long files: right file first / in the top 5: chunks {chunked[0]}/"
        f"{chunked[1]}, whole files cut to the context (baseline) {baseline[0]}/{baseline[1]}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=None, help="how many files of the folder (default: all)")
    parser.add_argument("--delay", type=float, default=0.05, help="the stand-in's seconds per call")
    parser.add_argument("--max-tokens", type=int, default=256)
    options = parser.parse_args()
    files = doc_files()[: options.files]
    print(f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1000:.0f} kB; load average {os.getloadavg()}")

    with LocalServer() as server, EmbedClient(server.host, server.token) as client:
        started = time.perf_counter()
        chunker = client.chunker(server.default_model, max_tokens=options.max_tokens)  # tokenizer from the host
        setup = time.perf_counter() - started
        vectors = run("local server (all-MiniLM-L6-v2)", client, server.default_model, chunker, files, setup, False)
        if options.files is None:
            retrieval(client, server.default_model, vectors, files)
        tokenizer = client.tokenizer(server.default_model)
    print(f"load average {os.getloadavg()}")

    with StandInServer(delay=options.delay) as standin, EmbedClient(standin.host) as client:
        chunker = Chunker(Tokenizer.from_str(tokenizer.to_str()), max_tokens=options.max_tokens, context=512)
        run(f"stand-in API ({options.delay * 1000:.0f} ms per call)", client, standin.model, chunker, files, 0.0, True)
    print(f"load average {os.getloadavg()}; the machine is shared (2 cores), timings vary with its load")


if __name__ == "__main__":
    main()
