"""AlephAlphaEmbedding end to end against the local /embed server: VectorStoreIndex and IngestionPipeline on Qdrant."""

from __future__ import annotations

import pytest
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient

from aleph_embed.server.launcher import LocalServer
from aleph_embed_llamaindex import AlephAlphaEmbedding

from ..support.corpora import DOCUMENTS, QUESTIONS

pytestmark = pytest.mark.slow


@pytest.fixture
def embed_model(embed_server: LocalServer) -> AlephAlphaEmbedding:
    return AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host, token=embed_server.token)


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant")
def test_vector_store_index_on_qdrant_retrieves_by_query(embed_model: AlephAlphaEmbedding) -> None:
    vector_store = QdrantVectorStore("facts", client=QdrantClient(":memory:"))
    index = VectorStoreIndex.from_documents(
        [Document(text=text) for text in DOCUMENTS],
        storage_context=StorageContext.from_defaults(vector_store=vector_store),
        embed_model=embed_model,
    )
    retriever = index.as_retriever(similarity_top_k=1)
    for question, answer in QUESTIONS.items():
        assert [node.get_content() for node in retriever.retrieve(question)] == [DOCUMENTS[answer]]


async def test_async_ingestion_pipeline_into_qdrant(embed_model: AlephAlphaEmbedding) -> None:
    vector_store = QdrantVectorStore("chunks", aclient=AsyncQdrantClient(":memory:"))
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), embed_model], vector_store=vector_store
    )
    nodes = await pipeline.arun(documents=[Document(text=text) for text in DOCUMENTS])
    assert len(nodes) == len(DOCUMENTS) and all(len(node.embedding or []) == 384 for node in nodes)
    retriever = VectorStoreIndex.from_vector_store(vector_store, embed_model=embed_model).as_retriever(similarity_top_k=1)
    for question, answer in QUESTIONS.items():
        [found] = await retriever.aretrieve(question)
        assert found.get_content() == DOCUMENTS[answer]


def test_ingestion_pipeline_embeds_every_chunk(embed_model: AlephAlphaEmbedding) -> None:
    pipeline = IngestionPipeline(transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), embed_model])
    nodes = pipeline.run(documents=[Document(text=" ".join(DOCUMENTS * 3))])
    assert len(nodes) > 1
    expected = embed_model.get_text_embedding_batch([node.get_content(metadata_mode=MetadataMode.EMBED) for node in nodes])
    assert all(node.embedding == pytest.approx(vector, abs=1e-4) for node, vector in zip(nodes, expected))
