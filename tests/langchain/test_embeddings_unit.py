"""AlephAlphaEmbeddings against a fake /embed (httpx.MockTransport): options, order, concurrency, errors."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, ClassVar

import httpx
import pytest
from langchain_tests.unit_tests import EmbeddingsUnitTests

from aleph_embed import ConfigurationError, EmptyTextError, TextEmbedError
from aleph_embed_langchain import (
    AlephAlphaAsymmetricSemanticEmbedding,
    AlephAlphaEmbeddings,
    AlephAlphaSymmetricSemanticEmbedding,
)

from ..support.fake_api import HOST, LONG_MARKER, MODEL, TOKEN, FakeEmbedAPI


class TestAlephAlphaEmbeddingsStandard(EmbeddingsUnitTests):
    options: ClassVar[dict[str, Any]] = {}
    embeddings_type: ClassVar[type[AlephAlphaEmbeddings]] = AlephAlphaEmbeddings

    @property
    def embeddings_class(self) -> type[AlephAlphaEmbeddings]:
        return self.embeddings_type

    @property
    def embedding_model_params(self) -> dict:
        return {"model": MODEL, "host": HOST, **self.options}

    @property
    def init_from_env_params(self) -> tuple[dict, dict, dict]:
        return (
            {"AA_HOST": HOST, "AA_TOKEN": TOKEN, "AA_MODEL": MODEL},
            {},
            {"host": HOST, "token": TOKEN, "model": MODEL},
        )


class TestSemanticEndpointStandard(TestAlephAlphaEmbeddingsStandard):
    options = {"endpoint": "semantic", "symmetric": True, "compress_to_size": 128}


class TestInstructableEndpointStandard(TestAlephAlphaEmbeddingsStandard):
    options = {"endpoint": "instructable", "query_instruction": "Find the passage"}


class TestOpenAIEndpointStandard(TestAlephAlphaEmbeddingsStandard):
    options = {"endpoint": "openai", "dimensions": 64}


class TestAsymmetricDropInStandard(TestAlephAlphaEmbeddingsStandard):
    embeddings_type = AlephAlphaAsymmetricSemanticEmbedding


class TestSymmetricDropInStandard(TestAlephAlphaEmbeddingsStandard):
    embeddings_type = AlephAlphaSymmetricSemanticEmbedding


@pytest.fixture
def api() -> FakeEmbedAPI:
    return FakeEmbedAPI()


@pytest.fixture
def embeddings(api: FakeEmbedAPI) -> AlephAlphaEmbeddings:
    return AlephAlphaEmbeddings(model=MODEL, host=HOST, token=TOKEN, **api.http_clients())


def test_construction_makes_no_call(api: FakeEmbedAPI, embeddings: AlephAlphaEmbeddings) -> None:
    assert api.requests == []


def test_an_option_of_another_endpoint_is_an_error(api: FakeEmbedAPI) -> None:
    with pytest.raises(ValueError, match="compress_to_size"):
        AlephAlphaEmbeddings(model=MODEL, host=HOST, endpoint="embed", compress_to_size=128)
    auto = AlephAlphaEmbeddings(model=MODEL, host=HOST, compress_to_size=128, **api.http_clients())
    with pytest.raises(ConfigurationError, match=r"endpoint 'embed' \(endpoint='auto'\).*compress_to_size"):
        auto.embed_query("x")  # the host has no /model-settings: `auto` is /embed, which has no compress_to_size
    assert api.requests == []


def test_missing_model_and_host_say_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("AA_HOST", "AA_MODEL", "AA_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ValueError, match="pass model=... or set AA_MODEL"):
        AlephAlphaEmbeddings(host=HOST)
    monkeypatch.setenv("AA_SERVER_IDLE", "0")  # no shared local server to fall back on
    with pytest.raises(ValueError, match="AA_HOST"):
        AlephAlphaEmbeddings(model=MODEL)
    with pytest.raises(ValueError, match="must start with http"):
        AlephAlphaEmbeddings(model=MODEL, host="inference.example")


def test_token_never_in_repr(embeddings: AlephAlphaEmbeddings) -> None:
    assert TOKEN not in repr(embeddings) and TOKEN not in str(embeddings.model_dump())


def test_documents_keep_order_with_many_calls_in_flight(api: FakeEmbedAPI, embeddings: AlephAlphaEmbeddings) -> None:
    texts = ["x" * n for n in range(1, 65)]
    vectors = embeddings.embed_documents(texts)
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]
    assert all(type(x) is float for v in vectors for x in v)
    assert api.max_in_flight >= 8
    assert embeddings.embed_documents([]) == []


async def test_async_documents_keep_order_with_many_calls_in_flight(
    api: FakeEmbedAPI, embeddings: AlephAlphaEmbeddings
) -> None:
    texts = ["y" * n for n in range(1, 65)]
    vectors = await embeddings.aembed_documents(texts)
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]
    assert api.max_in_flight >= 8
    assert await embeddings.aembed_documents([]) == []


async def test_prefixes_go_in_front_of_queries_and_documents(api: FakeEmbedAPI) -> None:
    embeddings = AlephAlphaEmbeddings(
        model=MODEL, host=HOST, query_prefix="query: ", document_prefix="passage: ", **api.http_clients()
    )
    embeddings.embed_query("a")
    embeddings.embed_documents(["b"])
    await embeddings.aembed_query("c")
    await embeddings.aembed_documents(["d"])
    assert api.prompts() == ["query: a", "passage: b", "query: c", "passage: d"]


def test_options_reach_the_request(api: FakeEmbedAPI) -> None:
    embeddings = AlephAlphaEmbeddings(
        model=MODEL, host=HOST, token=TOKEN, layer=3, pooling="max", normalize=False, hosting="aleph-alpha",
        nice=True, control_log_additive=False, contextual_control_threshold=0.5, **api.http_clients(),
    )
    assert embeddings.embed_query("hi") == [2.0, 1.0, 0.0]
    [request] = api.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.url.params["nice"] == "true"
    assert api.bodies() == [
        {"model": MODEL, "prompt": "hi", "layers": [3], "pooling": ["max"], "hosting": "aleph-alpha",
         "tokens": False, "normalize": False, "contextual_control_threshold": 0.5, "control_log_additive": False}
    ]


def test_client_options_are_forwarded_and_clients_reused(api: FakeEmbedAPI) -> None:
    embeddings = AlephAlphaEmbeddings(
        model=MODEL, host=HOST, concurrency=4, max_retries=2, timeout=7.5, **api.http_clients()
    )
    embeddings.embed_documents(["z" * n for n in range(1, 21)])
    client = embeddings.client
    assert (client.concurrency, client.retry_policy.max_retries, client.timeout.read) == (4, 2, 7.5)
    assert api.max_in_flight <= 4
    embeddings.embed_query("again")
    assert embeddings.client is client


def test_async_client_follows_the_event_loop() -> None:
    embeddings = AlephAlphaEmbeddings(model=MODEL, host=HOST)

    async def clients() -> tuple[object, object]:
        return embeddings.async_client, embeddings.async_client

    first, same = asyncio.run(clients())
    second, _ = asyncio.run(clients())
    assert first is same and second is not first


async def test_deep_copy_has_its_own_clients_and_shares_the_given_pools(
    api: FakeEmbedAPI, embeddings: AlephAlphaEmbeddings
) -> None:
    pristine = copy.deepcopy(AlephAlphaEmbeddings(model=MODEL, host=HOST))
    assert pristine.model == MODEL
    embeddings.embed_query("warm")
    await embeddings.aembed_query("warm")
    clone = copy.deepcopy(embeddings)
    assert clone.model_dump() == embeddings.model_dump() and clone.token == embeddings.token
    assert clone.client is not embeddings.client and clone.async_client is not embeddings.async_client
    assert (clone.http_client, clone.http_async_client) == (embeddings.http_client, embeddings.http_async_client)
    assert await clone.aembed_documents(["abc"]) == [[3.0, 1.0, 0.0]]


def test_empty_text_is_an_error_naming_its_index(api: FakeEmbedAPI, embeddings: AlephAlphaEmbeddings) -> None:
    with pytest.raises(EmptyTextError, match=r"text 1 is empty.*empty_text='placeholder'.*empty_text='skip'"):
        embeddings.embed_documents(["fine", "  "])
    assert api.requests == []


async def test_empty_text_skip_gives_zero_vectors_and_placeholder_embeds_it(api: FakeEmbedAPI) -> None:
    skip = AlephAlphaEmbeddings(model=MODEL, host=HOST, empty_text="skip", **api.http_clients())
    assert await skip.aembed_documents(["", "abc"]) == [[0.0, 0.0, 0.0], [3.0, 1.0, 0.0]]
    assert skip.embed_documents(["", " "]) == [[0.0, 0.0, 0.0]] * 2  # a probe call learns the size
    placeholder = AlephAlphaEmbeddings(
        model=MODEL, host=HOST, empty_text="placeholder", placeholder="nothing", **api.http_clients()
    )
    assert placeholder.embed_documents([""]) == [[7.0, 1.0, 0.0]]
    assert api.prompts() == ["abc", "(empty)", "nothing"]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_text_over_the_context_is_named_by_its_index(api: FakeEmbedAPI, asynchronous: bool) -> None:
    embeddings = AlephAlphaEmbeddings(model=MODEL, host=HOST, empty_text="skip", **api.http_clients())
    texts = ["", "short", f"a {LONG_MARKER} text", "fine"]
    with pytest.raises(TextEmbedError) as caught:
        if asynchronous:
            await embeddings.aembed_documents(texts)
        else:
            embeddings.embed_documents(texts)
    message = str(caught.value)
    assert message.startswith("text 2 ('a TOO-LONG text'...): BadRequestError: 400 PAYLOAD_ERROR: prompt has 700 tokens")
    assert "long_text='truncate' or 'average'" in message and "item" not in message
    assert set(caught.value.errors) == {2}
    assert [r is not None for r in caught.value.results] == [False, True, False, True]
