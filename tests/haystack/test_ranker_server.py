"""`AlephAlphaRanker` against the local server's `/rerank` (the test cross-encoder, `tests.support.cross_encoder`):
its scores are `sentence_transformers.CrossEncoder(PATH).predict`'s, sync, async and in a retrieval pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack_integrations.components.embedders.aleph_alpha import AlephAlphaDocumentEmbedder, AlephAlphaTextEmbedder
from haystack_integrations.components.rankers.aleph_alpha import AlephAlphaRanker

from aleph_embed.server.launcher import LocalServer

from ..support.corpora import DOCUMENTS

pytestmark = pytest.mark.slow
QUERY = "Which landmark made of iron stands in Paris?"


@pytest.fixture(scope="module")
def rerank_server(cross_encoder: Path) -> Iterator[LocalServer]:
    with LocalServer(models={"reranker": f"{cross_encoder};task=rerank"}) as server:
        yield server


def _predicted(cross_encoder: Path, documents: list[str]) -> list[tuple[str, float]]:
    from sentence_transformers import CrossEncoder

    scores = CrossEncoder(str(cross_encoder)).predict([(QUERY, text) for text in documents])
    return sorted(zip(documents, map(float, scores)), key=lambda pair: -pair[1])


def _close(ranked: list[Document], expected: list[tuple[str, float]]) -> bool:
    return [d.content for d in ranked] == [text for text, _ in expected] and all(
        abs(d.score - score) <= 1e-5 for d, (_, score) in zip(ranked, expected)  # type: ignore[operator]
    )


async def test_scores_are_the_cross_encoders(rerank_server: LocalServer, cross_encoder: Path) -> None:
    ranker = AlephAlphaRanker("reranker", host=rerank_server.host, top_k=3)
    documents = [Document(content=text) for text in DOCUMENTS]
    expected = _predicted(cross_encoder, DOCUMENTS)[:3]
    assert _close(ranker.run(QUERY, documents)["documents"], expected)
    assert _close((await ranker.run_async(QUERY, documents))["documents"], expected)


def test_a_retrieval_pipeline_with_the_ranker_saves_and_loads(
    embed_server: LocalServer, rerank_server: LocalServer, cross_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AA_HOST", embed_server.host)
    monkeypatch.setenv("AA_MODEL", embed_server.default_model)
    store = InMemoryDocumentStore(index="haystack-ranker")
    store.write_documents(AlephAlphaDocumentEmbedder(progress_bar=False).run(
        [Document(content=text) for text in DOCUMENTS])["documents"])
    query = Pipeline()
    query.add_component("embedder", AlephAlphaTextEmbedder())
    query.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=4))
    query.add_component("ranker", AlephAlphaRanker("reranker", host=rerank_server.host, top_k=2))
    query.connect("embedder.embedding", "retriever.query_embedding")
    query.connect("retriever.documents", "ranker.documents")
    loaded = Pipeline.loads(query.dumps())
    result = loaded.run({"embedder": {"text": QUERY}, "ranker": {"query": QUERY}}, include_outputs_from={"retriever"})
    retrieved = [d.content for d in result["retriever"]["documents"]]
    assert _close(result["ranker"]["documents"], _predicted(cross_encoder, retrieved)[:2])
