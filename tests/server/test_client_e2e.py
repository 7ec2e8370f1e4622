"""The project's own clients against the real local server."""

from __future__ import annotations

import numpy as np
import pytest

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbeddingSettings, EmbedRequest, UnknownModelError
from aleph_embed.server.launcher import DEFAULT_MODEL_NAME, LocalServer

TEXTS = ["first document", "second document about cats", "a third one, longer than the others by a bit"]


def test_sync_client(embed_server: LocalServer, embed_client: EmbedClient) -> None:
    (info,) = embed_client.models_available()
    assert (info.name, info.max_context_size) == (DEFAULT_MODEL_NAME, 512)
    response = embed_client.embed(EmbedRequest(model=DEFAULT_MODEL_NAME, prompt="cats", layers=[0, -2, -1]))
    assert set(response.embeddings or {}) == {"layer_0", "layer_5", "layer_6"}
    assert response.vector(-2, "mean") == response.vector(5, "mean")
    assert response.vector(-1, "mean") != response.vector(-2, "mean")
    requests = [EmbedRequest(model=DEFAULT_MODEL_NAME, prompt=text, layers=[-1]) for text in TEXTS]
    together = [response.vector(-1, "mean") for response in embed_client.embed_many(requests)]
    alone = [embed_client.embed(request).vector(-1, "mean") for request in requests]
    np.testing.assert_allclose(together, alone, atol=2e-5)
    with pytest.raises(UnknownModelError) as raised:
        embed_client.embed(EmbedRequest(model="nope", prompt="x"))
    assert raised.value.code == "UNKNOWN_MODEL"


async def test_async_client_embed_texts(embed_server: LocalServer) -> None:
    settings = EmbeddingSettings(model=embed_server.default_model)
    async with AsyncEmbedClient(embed_server.host, embed_server.token) as client:
        vectors = await client.embed_texts(TEXTS, settings)
        (info,) = await client.models_available()
    assert info.name == embed_server.default_model
    assert len(vectors) == 3 and all(len(vector) == 384 for vector in vectors)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = np.asarray(vectors) @ np.asarray(vectors).T
    assert similarity[0, 1] > similarity[1, 2]
    assert client.usage.requests == 3 and client.usage.prompt_tokens > 3
