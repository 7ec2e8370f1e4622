"""AlephAlphaEmbeddings end to end against the local /embed server: LangChain's standard suite, vector stores, LCEL."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_qdrant import QdrantVectorStore
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from aleph_embed import TextEmbedError
from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings

from ..support.corpora import DOCUMENTS, QUESTIONS

pytestmark = pytest.mark.slow


class LocalServerSuite(EmbeddingsIntegrationTests):
    """LangChain's standard suite against the local server; ``options`` go to the class (an endpoint, say)."""

    options: ClassVar[dict[str, Any]] = {}
    embeddings_type: ClassVar[type[AlephAlphaEmbeddings]] = AlephAlphaEmbeddings

    @pytest.fixture(autouse=True)
    def _use_local_server(self, embed_server: LocalServer) -> None:
        self.server = embed_server

    @property
    def embeddings_class(self) -> type[AlephAlphaEmbeddings]:
        return self.embeddings_type

    @property
    def embedding_model_params(self) -> dict:
        return {"model": self.server.default_model, "host": self.server.host, "token": self.server.token, **self.options}


class TestAlephAlphaEmbeddingsIntegration(LocalServerSuite):
    """The default endpoint, /embed."""


@pytest.fixture
def embeddings(embed_server: LocalServer) -> AlephAlphaEmbeddings:
    return AlephAlphaEmbeddings(model=embed_server.default_model, host=embed_server.host, token=embed_server.token)


def _contents(documents: list[Document]) -> list[str]:
    return [document.page_content for document in documents]


async def test_in_memory_store_finds_the_right_document(embeddings: AlephAlphaEmbeddings) -> None:
    store = await InMemoryVectorStore.afrom_texts(DOCUMENTS, embeddings)
    for question, answer in QUESTIONS.items():
        assert _contents(await store.asimilarity_search(question, k=1)) == [DOCUMENTS[answer]]
    synchronous = InMemoryVectorStore.from_texts(DOCUMENTS, embeddings)
    question, answer = next(iter(QUESTIONS.items()))
    assert _contents(synchronous.similarity_search(question, k=1)) == [DOCUMENTS[answer]]


async def test_qdrant_retriever_in_an_lcel_chain(embeddings: AlephAlphaEmbeddings) -> None:
    store = QdrantVectorStore.from_texts(DOCUMENTS, embeddings, location=":memory:", collection_name="facts")
    prompt = ChatPromptTemplate.from_template("Answer from the context.\nContext: {context}\nQuestion: {question}")
    chain = (
        {"context": store.as_retriever(search_kwargs={"k": 1}) | RunnableLambda(_contents), "question": RunnablePassthrough()}
        | prompt
        | RunnableLambda(lambda value: value.to_string())
    )
    for question, answer in QUESTIONS.items():
        assert DOCUMENTS[answer] in chain.invoke(question)
    answers = await chain.abatch(list(QUESTIONS))
    assert all(DOCUMENTS[a] in text for a, text in zip(QUESTIONS.values(), answers))


async def test_text_longer_than_the_context_names_its_index(embeddings: AlephAlphaEmbeddings) -> None:
    texts = ["short", "word " * 2000]
    with pytest.raises(TextEmbedError, match=r"^text 1 \(.*more than the model's context"):
        embeddings.embed_documents(texts)
    with pytest.raises(TextEmbedError, match=r"^text 1 \("):
        await embeddings.aembed_documents(texts)
