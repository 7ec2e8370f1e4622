"""The Haystack embedders against the local /embed server: LangChain's vectors for the same settings, indexing and
query pipelines over `InMemoryDocumentStore` (sync and async), and saved pipelines that keep no token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.core.errors import DeserializationError
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.utils import Secret
from haystack_integrations.components.embedders.aleph_alpha import AlephAlphaDocumentEmbedder, AlephAlphaTextEmbedder

from aleph_embed import EmptyTextError
from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings

from ..support.corpora import DOCUMENTS, QUESTIONS

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"
SENTINEL_TOKEN = "sk-haystack-must-not-be-saved"
OPTION_SETS = {
    "embed": {},
    "embed-options": {"layer": -2, "pooling": "max", "normalize": False, "long_text": "truncate"},
    "semantic": {"endpoint": "semantic"},
    "instructable": {"endpoint": "instructable", "query_instruction": "Find the passage that answers the question"},
    "openai": {"endpoint": "openai", "encoding_format": "float"},
}


def _cosines(left: list[list[float]], right: list[list[float]]) -> list[float]:
    a, b = np.asarray(left), np.asarray(right)
    return list((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


@pytest.fixture
def server_env(embed_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> LocalServer:
    """AA_HOST / AA_MODEL name the local server; AA_TOKEN holds a token a saved pipeline must not keep."""
    monkeypatch.setenv("AA_HOST", embed_server.host)
    monkeypatch.setenv("AA_MODEL", embed_server.default_model)
    monkeypatch.setenv("AA_TOKEN", embed_server.token or SENTINEL_TOKEN)
    return embed_server


# -- layout, construction and serialisation (no network) --


def test_haystack_integrations_stays_a_namespace_package() -> None:
    """No `__init__.py` at the shared levels, as in haystack-core-integrations: other integrations install beside."""
    shared = ["haystack_integrations", "haystack_integrations/components", "haystack_integrations/components/embedders",
              "haystack_integrations/common"]
    assert [level for level in shared if (INTEGRATIONS / level / "__init__.py").exists()] == []
    assert (INTEGRATIONS / "haystack_integrations/components/embedders/aleph_alpha/__init__.py").exists()


def test_to_dict_keeps_the_options_and_the_token_variable_not_its_value(server_env: LocalServer) -> None:
    embedder = AlephAlphaDocumentEmbedder(
        endpoint="instructable", document_instruction="Represent the passage", batch_size=7, progress_bar=False,
        meta_fields_to_embed=["title"], embedding_separator=" | ", prefix="p: ", suffix=" :s",
    )
    data = embedder.to_dict()
    assert data["type"] == (
        "haystack_integrations.components.embedders.aleph_alpha.document_embedder.AlephAlphaDocumentEmbedder"
    )
    parameters = data["init_parameters"]
    assert parameters["token"] == {"type": "env_var", "env_vars": ["AA_TOKEN"], "strict": False}
    assert parameters["model"] == server_env.default_model
    assert parameters["endpoint"] == "instructable" and parameters["document_instruction"] == "Represent the passage"
    assert (parameters["batch_size"], parameters["meta_fields_to_embed"], parameters["embedding_separator"]) == (
        7, ["title"], " | ")
    assert SENTINEL_TOKEN not in repr(data)
    restored = AlephAlphaDocumentEmbedder.from_dict(data)
    assert restored.to_dict() == data


def test_a_token_given_as_a_value_is_never_serialised(server_env: LocalServer) -> None:
    embedder = AlephAlphaTextEmbedder(token=Secret.from_token(SENTINEL_TOKEN))
    with pytest.raises(ValueError, match="Cannot serialize token-based secret"):
        embedder.to_dict()
    assert SENTINEL_TOKEN not in repr(embedder)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"pooling": "median"}, "pooling"),
        ({"dimensions": 64}, "dimensions"),  # an /embeddings option on /embed
        ({"no_such_option": 1}, "no_such_option"),
    ],
)
def test_bad_options_fail_at_construction(server_env: LocalServer, arguments: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        AlephAlphaTextEmbedder(**arguments)


def test_the_document_embedder_takes_documents_only(server_env: LocalServer) -> None:
    with pytest.raises(TypeError, match="AlephAlphaTextEmbedder"):
        AlephAlphaDocumentEmbedder().run(documents=["a string"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="AlephAlphaDocumentEmbedder"):
        AlephAlphaTextEmbedder().run(text=[Document(content="x")])  # type: ignore[arg-type]


# -- against the local server --



@pytest.mark.slow
@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
def test_vectors_equal_langchains_for_the_same_settings(server_env: LocalServer, options: dict[str, Any]) -> None:
    reference = AlephAlphaEmbeddings(query_prefix="query: ", document_prefix="passage: ", **options)
    documents = [Document(content=text) for text in DOCUMENTS]
    document_embedder = AlephAlphaDocumentEmbedder(prefix="passage: ", progress_bar=False, batch_size=2, **options)
    embedded = document_embedder.run(documents)
    assert [d.content for d in embedded["documents"]] == DOCUMENTS
    assert min(_cosines([d.embedding for d in embedded["documents"]], reference.embed_documents(DOCUMENTS))) >= 0.99999
    query = next(iter(QUESTIONS))
    answer = AlephAlphaTextEmbedder(prefix="query: ", **options).run(query)
    assert _cosines([answer["embedding"]], [reference.embed_query(query)])[0] >= 0.99999
    assert answer["meta"]["model"] == server_env.default_model
    assert embedded["meta"]["usage"]["prompt_tokens"] > answer["meta"]["usage"]["prompt_tokens"] > 0


@pytest.mark.slow
async def test_run_async_gives_the_vectors_of_run(server_env: LocalServer) -> None:
    documents = [Document(content=text, meta={"title": f"title {i}"}) for i, text in enumerate(DOCUMENTS)]
    embedder = AlephAlphaDocumentEmbedder(meta_fields_to_embed=["title"], embedding_separator=": ", progress_bar=False)
    asynchronous = (await embedder.run_async(documents))["documents"]
    synchronous = embedder.run(documents)["documents"]
    assert min(_cosines([d.embedding for d in asynchronous], [d.embedding for d in synchronous])) >= 0.99999
    text_embedder = AlephAlphaTextEmbedder()
    vectors = [(await text_embedder.run_async("hi"))["embedding"], text_embedder.run("hi")["embedding"]]
    assert _cosines(vectors[:1], vectors[1:])[0] >= 0.99999


@pytest.mark.slow
def test_meta_fields_are_embedded_with_the_text(server_env: LocalServer) -> None:
    reference = AlephAlphaEmbeddings()
    document = Document(content=DOCUMENTS[0], meta={"title": "Paris", "year": 1889, "missing": None})
    embedder = AlephAlphaDocumentEmbedder(meta_fields_to_embed=["title", "year", "missing"], embedding_separator=" | ")
    [embedded] = embedder.run([document])["documents"]
    expected = reference.embed_documents([f"Paris | 1889 | {DOCUMENTS[0]}"])
    assert _cosines([embedded.embedding], expected)[0] >= 0.99999
    assert document.embedding is None  # the input is left as it was
    assert embedded.id == document.id and embedded.meta == document.meta


@pytest.mark.slow
def test_an_empty_document_follows_empty_text(server_env: LocalServer) -> None:
    documents = [Document(content=""), Document(content=DOCUMENTS[0])]
    with pytest.raises(EmptyTextError):
        AlephAlphaDocumentEmbedder(progress_bar=False).run(documents)
    skipped = AlephAlphaDocumentEmbedder(progress_bar=False, empty_text="skip").run(documents)["documents"]
    assert not any(skipped[0].embedding) and any(skipped[1].embedding)


def _indexing(store: InMemoryDocumentStore, **options: Any) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("embedder", AlephAlphaDocumentEmbedder(progress_bar=False, **options))
    pipeline.add_component("writer", DocumentWriter(document_store=store))
    pipeline.connect("embedder.documents", "writer.documents")
    return pipeline


def _query(store: InMemoryDocumentStore, **options: Any) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("embedder", AlephAlphaTextEmbedder(**options))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=1))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    return pipeline


def _answers(pipeline: Pipeline) -> dict[str, str]:
    return {q: pipeline.run({"embedder": {"text": q}})["retriever"]["documents"][0].content for q in QUESTIONS}


def _expected() -> dict[str, str]:
    return {question: DOCUMENTS[index] for question, index in QUESTIONS.items()}


@pytest.mark.slow
def test_pipelines_find_the_right_documents(server_env: LocalServer) -> None:
    store = InMemoryDocumentStore(index="haystack-sync")
    written = _indexing(store).run({"embedder": {"documents": [Document(content=t) for t in DOCUMENTS]}})
    assert written["writer"]["documents_written"] == len(DOCUMENTS)
    assert _answers(_query(store)) == _expected()


@pytest.mark.slow
async def test_async_pipelines_find_the_right_documents(
    server_env: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = InMemoryDocumentStore(index="haystack-async")
    indexing, query = _indexing(store), _query(store)
    for pipeline in (indexing, query):  # the pipeline awaits run_async; a thread running run would fail
        monkeypatch.setattr(pipeline.get_component("embedder"), "run", None)
    await indexing.run_async({"embedder": {"documents": [Document(content=t) for t in DOCUMENTS]}})
    for question, index in QUESTIONS.items():
        result = await query.run_async({"embedder": {"text": question}})
        assert result["retriever"]["documents"][0].content == DOCUMENTS[index]


@pytest.mark.slow
def test_a_saved_pipeline_has_no_token_and_loads_with_the_default_allowlist(server_env: LocalServer) -> None:
    store = InMemoryDocumentStore(index="haystack-yaml")
    options = {"endpoint": "semantic", "prefix": ""}
    indexing = Pipeline.loads(_indexing(store, **options).dumps())
    indexing.run({"embedder": {"documents": [Document(content=t) for t in DOCUMENTS]}})
    saved = _query(store, **options).dumps()
    assert SENTINEL_TOKEN not in saved and "AA_TOKEN" in saved
    assert "haystack_integrations.components.embedders.aleph_alpha" in saved
    loaded = Pipeline.loads(saved)  # the same in-memory index by name: the documents written above
    assert loaded.get_component("embedder").to_dict() == _query(store, **options).get_component("embedder").to_dict()
    assert _answers(loaded) == _expected()


def test_a_pipeline_from_elsewhere_is_still_refused(server_env: LocalServer) -> None:
    """The default allowlist admits `haystack_integrations`, nothing else: a class outside it is refused."""
    saved = _query(InMemoryDocumentStore()).dumps().replace(
        "haystack_integrations.components.embedders.aleph_alpha.text_embedder.AlephAlphaTextEmbedder",
        "aleph_embed_langchain.AlephAlphaEmbeddings",
    )
    with pytest.raises(DeserializationError):
        Pipeline.loads(saved)
