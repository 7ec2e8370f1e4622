"""A second server with a token, a queue of one, a small body limit, and a decoder model next to the encoder."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from aleph_embed import AuthenticationError, EmbedClient, EmbedRequest, Text, TextControl
from aleph_embed.models import POOLINGS
from aleph_embed.server.launcher import LocalServer

from .conftest import STRICT_BODY_LIMIT, post_embed
from .test_fidelity import ATOL, reference_pool

pytestmark = pytest.mark.slow


def test_wrong_or_missing_token_is_401(strict_server: LocalServer) -> None:
    body = {"model": "minilm", "prompt": "x"}
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = post_embed(strict_server, body, headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "UNAUTHENTICATED")
    assert httpx.post(f"{strict_server.host}/embed", json=body).status_code == 401
    assert httpx.get(f"{strict_server.host}/models_available").status_code == 401
    with EmbedClient(strict_server.host, "wrong") as client, pytest.raises(AuthenticationError):
        client.embed(EmbedRequest(model="minilm", prompt="x"))
    assert post_embed(strict_server, body).status_code == 200


def test_body_over_the_limit_is_413(strict_server: LocalServer) -> None:
    big = {"model": "minilm", "prompt": "word " * (STRICT_BODY_LIMIT // 5)}
    response = post_embed(strict_server, big)
    assert (response.status_code, response.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    chunks = [b'{"model": "minilm", "prompt": "', b"w " * STRICT_BODY_LIMIT, b'"}']
    streamed = post_embed(strict_server, content=iter(chunks), headers={"Content-Type": "application/json"})
    assert (streamed.status_code, streamed.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert post_embed(strict_server, {"model": "minilm", "prompt": "small"}).status_code == 200


async def test_queue_full_is_503_and_the_client_retries_through_it(strict_server: LocalServer) -> None:
    headers = {"Authorization": f"Bearer {strict_server.token}"}
    body = {"model": "minilm", "prompt": "a paragraph long enough to keep the model busy " * 10}
    async with httpx.AsyncClient(base_url=strict_server.host, headers=headers, timeout=60) as http:
        responses = await asyncio.gather(*(http.post("/embed", json=body) for _ in range(12)))
    statuses = [response.status_code for response in responses]
    assert 200 in statuses and 503 in statuses
    busy = next(response for response in responses if response.status_code == 503)
    assert busy.json()["code"] == "QUEUE_FULL"

    with EmbedClient(strict_server.host, strict_server.token, max_retries=50, retry_deadline=120) as client:
        results = client.embed_many([EmbedRequest.model_validate(body)] * 12, concurrency=12)
    assert len(results) == 12 and client.usage.retries > 0 and client.usage.failures == 0


def test_models_available_lists_both_with_their_context(strict_server: LocalServer) -> None:
    with EmbedClient(strict_server.host, strict_server.token) as client:
        models = {model.name: model for model in client.models_available()}
    assert {name: model.max_context_size for name, model in models.items()} == {
        "minilm": 512, "tiny-llama": 64, "tiny-roberta": 64, "tiny-mpnet": 510,  # both lose 2 positions to the offset
    }


class DecoderReference:
    def __init__(self, path: Path) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path, attn_implementation="eager").eval()

    def hidden_states(self, text: str, key_bias: list[float] | None = None) -> Any:
        """Causal mask plus `key_bias` per key column, as one 4D additive mask."""
        import torch

        ids = self.tokenizer(text)["input_ids"]
        n = len(ids)
        causal = torch.full((n, n), torch.finfo(torch.float32).min).triu(1)
        mask = (causal + torch.tensor(key_bias or [0.0] * n)).expand(1, 1, n, n)
        with torch.no_grad():
            output = self.model(torch.tensor([ids]), attention_mask=mask, output_hidden_states=True)
        return torch.stack(output.hidden_states)[:, 0]


def test_decoder_model_poolings_and_controls(strict_server: LocalServer, decoder_dir: Path) -> None:
    reference = DecoderReference(decoder_dir)
    text = "a decoder reads left to right"
    with EmbedClient(strict_server.host, strict_server.token) as client:
        plain = client.embed({"model": "tiny-llama", "prompt": text, "layers": [0, 1, -1], "pooling": list(POOLINGS)})
        start = text.index("reads")
        controlled = client.embed(EmbedRequest(
            model="tiny-llama", prompt=[Text(text, controls=[TextControl(start=start, length=5, factor=0.05)])],
        ))
    assert set(plain.embeddings or {}) == {"layer_0", "layer_1", "layer_2"}
    states = reference.hidden_states(text)
    for layer in (0, 1, -1):
        for pooling in POOLINGS:
            np.testing.assert_allclose(plain.vector(layer, pooling), reference_pool(states[layer], pooling), atol=ATOL)
    offsets = reference.tokenizer(text, return_offsets_mapping=True)["offset_mapping"]
    bias = [math.log(0.05) if end > start and begin < start + 5 and end > begin else 0.0 for begin, end in offsets]
    expected = reference.hidden_states(text, bias)[-1].mean(0).numpy()
    np.testing.assert_allclose(controlled.vector(-1, "mean"), expected, atol=ATOL)


def test_decoder_context_limit(strict_server: LocalServer) -> None:
    response = post_embed(strict_server, {"model": "tiny-llama", "prompt": "word " * 70})
    assert response.json() == {"error": "prompt has 72 tokens, more than the model's context of 64", "code": "PAYLOAD_ERROR"}


def test_other_encoders_serve_their_full_context_and_say_when_controls_cannot_apply(strict_server: LocalServer) -> None:
    longest = {"model": "tiny-roberta", "prompt": "word " * 62}
    assert post_embed(strict_server, longest).json()["num_tokens_prompt_total"] == 64
    assert post_embed(strict_server, {**longest, "prompt": "word " * 63}).json()["code"] == "PAYLOAD_ERROR"
    controlled = [{"type": "text", "data": "hello world", "controls": [{"start": 0, "length": 5, "factor": 0.1}]}]
    assert post_embed(strict_server, {"model": "tiny-roberta", "prompt": controlled}).status_code == 200
    refused = post_embed(strict_server, {"model": "tiny-mpnet", "prompt": controlled})
    assert refused.status_code == 400 and "cannot take attention controls" in refused.json()["error"]
    assert post_embed(strict_server, {"model": "tiny-mpnet", "prompt": "hello world"}).status_code == 200
