"""The LlamaIndex quickstart on real long documentation against the local server: `SentenceSplitter` counting the
model's own tokens (`embed_model.tokenizer`), and its default splitter with long_text="average"."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode

from aleph_embed.server.launcher import LocalServer
from aleph_embed_llamaindex import AlephAlphaEmbedding

from ..support.corpora import DOC_QUESTIONS, DOCS_FOLDER, copy_docs, doc_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_docs(tmp_path_factory.mktemp("docs"))


def embed_model_for(server: LocalServer, **options: object) -> AlephAlphaEmbedding:
    return AlephAlphaEmbedding(model_name=server.default_model, host=server.host, token=server.token, **options)  # type: ignore[arg-type]


def test_quickstart_with_the_models_tokenizer(embed_server: LocalServer, folder: Path) -> None:
    embed_model = embed_model_for(embed_server)
    documents = SimpleDirectoryReader(str(folder), recursive=True).load_data()
    splitter = SentenceSplitter(chunk_size=256, chunk_overlap=32, tokenizer=embed_model.tokenizer)
    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model, transformations=[splitter])
    retriever = index.as_retriever(similarity_top_k=5)
    for question, source in DOC_QUESTIONS.items():
        assert source in [hit.node.metadata["file_name"] for hit in retriever.retrieve(question)], question


def test_every_node_of_the_whole_folder_fits(embed_server: LocalServer) -> None:
    embed_model = embed_model_for(embed_server)
    documents = SimpleDirectoryReader(str(DOCS_FOLDER), recursive=True).load_data()
    splitter = SentenceSplitter(chunk_size=256, chunk_overlap=32, tokenizer=embed_model.tokenizer)
    nodes = splitter.get_nodes_from_documents(documents)
    sizes = [embed_model.count_tokens(node.get_content(metadata_mode=MetadataMode.EMBED)) for node in nodes]
    assert len(documents) == len(doc_files()) and max(sizes) <= 256 + 2  # LlamaIndex adds a newline between parts
    default = SentenceSplitter().get_nodes_from_documents(documents)
    assert max(embed_model.count_tokens(node.get_content(metadata_mode=MetadataMode.EMBED)) for node in default) > 512


async def test_default_splitter_with_long_text_average(embed_server: LocalServer, folder: Path) -> None:
    embed_model = embed_model_for(embed_server, long_text="average")
    documents = SimpleDirectoryReader(str(folder), recursive=True, exclude=["npm/*"]).load_data()
    assert len(documents) == 2
    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)  # chunks of 1,024 (other) tokens
    hits = await index.as_retriever(similarity_top_k=5).aretrieve("Which IDLE file debugs code run in a remote process?")
    assert "README.txt" in [hit.node.metadata["file_name"] for hit in hits]
