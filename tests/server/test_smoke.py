"""The shared server starts and answers the basic calls."""

from __future__ import annotations

import httpx

from aleph_embed import EmbedClient
from aleph_embed.server.launcher import DEFAULT_MODEL_NAME, LocalServer


def test_health_and_embed(embed_server: LocalServer, embed_client: EmbedClient) -> None:
    assert httpx.get(f"{embed_server.host}/health").json()["status"] == "ok"
    response = embed_client.embed({"model": DEFAULT_MODEL_NAME, "prompt": "hello", "layers": [0, -1]})
    assert set(response.embeddings or {}) == {"layer_0", "layer_6"}
    assert len(response.vector(-1, "mean")) == 384
    assert response.num_tokens_prompt_total == 3
