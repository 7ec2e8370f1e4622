"""Aleph Alpha's own public client (`aleph-alpha-client`) embeds against the local server and parses the answers."""

from __future__ import annotations

import numpy as np
from aleph_alpha_client import (
    AsyncClient,
    Client,
    ControlTokenOverlap,
    EmbeddingRequest,
    Prompt,
    Text,
    TextControl,
    Tokens,
)

from aleph_embed import EmbedClient, EmbedRequest
from aleph_embed.server.launcher import LocalServer

from .test_fidelity import ATOL

TEXT = "The public client speaks the same contract."


def test_public_client_embeds_and_parses(embed_server: LocalServer, embed_client: EmbedClient) -> None:
    client = Client(token=embed_server.token or "unused", host=embed_server.host)
    request = EmbeddingRequest(prompt=Prompt.from_text(TEXT), layers=[0, -1], pooling=["mean", "max"], tokens=True)
    response = client.embed(request, model=embed_server.default_model)
    assert response.embeddings is not None
    assert set(response.embeddings) == {("layer_0", "mean"), ("layer_0", "max"), ("layer_6", "mean"), ("layer_6", "max")}
    assert response.tokens is not None and response.tokens[0] == "[CLS]"
    assert response.num_tokens_prompt_total == len(response.tokens)
    ours = embed_client.embed(EmbedRequest(model=embed_server.default_model, prompt=TEXT, layers=[-1]))
    np.testing.assert_allclose(response.embeddings[("layer_6", "mean")], ours.vector(-1, "mean"), atol=ATOL)
    assert embed_server.default_model in {model["name"] for model in client.models()}


def test_public_client_controls_and_token_prompts(embed_server: LocalServer) -> None:
    client = Client(token=embed_server.token or "unused", host=embed_server.host, nice=True)
    control = TextControl(start=4, length=6, factor=0.2, token_overlap=ControlTokenOverlap.Complete)
    prompt = Prompt([Text(TEXT, controls=[control]), Tokens.from_token_ids([7592, 2088])])
    request = EmbeddingRequest(prompt=prompt, layers=[-1], pooling=["weighted_mean"], normalize=True)
    response = client.embed(request, model=embed_server.default_model)
    assert response.embeddings is not None
    assert np.isclose(np.linalg.norm(response.embeddings[("layer_6", "weighted_mean")]), 1.0, atol=1e-5)


async def test_public_async_client(embed_server: LocalServer) -> None:
    async with AsyncClient(token=embed_server.token or "unused", host=embed_server.host) as client:
        response = await client.embed(
            EmbeddingRequest(prompt=Prompt.from_text(TEXT), layers=[-1], pooling=["mean"]), model=embed_server.default_model
        )
    assert response.embeddings is not None and len(response.embeddings[("layer_6", "mean")]) == 384
