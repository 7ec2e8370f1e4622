"""The clients against the real local server and its real model: the same calls as the unit tests, end to end."""

from __future__ import annotations

import math

import pytest

from aleph_embed import (
    AsyncEmbedClient,
    BadRequestError,
    BatchEmbedError,
    EmbedClient,
    EmbeddingSettings,
    EmbedRequest,
    Text,
    TextControl,
    TokenIds,
    UnknownModelError,
)
from aleph_embed.server.launcher import LocalServer

pytestmark = pytest.mark.slow


def test_embed_every_field(embed_client: EmbedClient, embed_server: LocalServer) -> None:
    request = EmbedRequest(
        model=embed_server.default_model,
        prompt=[Text("The quick brown fox", controls=[TextControl(start=4, length=5, factor=0.5, token_overlap="complete")])],
        layers=[0, 3, -1],
        pooling=["mean", "weighted_mean", "max", "last_token", "abs_max"],
        tokens=True,
        normalize=True,
        hosting="aleph-alpha",
        contextual_control_threshold=0.9,
        control_log_additive=False,
        nice=True,
    )
    response = embed_client.embed(request)
    assert set(response.embeddings) == {"layer_0", "layer_3", "layer_6"}
    assert response.vector(-1, "mean") == response.embeddings["layer_6"]["mean"]
    for layer in request.layers:
        for pooling in request.pooling:
            assert math.isclose(math.fsum(v * v for v in response.vector(layer, pooling)), 1.0, rel_tol=1e-4)
    assert response.tokens and response.num_tokens_prompt_total == len(response.tokens)


def test_token_ids_and_models_available(embed_client: EmbedClient, embed_server: LocalServer) -> None:
    (model,) = [m for m in embed_client.models_available() if m.name == embed_server.default_model]
    assert model.max_context_size == 512
    text = embed_client.embed(EmbedRequest(model=model.name, prompt="hello", tokens=True))
    assert text.vector(-1, "mean")
    ids = embed_client.embed(EmbedRequest(model=model.name, prompt=[TokenIds([7592])]))
    assert ids.vector(-1, "mean") == pytest.approx(text.vector(-1, "mean"), abs=1e-5)


def test_errors_are_typed(embed_client: EmbedClient, embed_server: LocalServer) -> None:
    with pytest.raises(UnknownModelError):
        embed_client.embed(EmbedRequest(model="no-such-model", prompt="x"))
    with pytest.raises(BadRequestError, match="context"):
        embed_client.embed(EmbedRequest(model=embed_server.default_model, prompt="word " * 1000))
    with pytest.raises(BadRequestError):
        embed_client.embed(EmbedRequest(model=embed_server.default_model, prompt="x", layers=[40]))


async def test_sync_and_async_embed_many_agree(embed_client: EmbedClient, embed_server: LocalServer) -> None:
    texts = [f"sentence number {i} about {topic}" for i, topic in enumerate(["cats", "ships", "rain", "tea"] * 10)]
    settings = EmbeddingSettings(model=embed_server.default_model)
    vectors = embed_client.embed_texts(texts, settings)
    async with AsyncEmbedClient(embed_server.host) as client:
        avectors = await client.embed_texts(texts, settings)
        with pytest.raises(BatchEmbedError) as caught:
            await client.embed_many([settings.request("fine"), settings.request("long " * 1000)])
    assert caught.value.results[0] is not None and list(caught.value.errors) == [1]
    for one, other in zip(vectors, avectors):
        assert one == pytest.approx(other, abs=1e-5)
    single = embed_client.embed(settings.request(texts[5])).vector(-1, "mean")
    assert vectors[5] == pytest.approx(single, abs=1e-5)
