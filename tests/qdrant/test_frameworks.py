"""A collection written by the ingestor or the CLI (default layout, chunked) opens in both frameworks' own Qdrant
stores with no extra constructor arguments, on the embedded store and the server binary, and their retrievers find
the right documents."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from langchain_qdrant import QdrantVectorStore
from llama_index.core import VectorStoreIndex
from llama_index.vector_stores.qdrant import QdrantVectorStore as LlamaQdrantVectorStore
from qdrant_client import QdrantClient

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings
from aleph_embed_llamaindex import AlephAlphaEmbedding
from aleph_embed_qdrant import QdrantIngestor

from ..support.corpora import DOC_QUESTIONS, SMALL_DOCS, copy_docs, stdlib_paragraphs

DOCUMENTS = stdlib_paragraphs(40, modules=("bisect", "heapq", "textwrap", "json"))
QUESTION = "Insert an item into a sorted list, keeping it sorted"


def test_both_frameworks_open_the_collection_with_no_extra_arguments(
    embed_server: LocalServer, qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings,
) -> None:
    QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection).ingest(DOCUMENTS)
    texts = {d["text"] for d in DOCUMENTS}

    store = QdrantVectorStore(
        client=qdrant, collection_name=collection,
        embedding=AlephAlphaEmbeddings(model=embed_server.default_model, host=embed_server.host),
    )
    hits = store.similarity_search(QUESTION, k=3)
    assert hits[0].metadata["module"] == "bisect"
    assert {hit.page_content for hit in hits} <= texts

    index = VectorStoreIndex.from_vector_store(
        LlamaQdrantVectorStore(client=qdrant, collection_name=collection),
        embed_model=AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host),
    )
    nodes = index.as_retriever(similarity_top_k=3).retrieve(QUESTION)
    assert nodes[0].node.metadata["module"] == "bisect"
    assert nodes[0].node.ref_doc_id == nodes[0].node.metadata["document_id"] == hits[0].metadata["document_id"]
    assert [node.node.get_content() for node in nodes] == [hit.page_content for hit in hits]


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_both_frameworks_open_a_cli_written_collection_of_chunked_long_files(
    embed_server: LocalServer, where: str, tmp_path: Path, collection: str, request: pytest.FixtureRequest,
) -> None:
    folder = copy_docs(tmp_path / "docs")  # long Markdown, reST and plain text files: several chunks each
    if where == "server":
        url = request.getfixturevalue("qdrant_server").url
        target, connect = ["--qdrant-url", url], lambda: QdrantClient(url=url, check_compatibility=False)
    else:
        path = str(tmp_path / "store")
        target, connect = ["--qdrant-path", path], lambda: QdrantClient(path=path)
    assert main(["ingest", str(folder), "--root", str(folder), "--collection", collection, *target,
                 "--host", embed_server.host, "--model", embed_server.default_model]) == 0

    with closing(connect()) as qdrant:
        assert qdrant.count(collection).count > 2 * len(SMALL_DOCS)
        store = QdrantVectorStore(
            client=qdrant, collection_name=collection,
            embedding=AlephAlphaEmbeddings(model=embed_server.default_model, host=embed_server.host),
        )
        retriever = VectorStoreIndex.from_vector_store(
            LlamaQdrantVectorStore(client=qdrant, collection_name=collection),
            embed_model=AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host),
        ).as_retriever(similarity_top_k=3)
        for question, name in DOC_QUESTIONS.items():
            hits = store.similarity_search(question, k=3)
            nodes = retriever.retrieve(question)
            assert Path(hits[0].metadata["source"]).name == name, question
            assert Path(nodes[0].node.metadata["source"]).name == name, question
            assert [node.node.get_content() for node in nodes] == [hit.page_content for hit in hits]
            assert nodes[0].node.ref_doc_id == hits[0].metadata["document_id"]  # the chunk's source document
