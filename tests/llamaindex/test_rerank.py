"""AlephAlphaRerank in LlamaIndex's own pipeline: a query engine over a VectorStoreIndex embedded by the local server,
the reranker as its node postprocessor, through a stand-in /rerank (httpx.MockTransport) and the local server's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms.mock import MockLLM
from llama_index.core.schema import QueryBundle

from aleph_embed.server.launcher import LocalServer
from aleph_embed_llamaindex import AlephAlphaEmbedding, AlephAlphaRerank

from ..support.fake_api import FakeRerankAPI
from ..support.rerank_pipeline import QUERY, TEXTS, fake_best, predicted_scores, served_reranker


@pytest.fixture
def index(embed_server: LocalServer) -> VectorStoreIndex:
    embed_model = AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host,
                                      token=embed_server.token)
    return VectorStoreIndex.from_documents([Document(text=text) for text in TEXTS], embed_model=embed_model)


def test_the_query_engine_answers_from_the_reranked_best(index: VectorStoreIndex) -> None:
    api = FakeRerankAPI()
    rerank = AlephAlphaRerank(model="bge-reranker-v2-m3", top_n=2, **api.options())  # type: ignore[arg-type]
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=4, node_postprocessors=[rerank])
    response = engine.query(QUERY)
    assert [hit.node.get_content() for hit in response.source_nodes] == fake_best()
    assert response.source_nodes[0].score == FakeRerankAPI.score(QUERY, fake_best()[0])
    assert sorted(api.bodies[0]["documents"]) == sorted(TEXTS) and api.bodies[0]["top_n"] == 2


async def test_natively_async(index: VectorStoreIndex) -> None:
    api = FakeRerankAPI()
    rerank = AlephAlphaRerank(model="r", top_n=None, **api.options())  # type: ignore[arg-type]
    hits = await index.as_retriever(similarity_top_k=4).aretrieve(QUERY)
    reranked = await rerank.apostprocess_nodes(hits, QueryBundle(QUERY))
    assert [hit.node.get_content() for hit in reranked][:2] == fake_best() and len(reranked) == 4


def test_the_query_is_needed() -> None:
    with pytest.raises(ValueError, match="needs the query"):
        AlephAlphaRerank(model="r", **FakeRerankAPI().options()).postprocess_nodes([])  # type: ignore[arg-type]


rerank_server = pytest.fixture(scope="module")(served_reranker)


async def test_against_the_local_servers_rerank(rerank_server: tuple[LocalServer, Path]) -> None:
    """The whole query engine on the local server: `minilm` embeds (endpoint auto), the test cross-encoder reranks
    on /rerank; the source nodes and their scores are CrossEncoder.predict's."""
    server, cross_encoder = rerank_server
    embed_model = AlephAlphaEmbedding(model_name="minilm", host=server.host, token=server.token)
    index = VectorStoreIndex.from_documents([Document(text=text) for text in TEXTS], embed_model=embed_model)
    rerank = AlephAlphaRerank(model="reranker", host=server.host, token=server.token, top_n=2)
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=4, node_postprocessors=[rerank])
    response = await engine.aquery(QUERY)
    scores = predicted_scores(cross_encoder)
    assert [hit.node.get_content() for hit in response.source_nodes] == sorted(TEXTS, key=lambda t: -scores[t])[:2]
    for hit in response.source_nodes:
        assert hit.score == pytest.approx(scores[hit.node.get_content()], abs=1e-5)
