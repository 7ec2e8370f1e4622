"""TextEmbedder: the plain embedder core every framework holds (prefixes, sides, clients, policies)."""

from __future__ import annotations

import asyncio

import pytest

from aleph_embed import ConfigurationError, EmbedClient, EmbeddingSettings, TextEmbedder
from aleph_embed.server.launcher import LocalServer
from aleph_embed_langchain import AlephAlphaEmbeddings

from ..support.fake_api import HOST, MODEL, FakeEmbedAPI


def embedder(api: FakeEmbedAPI, **options: object) -> TextEmbedder:
    settings = EmbeddingSettings(model=MODEL)
    return TextEmbedder(settings, host=HOST, **api.http_clients(), **options)  # type: ignore[arg-type]


def test_prefixes_by_side_in_input_order() -> None:
    api = FakeEmbedAPI()
    texts = TextEmbedder.__name__, "b" * 7, "c" * 3
    embed = embedder(api, query_prefix="q: ", document_prefix="passage: ")
    assert [vector[0] for vector in embed.embed_texts(list(texts))] == [len("passage: ") + len(t) for t in texts]
    assert [vector[0] for vector in embed.embed_texts(["abc"], side="query")] == [len("q: abc")]
    assert api.prompts()[-1] == "q: abc"
    assert set(api.prompts()[:3]) == {"passage: " + text for text in texts}


def test_async_runs_many_calls_in_flight_bounded_by_concurrency() -> None:
    api = FakeEmbedAPI()
    embed = embedder(api, concurrency=3)
    vectors = asyncio.run(embed.aembed_texts(["x" * (index + 1) for index in range(12)]))
    assert [vector[0] for vector in vectors] == [float(index + 1) for index in range(12)]
    assert api.max_in_flight == 3


def test_one_async_client_per_event_loop_and_one_sync_client() -> None:
    embed = embedder(FakeEmbedAPI())

    async def current() -> object:
        return embed.async_client

    async def twice() -> tuple[object, object]:
        return embed.async_client, embed.async_client

    first, again = asyncio.run(twice())
    assert first is again
    assert asyncio.run(current()) is not first  # a new loop, a new pool
    assert embed.client is embed.client
    assert isinstance(embed.client, EmbedClient)


def test_replace_shares_the_clients_with_other_settings() -> None:
    api = FakeEmbedAPI()
    embed = embedder(api, query_prefix="q: ")
    other = embed.replace(settings=EmbeddingSettings(model=MODEL, empty_text="skip"))
    assert other.client is embed.client and other.query_prefix == "q: "
    assert other.embed_texts(["", "x"]) == [[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    assert api.prompts() == ["x"]


def test_host_from_environment_or_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AA_HOST", raising=False)
    monkeypatch.setenv("AA_SERVER_IDLE", "0")  # no shared local server to fall back on
    with pytest.raises(ConfigurationError, match="No host"):
        TextEmbedder(EmbeddingSettings(model=MODEL))
    monkeypatch.setenv("AA_HOST", HOST + "/")
    assert TextEmbedder(EmbeddingSettings(model=MODEL)).host == HOST
    with pytest.raises(ConfigurationError, match="concurrency"):
        TextEmbedder(EmbeddingSettings(model=MODEL), concurrency=0)


def test_same_vectors_as_the_client_and_the_langchain_adapter(embed_server: LocalServer) -> None:
    """Through the real local server, long texts averaged: the embedder, the pydantic adapter built on it and the
    core client agree exactly."""
    settings = EmbeddingSettings(model=embed_server.default_model, long_text="average")
    texts = ["a short text", "long " * 700]
    embed = TextEmbedder(settings, host=embed_server.host, token=embed_server.token, document_prefix="d: ")
    adapter = AlephAlphaEmbeddings(
        model=embed_server.default_model, host=embed_server.host, token=embed_server.token, long_text="average",
        document_prefix="d: ",
    )
    with EmbedClient(embed_server.host, embed_server.token) as client:
        expected = client.embed_texts(texts, settings, prefix="d: ")
    assert embed.embed_texts(texts) == expected
    assert asyncio.run(embed.aembed_texts(texts)) == expected
    assert adapter.embed_documents(texts) == expected
    assert embed.count_tokens("long " * 700) > 512
