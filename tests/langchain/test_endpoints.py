"""One adapter, several endpoints: LangChain's standard suite for each endpoint, and the drop-ins for
langchain-community's classes giving the vectors those classes give, all against the local server."""

from __future__ import annotations

import warnings
import numpy as np
import pytest
from langchain_core.vectorstores import InMemoryVectorStore

from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import (
    AlephAlphaAsymmetricSemanticEmbedding,
    AlephAlphaEmbeddings,
    AlephAlphaSymmetricSemanticEmbedding,
)

from ..support.corpora import DOCUMENTS, QUESTIONS
from .test_embeddings_integration import LocalServerSuite

pytestmark = pytest.mark.slow


class TestSemanticEndpoint(LocalServerSuite):
    options = {"endpoint": "semantic"}


class TestInstructableEndpoint(LocalServerSuite):
    options = {"endpoint": "instructable"}


class TestOpenAIEndpoint(LocalServerSuite):
    options = {"endpoint": "openai"}


class TestAsymmetricDropIn(LocalServerSuite):
    embeddings_type = AlephAlphaAsymmetricSemanticEmbedding


class TestSymmetricDropIn(LocalServerSuite):
    embeddings_type = AlephAlphaSymmetricSemanticEmbedding


@pytest.mark.parametrize("endpoint", ["embed", "semantic", "instructable", "openai"])
async def test_every_endpoint_finds_the_right_document(embed_server: LocalServer, endpoint: str) -> None:
    embeddings = AlephAlphaEmbeddings(model=embed_server.default_model, host=embed_server.host, endpoint=endpoint)
    store = await InMemoryVectorStore.afrom_texts(DOCUMENTS, embeddings)
    for question, answer in QUESTIONS.items():
        assert [d.page_content for d in await store.asimilarity_search(question, k=1)] == [DOCUMENTS[answer]]


def cosines(a: list[list[float]], b: list[list[float]]) -> list[float]:
    x, y = np.array(a), np.array(b)
    return list((x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)))


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("normalize", [False, True])
async def test_drop_ins_give_langchain_communitys_vectors(embed_server: LocalServer, symmetric: bool, normalize: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain-community announces its sunset
        from langchain_community.embeddings import aleph_alpha as community

    name = "AlephAlphaSymmetricSemanticEmbedding" if symmetric else "AlephAlphaAsymmetricSemanticEmbedding"
    arguments = {"model": embed_server.default_model, "host": embed_server.host, "aleph_alpha_api_key": "unused",
                 "normalize": normalize, "contextual_control_threshold": None, "control_log_additive": True}
    # The original needs every client argument spelled out (a KeyError otherwise); ours takes the same ones.
    client_arguments = {"hosting": None, "request_timeout_seconds": 305, "total_retries": 8, "nice": False}
    old = getattr(community, name)(**arguments, **client_arguments)
    new = {"symmetric": AlephAlphaSymmetricSemanticEmbedding, "asymmetric": AlephAlphaAsymmetricSemanticEmbedding}[
        "symmetric" if symmetric else "asymmetric"
    ](**arguments)
    texts = DOCUMENTS[:5]
    assert min(cosines(old.embed_documents(texts), new.embed_documents(texts))) >= 0.99999
    assert min(cosines(old.embed_documents(texts), await new.aembed_documents(texts))) >= 0.99999
    query = next(iter(QUESTIONS))
    assert min(cosines([old.embed_query(query)], [new.embed_query(query), await new.aembed_query(query)])) >= 0.99999
    assert np.allclose(old.embed_query(query), new.embed_query(query), atol=1e-5)  # the same scale too


def test_drop_ins_take_the_originals_arguments_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AA_HOST", "AA_MODEL", "AA_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALEPH_ALPHA_API_KEY", "from-env")
    embeddings = AlephAlphaAsymmetricSemanticEmbedding(
        compress_to_size=128, hosting="aleph-alpha", nice=True, request_timeout_seconds=30, total_retries=2,
        contextual_control_threshold=0.5, control_log_additive=False,
    )
    assert (embeddings.host, embeddings.model) == ("https://api.aleph-alpha.com", "luminous-base")  # no KeyError
    assert embeddings.token is not None and embeddings.token.get_secret_value() == "from-env"
    assert (embeddings.timeout, embeddings.max_retries, embeddings.normalize) == (30, 2, False)
    settings = embeddings.embedding_settings
    request = settings.calls(["a"], "query")[0]
    assert request.body() == {
        "model": "luminous-base", "prompt": "a", "representation": "query", "compress_to_size": 128,
        "hosting": "aleph-alpha", "normalize": False, "contextual_control_threshold": 0.5, "control_log_additive": False,
    }
    assert request.params() == {"nice": "true"}
    symmetric = AlephAlphaSymmetricSemanticEmbedding(aleph_alpha_api_key="given", host="http://127.0.0.1:9")
    assert [call.body()["representation"] for call in symmetric.embedding_settings.calls(["a", "b"], "document")] == ["symmetric"]
    with pytest.raises(ValueError, match="name the same setting"):
        AlephAlphaAsymmetricSemanticEmbedding(aleph_alpha_api_key="a", token="b")
