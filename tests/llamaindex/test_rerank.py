"""AlephAlphaRerank in LlamaIndex's own pipeline: a query engine over a VectorStoreIndex embedded by the local server,
the reranker as its node postprocessor; /rerank is a stand-in (httpx.MockTransport: the local server has none yet)."""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms.mock import MockLLM
from llama_index.core.schema import QueryBundle

from aleph_embed.server.launcher import LocalServer
from aleph_embed_llamaindex import AlephAlphaEmbedding, AlephAlphaRerank

from ..support.fake_api import FakeRerankAPI

TEXTS = [
    "The Eiffel Tower is in Paris.",
    "Paris is the capital of France.",
    "Photosynthesis turns light into sugar.",
    "The capital of Brazil is Brasilia.",
]
QUERY = "What is the capital of France?"


@pytest.fixture
def index(embed_server: LocalServer) -> VectorStoreIndex:
    embed_model = AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host,
                                      token=embed_server.token)
    return VectorStoreIndex.from_documents([Document(text=text) for text in TEXTS], embed_model=embed_model)


def expected() -> list[str]:
    return sorted(TEXTS, key=lambda text: -FakeRerankAPI.score(QUERY, text))[:2]


def test_the_query_engine_answers_from_the_reranked_best(index: VectorStoreIndex) -> None:
    api = FakeRerankAPI()
    rerank = AlephAlphaRerank(model="bge-reranker-v2-m3", top_n=2, **api.options())  # type: ignore[arg-type]
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=4, node_postprocessors=[rerank])
    response = engine.query(QUERY)
    assert [hit.node.get_content() for hit in response.source_nodes] == expected()
    assert response.source_nodes[0].score == FakeRerankAPI.score(QUERY, expected()[0])
    assert sorted(api.bodies[0]["documents"]) == sorted(TEXTS) and api.bodies[0]["top_n"] == 2


async def test_natively_async(index: VectorStoreIndex) -> None:
    api = FakeRerankAPI()
    rerank = AlephAlphaRerank(model="r", top_n=None, **api.options())  # type: ignore[arg-type]
    hits = await index.as_retriever(similarity_top_k=4).aretrieve(QUERY)
    reranked = await rerank.apostprocess_nodes(hits, QueryBundle(QUERY))
    assert [hit.node.get_content() for hit in reranked][:2] == expected() and len(reranked) == 4


def test_the_query_is_needed() -> None:
    with pytest.raises(ValueError, match="needs the query"):
        AlephAlphaRerank(model="r", **FakeRerankAPI().options()).postprocess_nodes([])  # type: ignore[arg-type]
