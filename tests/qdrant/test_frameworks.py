"""A collection written by the ingestor opens in the frameworks' own Qdrant stores, with their own retrievers."""

from __future__ import annotations

from langchain_qdrant import QdrantVectorStore
from llama_index.core import VectorStoreIndex
from llama_index.vector_stores.qdrant import QdrantVectorStore as LlamaQdrantVectorStore
from qdrant_client import QdrantClient, models

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings
from aleph_embed_llamaindex import AlephAlphaEmbedding
from aleph_embed_qdrant import QdrantIngestor

from ..support.corpora import stdlib_paragraphs
from ..support.qdrant_server import QdrantServer

DOCUMENTS = stdlib_paragraphs(40, modules=("bisect", "heapq", "textwrap", "json"))
QUESTION = "Insert an item into a sorted list, keeping it sorted"


def test_langchain_layout_opens_in_langchain_qdrant(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str,
    embedder: EmbedClient, settings: EmbeddingSettings,
) -> None:
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection).ingest(DOCUMENTS)

    store = QdrantVectorStore(
        client=qdrant, collection_name=collection, distance=models.Distance.DOT,
        embedding=AlephAlphaEmbeddings(model=embed_server.default_model, host=embed_server.host),
    )
    hits = store.similarity_search(QUESTION, k=3)

    assert hits[0].metadata["module"] == "bisect"
    assert {hit.page_content for hit in hits} <= {d["text"] for d in DOCUMENTS}


def test_llamaindex_layout_opens_in_llamaindex_qdrant(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str,
    embedder: EmbedClient, settings: EmbeddingSettings,
) -> None:
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    QdrantIngestor(
        embedder=embedder, settings=settings, qdrant=qdrant, collection=collection, layout="llamaindex"
    ).ingest(DOCUMENTS)

    store = LlamaQdrantVectorStore(client=qdrant, collection_name=collection)
    index = VectorStoreIndex.from_vector_store(
        store, embed_model=AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host)
    )
    nodes = index.as_retriever(similarity_top_k=3).retrieve(QUESTION)

    assert nodes[0].node.metadata["module"] == "bisect"
    assert nodes[0].node.ref_doc_id.startswith("bisect")
    assert {node.node.get_content() for node in nodes} <= {d["text"] for d in DOCUMENTS}
