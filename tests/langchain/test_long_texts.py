"""The LangChain quickstart on real long documentation against the local server: LangChain's own splitter sized by
the model's tokenizer (`text_splitter`), whole files with long_text="average", and the default error."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_text_splitters import RecursiveCharacterTextSplitter

from aleph_embed import TextEmbedError
from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings

from ..support.corpora import DOC_QUESTIONS, copy_docs, doc_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    folder = copy_docs(tmp_path_factory.mktemp("docs"))
    return [Document(page_content=path.read_text(), metadata={"source": path.name}) for path in sorted(folder.rglob("*.*"))]


def embeddings_for(server: LocalServer, **options: object) -> AlephAlphaEmbeddings:
    return AlephAlphaEmbeddings(model=server.default_model, host=server.host, token=server.token, **options)  # type: ignore[arg-type]


def test_quickstart_with_the_token_sized_splitter(embed_server: LocalServer, documents: list[Document]) -> None:
    embeddings = embeddings_for(embed_server)
    splitter = embeddings.text_splitter(chunk_tokens=256, chunk_overlap=32)
    assert isinstance(splitter, RecursiveCharacterTextSplitter)
    chunks = splitter.split_documents(documents)
    tokenizer = embeddings.client.tokenizer(embed_server.default_model)
    assert max(len(tokenizer.encode(chunk.page_content).ids) for chunk in chunks) <= 256
    store = InMemoryVectorStore.from_documents(chunks, embeddings)
    for question, source in DOC_QUESTIONS.items():
        hits = store.similarity_search(question, k=5)
        assert source in [hit.metadata["source"] for hit in hits], question


async def test_whole_files_with_long_text_average(embed_server: LocalServer, documents: list[Document]) -> None:
    npm = [document for document in documents if document.metadata["source"] in ("scope.md", "npm-access.md")]
    embeddings = embeddings_for(embed_server, long_text="average")
    store = await InMemoryVectorStore.afrom_documents(npm, embeddings)  # one averaged vector per file
    hits = await store.asimilarity_search("How do I publish a scoped package so that everyone can install it?", k=1)
    assert hits[0].metadata["source"] == "scope.md"
    truncated = embeddings_for(embed_server, long_text="truncate").embed_documents([npm[0].page_content])
    assert len(truncated[0]) == 384


def test_every_chunk_of_the_whole_folder_fits(embed_server: LocalServer) -> None:
    embeddings = embeddings_for(embed_server)
    docs = [Document(page_content=path.read_text(), metadata={"source": path.name}) for path in doc_files()]
    chunks = embeddings.text_splitter().split_documents(docs)
    tokenizer = embeddings.client.tokenizer(embed_server.default_model)
    sizes = [len(tokenizer.encode(chunk.page_content).ids) for chunk in chunks]
    assert len(chunks) > 500 and max(sizes) <= 256
    tutorial = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    assert max(len(tokenizer.encode(chunk.page_content).ids) for chunk in tutorial) > 512  # what the issue hit


def test_the_tutorial_splitter_fails_naming_the_callers_index(embed_server: LocalServer) -> None:
    texts = ["short"] * 9 + ["| a | table | row |\n" * 200]
    with pytest.raises(TextEmbedError, match=r"^text 9 \('\| a \| table \| row \|.*more than the model's context of 512"):
        InMemoryVectorStore.from_texts(texts, embeddings_for(embed_server))
