"""AlephAlphaRerank in LangChain's own pipeline: a ContextualCompressionRetriever over a vector store embedded by the
local server, reranking through a stand-in /rerank (httpx.MockTransport) and through the local server's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.vectorstores import InMemoryVectorStore

from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings, AlephAlphaRerank

from ..support.fake_api import FakeRerankAPI
from ..support.rerank_pipeline import QUERY, TEXTS, fake_best, predicted_scores, served_reranker


@pytest.fixture
def retriever(embed_server: LocalServer) -> tuple[ContextualCompressionRetriever, FakeRerankAPI]:
    embeddings = AlephAlphaEmbeddings(model=embed_server.default_model, host=embed_server.host, token=embed_server.token)
    store = InMemoryVectorStore.from_texts(TEXTS, embeddings, metadatas=[{"n": n} for n in range(len(TEXTS))])
    api = FakeRerankAPI()
    rerank = AlephAlphaRerank(model="bge-reranker-v2-m3", top_n=2, **api.options())  # type: ignore[arg-type]
    return ContextualCompressionRetriever(base_compressor=rerank, base_retriever=store.as_retriever(k=4)), api


def test_the_retriever_returns_the_reranked_best(retriever: tuple[ContextualCompressionRetriever, FakeRerankAPI]) -> None:
    pipeline, api = retriever
    documents = pipeline.invoke(QUERY)
    assert [document.page_content for document in documents] == fake_best()
    assert documents[0].metadata["relevance_score"] == FakeRerankAPI.score(QUERY, fake_best()[0])
    assert "n" in documents[0].metadata
    assert sorted(api.bodies[0]["documents"]) == sorted(TEXTS)  # all four candidates were scored
    assert api.bodies[0]["top_n"] == 2 and api.bodies[0]["model"] == "bge-reranker-v2-m3"


async def test_natively_async(retriever: tuple[ContextualCompressionRetriever, FakeRerankAPI]) -> None:
    pipeline, _ = retriever
    documents = await pipeline.ainvoke(QUERY)
    assert [document.page_content for document in documents] == fake_best()


def test_no_documents_no_call() -> None:
    api = FakeRerankAPI()
    assert AlephAlphaRerank(model="r", **api.options()).compress_documents([], QUERY) == []  # type: ignore[arg-type]
    assert api.bodies == []


rerank_server = pytest.fixture(scope="module")(served_reranker)


def test_against_the_local_servers_rerank(rerank_server: tuple[LocalServer, Path]) -> None:
    """The whole pipeline on the local server: `minilm` embeds (endpoint auto: /model-settings says raw), the test
    cross-encoder reranks on /rerank; the kept documents and scores are CrossEncoder.predict's."""
    server, cross_encoder = rerank_server
    embeddings = AlephAlphaEmbeddings(model="minilm", host=server.host, token=server.token)
    store = InMemoryVectorStore.from_texts(TEXTS, embeddings)
    rerank = AlephAlphaRerank(model="reranker", host=server.host, token=server.token, top_n=2)
    pipeline = ContextualCompressionRetriever(base_compressor=rerank, base_retriever=store.as_retriever(k=4))
    documents = pipeline.invoke(QUERY)
    scores = predicted_scores(cross_encoder)
    assert [document.page_content for document in documents] == sorted(TEXTS, key=lambda t: -scores[t])[:2]
    for document in documents:
        assert document.metadata["relevance_score"] == pytest.approx(scores[document.page_content], abs=1e-5)
    assert embeddings.embedder.client.resolve_endpoint(embeddings.embedding_settings).endpoint == "embed"
