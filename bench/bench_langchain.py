"""LangChain benchmark: `embed_documents` of 500 texts against a stand-in that answers each call after 50 ms.

Baseline: the loop langchain-community's `AlephAlphaAsymmetricSemanticEmbedding.embed_documents` (and
`AlephAlphaSymmetricSemanticEmbedding`'s) runs: for each text build one request, send it, wait, append the vector,
one call after another. Reproduced with our `EmbedClient.embed` per text so only the calling pattern differs.
Measured: `AlephAlphaEmbeddings.embed_documents` and `aembed_documents` with the defaults.
Prints wall times and the ratio to the baseline (target >= 15x).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed_langchain import AlephAlphaEmbeddings
from tests.support.standin import StandInServer

TEXTS = [f"Document {i}: the quick brown fox jumps over the lazy dog." for i in range(500)]


def community_loop(client: EmbedClient, settings: EmbeddingSettings, texts: list[str]) -> list[list[float]]:
    """langchain_community.embeddings.aleph_alpha.AlephAlphaAsymmetricSemanticEmbedding.embed_documents, faithfully:
    one request per text, sent only after the previous one came back."""
    document_embeddings = []
    for text in texts:
        document_response = client.embed(settings.request(text))
        document_embeddings.append(settings.vector(document_response))
    return document_embeddings


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    with StandInServer(delay=0.05) as server:
        embeddings = AlephAlphaEmbeddings(model=server.model, host=server.host)
        embeddings.embed_documents(TEXTS[:40])  # warm up connections
        with EmbedClient(server.host) as client:
            baseline = _timed(lambda: community_loop(client, embeddings.embedding_settings, TEXTS))
        ours = _timed(lambda: embeddings.embed_documents(TEXTS))

        async def run_async() -> float:
            await embeddings.aembed_documents(TEXTS[:40])
            start = time.perf_counter()
            await embeddings.aembed_documents(TEXTS)
            return time.perf_counter() - start

        ours_async = asyncio.run(run_async())

    print(f"{len(TEXTS)} texts, stand-in delay 50 ms, default concurrency ({embeddings.concurrency})")
    print(f"community loop (one call after another): {baseline:7.3f} s")
    print(f"AlephAlphaEmbeddings.embed_documents   : {ours:7.3f} s  ratio {baseline / ours:5.1f}x")
    print(f"AlephAlphaEmbeddings.aembed_documents  : {ours_async:7.3f} s  ratio {baseline / ours_async:5.1f}x")
    print("target: ratio >= 15x")


if __name__ == "__main__":
    main()
