"""AlephAlphaEmbedding as a drop-in for llama-index-embeddings-alephalpha, and over Qdrant through every endpoint."""

from __future__ import annotations

import numpy as np
import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import QdrantClient

from aleph_embed.server.launcher import LocalServer
from aleph_embed_llamaindex import AlephAlphaEmbedding

from ..support.corpora import DOCUMENTS, QUESTIONS


def test_the_originals_arguments_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AA_HOST", raising=False)
    old_style = AlephAlphaEmbedding(
        model="luminous-base", token="sk-secret-42", representation="symmetric", compress_to_size=128, hosting="aleph-alpha",
        nice=True, timeout=20, verify_ssl=False, additional_kwargs={"contextual_control_threshold": 0.3},
    )
    assert (old_style.model_name, old_style.host, old_style.endpoint) == ("luminous-base", "https://api.aleph-alpha.com", "semantic")
    assert (old_style.normalize, old_style.max_retries, old_style.symmetric, old_style.compress_to_size) == (False, 10, True, 128)
    assert old_style.contextual_control_threshold == 0.3 and old_style.http_client is not None
    assert "sk-secret-42" not in repr(old_style) and "sk-secret-42" not in str(old_style.to_dict())
    based = AlephAlphaEmbedding(model="m", base_url="http://127.0.0.1:9", representation="query")
    assert based.host == "http://127.0.0.1:9" and not based.symmetric
    ours = AlephAlphaEmbedding(model_name="m", host="http://127.0.0.1:9")  # this class's own spelling: the model's endpoint
    assert (ours.endpoint, ours.normalize) == ("auto", True)
    with pytest.raises(ValueError, match="representation"):
        AlephAlphaEmbedding(model="m", base_url="http://127.0.0.1:9", representation="sideways")


def cosines(a: list[list[float]], b: list[list[float]]) -> list[float]:
    x, y = np.array(a), np.array(b)
    return list((x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)))


@pytest.mark.slow
@pytest.mark.parametrize("arguments", [{}, {"representation": "symmetric"}])  # its __init__ drops `normalize`
async def test_the_originals_vectors(embed_server: LocalServer, arguments: dict) -> None:
    """llama-index-embeddings-alephalpha's class (through aleph-alpha-client) and ours, both on the local server."""
    from llama_index.embeddings.alephalpha import AlephAlphaEmbedding as Original

    common = {"model": embed_server.default_model, "token": "unused", "base_url": embed_server.host, **arguments}
    old, new = Original(**common), AlephAlphaEmbedding(**common)
    texts = DOCUMENTS[:5]
    expected = old.get_text_embedding_batch(texts)
    assert min(cosines(expected, new.get_text_embedding_batch(texts))) >= 0.99999
    assert min(cosines(expected, await new.aget_text_embedding_batch(texts))) >= 0.99999
    query = next(iter(QUESTIONS))
    # the original's async methods hand back un-awaited coroutines: its sync answer is the reference
    expected_query = old.get_query_embedding(query)
    assert min(cosines([expected_query] * 2, [new.get_query_embedding(query), await new.aget_query_embedding(query)])) >= 0.99999
    assert np.allclose(expected_query, new.get_query_embedding(query), atol=1e-5)  # the same scale too


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")
@pytest.mark.parametrize("endpoint", ["embed", "semantic", "instructable", "openai"])
def test_vector_store_index_on_qdrant_for_every_endpoint(embed_server: LocalServer, endpoint: str) -> None:
    embed_model = AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host, endpoint=endpoint)
    index = VectorStoreIndex.from_documents(
        [Document(text=text) for text in DOCUMENTS],
        storage_context=StorageContext.from_defaults(vector_store=QdrantVectorStore("facts", client=QdrantClient(":memory:"))),
        embed_model=embed_model,
    )
    retriever = index.as_retriever(similarity_top_k=1)
    for question, answer in QUESTIONS.items():
        assert [node.get_content() for node in retriever.retrieve(question)] == [DOCUMENTS[answer]]
