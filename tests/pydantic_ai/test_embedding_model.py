"""`AlephAlphaEmbeddingModel` in Pydantic AI's `Embedder` against the local /embed server: LangChain's vectors for the
same settings (queries and documents through their own requests), sync and async, usage, settings and errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic_ai import Embedder
from pydantic_ai.embeddings import EmbeddingModel
from pydantic_ai.models import override_allow_model_requests

from aleph_embed import ConfigurationError, TextEmbedError
from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings
from aleph_embed_pydantic_ai import AlephAlphaEmbeddingModel

from ..support.corpora import DOCUMENTS, QUESTIONS

OPTION_SETS = {
    "embed": {},
    "embed-options": {"layer": -2, "pooling": "max", "normalize": False},
    "semantic": {"endpoint": "semantic"},
    "instructable": {"endpoint": "instructable", "document_instruction": "Represent the passage for retrieval"},
    "openai": {"endpoint": "openai"},
}


def _cosines(left: Any, right: Any) -> list[float]:
    a, b = np.asarray(left), np.asarray(right)
    return list((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


@pytest.fixture
def server(embed_server: LocalServer) -> dict[str, Any]:
    return {"model": embed_server.default_model, "host": embed_server.host, "token": embed_server.token}


def test_it_is_an_embedding_model_and_checks_its_options_at_construction(server: dict[str, Any]) -> None:
    model = AlephAlphaEmbeddingModel(**server, endpoint="semantic")
    assert isinstance(model, EmbeddingModel)
    assert (model.model_name, model.system, model.base_url) == (server["model"], "aleph-alpha", server["host"])
    with pytest.raises(ValueError, match="pooling"):
        AlephAlphaEmbeddingModel(**server, pooling="median")
    with pytest.raises(ValueError, match="no_such_option"):
        AlephAlphaEmbeddingModel(**server, no_such_option=1)
    with pytest.raises(ConfigurationError):
        AlephAlphaEmbeddingModel(server["model"], host="ftp://example.org")


def test_the_token_never_shows(server: dict[str, Any]) -> None:
    model = AlephAlphaEmbeddingModel(**{**server, "token": "sk-pydantic-ai-secret"})
    assert "sk-pydantic-ai-secret" not in repr(model)


@pytest.mark.slow
@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
async def test_vectors_equal_langchains_for_the_same_settings(server: dict[str, Any], options: dict[str, Any]) -> None:
    prefixes = {"query_prefix": "query: ", "document_prefix": "passage: "}
    reference = AlephAlphaEmbeddings(**server, **prefixes, **options)
    embedder = Embedder(AlephAlphaEmbeddingModel(**server, **prefixes, **options))
    questions = list(QUESTIONS)
    documents = await embedder.embed_documents(DOCUMENTS)
    queries = await embedder.embed_query(questions)
    assert min(_cosines(documents.embeddings, reference.embed_documents(DOCUMENTS))) >= 0.99999
    assert min(_cosines(queries.embeddings, [reference.embed_query(q) for q in questions])) >= 0.99999
    assert (documents.input_type, queries.input_type) == ("document", "query")
    assert list(documents.inputs) == DOCUMENTS and documents[DOCUMENTS[1]] == documents.embeddings[1]
    assert (documents.model_name, documents.provider_name) == (server["model"], "aleph-alpha")


@pytest.mark.slow
def test_sync_methods_give_the_async_vectors(server: dict[str, Any]) -> None:
    reference = AlephAlphaEmbeddings(**server)
    embedder = Embedder(AlephAlphaEmbeddingModel(**server))
    documents = embedder.embed_documents_sync(DOCUMENTS).embeddings
    assert min(_cosines(documents, reference.embed_documents(DOCUMENTS))) >= 0.99999
    assert _cosines(embedder.embed_query_sync("hello").embeddings, [reference.embed_query("hello")])[0] >= 0.99999


@pytest.mark.slow
async def test_usage_counts_the_prompt_tokens_of_the_call(server: dict[str, Any]) -> None:
    model = AlephAlphaEmbeddingModel(**server)
    embedder = Embedder(model)
    one = await embedder.embed_query("Where is the Eiffel Tower?")
    both = await embedder.embed_documents(["Where is the Eiffel Tower?", "Where is the Eiffel Tower?"])
    assert one.usage.input_tokens > 0
    assert both.usage.input_tokens == 2 * one.usage.input_tokens  # per call, not the client's running total
    assert await embedder.count_tokens("Where is the Eiffel Tower?") == one.usage.input_tokens
    assert await embedder.max_input_tokens() == 512


@pytest.mark.slow
async def test_settings_truncate_and_dimensions(server: dict[str, Any]) -> None:
    long_text = "word " * 2000
    embedder = Embedder(AlephAlphaEmbeddingModel(**server))
    with pytest.raises(TextEmbedError):
        await embedder.embed_documents([long_text])
    truncated = await embedder.embed_documents([long_text], settings={"truncate": True})
    reference = AlephAlphaEmbeddings(**server, long_text="truncate").embed_documents([long_text])
    assert _cosines(truncated.embeddings, reference)[0] >= 0.99999
    with pytest.raises(ValueError, match="dimensions"):  # an /embeddings option on /embed
        await embedder.embed_query("x", settings={"dimensions": 8})


def test_it_respects_allow_model_requests(server: dict[str, Any]) -> None:
    embedder = Embedder(AlephAlphaEmbeddingModel(**server))
    with override_allow_model_requests(False), pytest.raises(RuntimeError, match="ALLOW_MODEL_REQUESTS"):
        embedder.embed_query_sync("x")
