"""Ingest benchmark: 3,000 standard-library docstring paragraphs end to end into a real Qdrant server.

Against two /embed endpoints: the local server (compute-bound on this CPU) and the stand-in API that answers
after a fixed delay (latency-bound, like a remote API with spare capacity). Three runs on the same documents each:
- embedding only: EmbedClient.embed_many (the floor: time spent waiting on /embed);
- QdrantIngestor.ingest (concurrent /embed calls, batched upserts overlapping them), over REST and over gRPC;
- baseline: langchain_qdrant.QdrantVectorStore.from_texts with aleph_embed_langchain.AlephAlphaEmbeddings.
Prints docs/s, the ingest/LangChain ratio (target >= 3x) and ingest time over embedding time (target <= 1.05).

    python -m bench.bench_ingest [--documents 3000] [--concurrency 16] [--delay 0.05]
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_qdrant import QdrantVectorStore  # noqa: E402
from qdrant_client import QdrantClient  # noqa: E402

from aleph_embed import EmbedClient, EmbeddingSettings  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from aleph_embed_langchain import AlephAlphaEmbeddings  # noqa: E402
from aleph_embed_qdrant import QdrantIngestor  # noqa: E402
from bench._arguments import ingest_arguments  # noqa: E402
from tests.support.corpora import BENCH_MODULES, stdlib_paragraphs  # noqa: E402
from tests.support.qdrant_server import QdrantServer  # noqa: E402
from tests.support.standin import StandInServer  # noqa: E402


def timed(label: str, count: int, run: object) -> float:
    started = time.perf_counter()
    run()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:<46} {seconds:7.1f} s  {count / seconds:7.1f} docs/s", flush=True)
    return seconds


def compare(label: str, host: str, token: str | None, model: str, documents: list[dict], qdrant_server: QdrantServer,
            concurrency: int) -> None:
    """The three runs against one /embed endpoint, each into a fresh collection of the Qdrant server."""
    texts = [d["text"] for d in documents]
    count = len(documents)
    print(f"\n{label}: {count} documents, /embed concurrency {concurrency}", flush=True)
    settings = EmbeddingSettings(model=model)
    qdrant_url = qdrant_server.url
    qdrant = QdrantClient(url=qdrant_url, check_compatibility=False)
    grpc = QdrantClient(url=qdrant_url, prefer_grpc=True, grpc_port=qdrant_server.grpc_port, check_compatibility=False)
    collections = (f"{model}-ingest", f"{model}-langchain", f"{model}-grpc")
    with EmbedClient(host, token, concurrency=concurrency) as client:
        client.embed_many([settings.request(text) for text in texts[:64]])  # warm-up
        embed = timed("embedding only (EmbedClient.embed_many)", count,
                      lambda: client.embed_many([settings.request(text) for text in texts]))
        ingestor = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection=collections[0])
        ingest = timed("QdrantIngestor.ingest (REST)", count, lambda: ingestor.ingest(documents))
        over_grpc = QdrantIngestor(embedder=client, settings=settings, qdrant=grpc, collection=collections[2])
        ingest_grpc = timed("QdrantIngestor.ingest (gRPC)", count, lambda: over_grpc.ingest(documents))
    embeddings = AlephAlphaEmbeddings(model=model, host=host, token=token, concurrency=concurrency)
    langchain = timed("langchain_qdrant QdrantVectorStore.from_texts", count, lambda: QdrantVectorStore.from_texts(
        texts, embeddings, metadatas=[d["metadata"] for d in documents], url=qdrant_url,
        collection_name=collections[1], check_compatibility=False,
    ))
    # the ingest cuts documents over 256 tokens into chunks (a point each); from_texts stores every text whole
    assert qdrant.count(collections[0]).count == qdrant.count(collections[2]).count >= count
    assert qdrant.count(collections[1]).count == count
    print(f"ingest vs LangChain from_texts: {langchain / ingest:.2f}x faster (target >= 3x)")
    print(f"ingest time / embedding-only time: REST {ingest / embed:.2f}, gRPC {ingest_grpc / embed:.2f} (target <= "
          f"1.05); load {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    args = ingest_arguments("QdrantIngestor vs langchain_qdrant from_texts")
    documents = stdlib_paragraphs(args.documents, BENCH_MODULES)

    with tempfile.TemporaryDirectory() as directory:
        qdrant_server = QdrantServer(Path(directory)).start()
        try:
            with LocalServer() as server:
                compare("local /embed server (all-MiniLM-L6-v2 on this CPU; compute-bound)", server.host, server.token,
                        server.default_model, documents, qdrant_server, args.concurrency)
            with StandInServer(delay=args.delay) as standin:
                compare(f"stand-in /embed API ({args.delay * 1000:.0f} ms per call, no compute; latency-bound)",
                        standin.host, None, standin.model, documents, qdrant_server, args.concurrency)
        finally:
            qdrant_server.stop()


if __name__ == "__main__":
    main()
