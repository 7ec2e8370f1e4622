"""AlephAlphaEmbedding against a fake /embed (httpx.MockTransport): LlamaIndex's methods, batching, secrets."""

from __future__ import annotations

import pytest

from aleph_embed import TextEmbedError
from aleph_embed_llamaindex import AlephAlphaEmbedding

from ..support.fake_api import HOST, LONG_MARKER, MODEL, TOKEN, FakeEmbedAPI


@pytest.fixture
def api() -> FakeEmbedAPI:
    return FakeEmbedAPI()


@pytest.fixture
def embed_model(api: FakeEmbedAPI) -> AlephAlphaEmbedding:
    return AlephAlphaEmbedding(
        model_name=MODEL, host=HOST, token=TOKEN, query_prefix="q: ", document_prefix="d: ", **api.http_clients()
    )


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AA_HOST", HOST)
    monkeypatch.setenv("AA_MODEL", MODEL)
    monkeypatch.setenv("AA_TOKEN", TOKEN)
    embed_model = AlephAlphaEmbedding()
    assert (embed_model.model_name, embed_model.host, embed_model.token.get_secret_value()) == (MODEL, HOST, TOKEN)
    assert embed_model.embed_batch_size >= 100 and embed_model.num_workers is None
    monkeypatch.delenv("AA_MODEL")
    with pytest.raises(ValueError, match="pass model_name=... or set AA_MODEL"):
        AlephAlphaEmbedding()
    with pytest.raises(ValueError, match="num_worker"):
        AlephAlphaEmbedding(num_worker=4)


def test_secrets_never_serialized(embed_model: AlephAlphaEmbedding) -> None:
    for shown in (repr(embed_model), str(embed_model.to_dict()), embed_model.to_json()):
        assert TOKEN not in shown
    assert embed_model.to_dict()["class_name"] == "AlephAlphaEmbedding"
    restored = AlephAlphaEmbedding.from_json(embed_model.to_json())
    assert (restored.model_name, restored.pooling, restored.document_prefix) == (MODEL, "mean", "d: ")


def test_batch_has_many_calls_in_flight_and_keeps_order(api: FakeEmbedAPI, embed_model: AlephAlphaEmbedding) -> None:
    texts = ["t" * n for n in range(1, 301)]
    vectors = embed_model.get_text_embedding_batch(texts)
    assert [v[0] for v in vectors] == [float(len(t) + 3) for t in texts]
    assert api.max_in_flight >= 8


async def test_async_batch_has_many_calls_in_flight_and_keeps_order(
    api: FakeEmbedAPI, embed_model: AlephAlphaEmbedding
) -> None:
    texts = ["t" * n for n in range(1, 301)]
    vectors = await embed_model.aget_text_embedding_batch(texts)
    assert [v[0] for v in vectors] == [float(len(t) + 3) for t in texts]
    assert api.max_in_flight >= 8


async def test_queries_and_texts_get_their_prefixes(api: FakeEmbedAPI, embed_model: AlephAlphaEmbedding) -> None:
    embed_model.get_query_embedding("a")
    embed_model.get_text_embedding("b")
    await embed_model.aget_query_embedding("c")
    await embed_model.aget_text_embedding("d")
    assert api.prompts() == ["q: a", "d: b", "q: c", "d: d"]


def test_text_over_the_context_is_named_by_its_index(embed_model: AlephAlphaEmbedding) -> None:
    with pytest.raises(TextEmbedError, match=r"^text 1 \(.*\): BadRequestError: 400 PAYLOAD_ERROR: prompt has 700 tokens"):
        embed_model.get_text_embedding_batch(["ok", LONG_MARKER, "ok"])


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_the_index_is_in_the_callers_list_not_in_a_batch(api: FakeEmbedAPI, asynchronous: bool) -> None:
    embed_model = AlephAlphaEmbedding(model_name=MODEL, host=HOST, embed_batch_size=4, **api.http_clients())
    texts = [f"text number {i}" for i in range(10)]
    texts[9] = f"the {LONG_MARKER} one"
    with pytest.raises(TextEmbedError) as caught:
        if asynchronous:
            await embed_model.aget_text_embedding_batch(texts)
        else:
            embed_model.get_text_embedding_batch(texts)
    assert list(caught.value.errors) == [9] and str(caught.value).startswith("text 9 ('the TOO-LONG one'...)")
    assert len(caught.value.results) == 10
