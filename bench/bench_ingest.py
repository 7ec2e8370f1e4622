"""Ingest benchmark: 3,000 standard-library docstring paragraphs end to end into a real Qdrant server.

Three runs on the same documents, local /embed server and Qdrant server binary, each measured in this run:
- embedding only: EmbedClient.embed_many (the floor: time spent waiting on /embed);
- QdrantIngestor.ingest (concurrent /embed calls, batched upserts overlapping them);
- baseline: langchain_qdrant.QdrantVectorStore.from_texts with aleph_embed_langchain.AlephAlphaEmbeddings.
Prints docs/s, the ingest/LangChain ratio (target >= 3x) and ingest time over embedding time (target <= 1.2).

    python bench/bench_ingest.py [--documents 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "examples")]

from langchain_qdrant import QdrantVectorStore  # noqa: E402
from qdrant_client import QdrantClient  # noqa: E402

from aleph_embed import EmbedClient, EmbeddingSettings  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from aleph_embed_langchain import AlephAlphaEmbeddings  # noqa: E402
from aleph_embed_qdrant import QdrantIngestor  # noqa: E402
from demo import stdlib_paragraphs  # noqa: E402
from tests.qdrant.qdrant_server import QdrantServer  # noqa: E402


def timed(label: str, count: int, run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:<46} {seconds:7.1f} s  {count / seconds:7.1f} docs/s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description="QdrantIngestor vs langchain_qdrant from_texts")
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16, help="/embed calls in flight, for all three runs")
    args = parser.parse_args()
    documents = [d for _, d in zip(range(args.documents), stdlib_paragraphs())]
    texts = [d["text"] for d in documents]
    count = len(documents)
    print(f"{count} documents (stdlib docstring paragraphs), /embed concurrency {args.concurrency}", flush=True)

    with LocalServer() as server, tempfile.TemporaryDirectory() as directory:
        qdrant_server = QdrantServer(Path(directory)).start()
        try:
            settings = EmbeddingSettings(model=server.default_model)
            qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
            with EmbedClient(server.host, server.token, concurrency=args.concurrency) as client:
                client.embed_many([settings.request(text) for text in texts[:64]])  # warm-up
                embed = timed("embedding only (EmbedClient.embed_many)", count,
                              lambda: client.embed_many([settings.request(text) for text in texts]))
                ingestor = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection="ingest")
                ingest = timed("QdrantIngestor.ingest", count, lambda: ingestor.ingest(documents))
            embeddings = AlephAlphaEmbeddings(
                model=server.default_model, host=server.host, token=server.token, concurrency=args.concurrency
            )
            langchain = timed("langchain_qdrant QdrantVectorStore.from_texts", count, lambda: QdrantVectorStore.from_texts(
                texts, embeddings, metadatas=[d["metadata"] for d in documents], url=qdrant_server.url,
                collection_name="langchain", check_compatibility=False,
            ))
            assert qdrant.count("ingest").count == qdrant.count("langchain").count == count
        finally:
            qdrant_server.stop()
    print(f"ingest vs LangChain from_texts: {langchain / ingest:.2f}x faster (target >= 3x)")
    print(f"ingest time / embedding-only time: {ingest / embed:.2f} (target <= 1.2); "
          f"time waiting on /embed: {min(1.0, embed / ingest):.0%} of the ingest")


if __name__ == "__main__":
    main()
