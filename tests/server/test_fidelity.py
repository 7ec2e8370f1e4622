"""The server's vectors equal an independent computation with transformers and sentence-transformers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from aleph_embed import EmbedClient, EmbedRequest, Text, TextControl, TokenControl, TokenIds
from aleph_embed.models import POOLINGS, TokenOverlap
from aleph_embed.server.launcher import LocalServer

from .conftest import Reference, minilm_path, post_embed

TEXT = "Attention controls let a caller suppress or amplify parts of a prompt."
ATOL = 2e-5


def reference_pool(hidden: Any, pooling: str) -> np.ndarray:
    states = hidden.numpy()
    n = states.shape[0]
    if pooling == "mean":
        return states.sum(axis=0) / n
    if pooling == "weighted_mean":
        return sum((i + 1) * states[i] for i in range(n)) / (n * (n + 1) / 2)
    if pooling == "max":
        return states.max(axis=0)
    if pooling == "last_token":
        return states[n - 1]
    if pooling == "abs_max":
        return np.abs(states).max(axis=0)
    raise AssertionError(pooling)


def embed(client: EmbedClient, model: str, prompt: Any, **fields: Any) -> Any:
    return client.embed(EmbedRequest(model=model, prompt=prompt, **fields))


@pytest.mark.parametrize("layer", [0, 3, -1])
def test_every_pooling_matches_transformers(
    embed_server: LocalServer, embed_client: EmbedClient, reference: Reference, layer: int
) -> None:
    response = embed(embed_client, embed_server.default_model, TEXT, layers=[layer], pooling=list(POOLINGS))
    hidden = reference.hidden_states(reference.tokenizer(TEXT)["input_ids"])[layer]
    assert list(response.embeddings or {}) == [f"layer_{layer % 7}"]
    for pooling in POOLINGS:
        np.testing.assert_allclose(response.vector(layer, pooling), reference_pool(hidden, pooling), atol=ATOL)


def test_normalized_mean_of_last_layer_is_the_sentence_transformers_embedding(
    embed_server: LocalServer, embed_client: EmbedClient
) -> None:
    from sentence_transformers import SentenceTransformer

    texts = [TEXT, "hello", "Ein kurzer deutscher Satz."]
    expected = SentenceTransformer(str(minilm_path()), device="cpu").encode(texts, normalize_embeddings=True)
    for text, vector in zip(texts, expected):
        response = embed(embed_client, embed_server.default_model, text, normalize=True)
        np.testing.assert_allclose(response.vector(-1, "mean"), vector, atol=ATOL)
        assert math.isclose(float(np.linalg.norm(response.vector(-1, "mean"))), 1.0, rel_tol=1e-5)


def test_token_ids_and_mixed_items_equal_the_text(
    embed_server: LocalServer, embed_client: EmbedClient, reference: Reference
) -> None:
    model = embed_server.default_model
    ids = reference.tokenizer("hello world", add_special_tokens=False)["input_ids"]
    as_text = embed(embed_client, model, "hello world", layers=[0, -1], pooling=list(POOLINGS), tokens=True)
    as_ids = embed(embed_client, model, [TokenIds(ids)], layers=[0, -1], pooling=list(POOLINGS), tokens=True)
    mixed = embed(embed_client, model, [Text("hello"), TokenIds(ids[1:])], layers=[0, -1], pooling=list(POOLINGS))
    assert as_text.tokens == as_ids.tokens == ["[CLS]", "hello", "world", "[SEP]"]
    assert as_text.num_tokens_prompt_total == as_ids.num_tokens_prompt_total == mixed.num_tokens_prompt_total == 4
    for layer in (0, -1):
        for pooling in POOLINGS:
            np.testing.assert_allclose(as_ids.vector(layer, pooling), as_text.vector(layer, pooling), atol=ATOL)
            np.testing.assert_allclose(mixed.vector(layer, pooling), as_text.vector(layer, pooling), atol=ATOL)


def test_one_token_prompt(embed_server: LocalServer, embed_client: EmbedClient, reference: Reference) -> None:
    (token_id,) = reference.tokenizer("dog", add_special_tokens=False)["input_ids"]
    response = embed(embed_client, embed_server.default_model, [TokenIds([token_id])], pooling=list(POOLINGS), tokens=True)
    assert response.tokens == ["[CLS]", "dog", "[SEP]"]
    hidden = reference.hidden_states(reference.tokenizer("dog")["input_ids"])[-1]
    for pooling in POOLINGS:
        np.testing.assert_allclose(response.vector(-1, pooling), reference_pool(hidden, pooling), atol=ATOL)


def controlled_bias(reference: Reference, text: str, start: int, length: int, factor: float, complete: bool) -> list[float]:
    """log(effective factor) per token: a partly covered token gets 1 + (factor - 1) * covered share."""
    encoding = reference.tokenizer(text, return_offsets_mapping=True)
    bias = []
    for token_start, token_end in encoding["offset_mapping"]:
        covered = max(0, min(token_end, start + length) - max(token_start, start))
        share = covered / (token_end - token_start) if token_end > token_start else 0.0
        effective = factor if complete and covered else 1 + (factor - 1) * share
        bias.append(math.log(effective))
    return bias


@pytest.mark.parametrize(("factor", "overlap"), [(0.1, "partial"), (4.0, "partial"), (0.1, "complete")])
def test_log_additive_text_controls_equal_an_additive_attention_mask(
    embed_server: LocalServer, embed_client: EmbedClient, reference: Reference, factor: float, overlap: TokenOverlap
) -> None:
    start, length = TEXT.index("suppress") + 2, 10  # starts and ends inside words: partial shares
    control = TextControl(start=start, length=length, factor=factor, token_overlap=overlap)
    response = embed(embed_client, embed_server.default_model, [Text(TEXT, controls=[control])], layers=[1, -1])
    ids = reference.tokenizer(TEXT)["input_ids"]
    states = reference.hidden_states(ids, controlled_bias(reference, TEXT, start, length, factor, overlap == "complete"))
    plain = embed(embed_client, embed_server.default_model, TEXT).vector(-1, "mean")
    for layer in (1, -1):
        np.testing.assert_allclose(response.vector(layer, "mean"), states[layer].mean(0).numpy(), atol=ATOL)
    assert np.abs(np.subtract(plain, response.vector(-1, "mean"))).max() > 1e-2


def test_token_id_controls_and_contextual_threshold(
    embed_server: LocalServer, embed_client: EmbedClient, reference: Reference
) -> None:
    model = embed_server.default_model
    ids = reference.tokenizer("apple pie and apple juice", add_special_tokens=False)["input_ids"]
    first, second = (i for i, token in enumerate(ids) if token == ids[0])
    one = [TokenIds(ids, controls=[TokenControl(index=first, factor=0.2)])]
    both = [TokenIds(ids, controls=[TokenControl(index=first, factor=0.2), TokenControl(index=second, factor=0.2)])]
    bias = [0.0] + [math.log(0.2) if i in (first, second) else 0.0 for i in range(len(ids))] + [0.0]
    expected = reference.hidden_states(reference.tokenizer("apple pie and apple juice")["input_ids"], bias)[-1]
    extended = embed(embed_client, model, one, contextual_control_threshold=0.999).vector(-1, "mean")
    np.testing.assert_allclose(embed(embed_client, model, both).vector(-1, "mean"), expected.mean(0).numpy(), atol=ATOL)
    np.testing.assert_allclose(extended, expected.mean(0).numpy(), atol=ATOL)
    assert np.abs(np.subtract(embed(embed_client, model, one).vector(-1, "mean"), extended)).max() > 1e-3


def multiplicative_reference(reference: Reference, ids: list[int], factors: list[float]) -> Any:
    """The reference model with each layer's attention scores shifted to a row minimum of 0, controlled keys scaled."""
    import torch
    from transformers import AttentionInterface

    scale = torch.tensor(factors)

    def scaled_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):  # noqa: ANN001, ANN202
        scores = query @ key.transpose(-1, -2) * scaling
        scores = (scores - scores.min(dim=-1, keepdim=True).values) * scale
        return (torch.softmax(scores, dim=-1) @ value).transpose(1, 2), None

    AttentionInterface.register("test_multiplicative", scaled_attention)
    reference.model.set_attn_implementation("test_multiplicative")
    try:
        return reference.hidden_states(ids)
    finally:
        reference.model.set_attn_implementation("eager")


def test_multiplicative_controls(embed_server: LocalServer, embed_client: EmbedClient, reference: Reference) -> None:
    ids = reference.tokenizer(TEXT)["input_ids"]
    index = 3
    prompt = [TokenIds(ids[1:-1], controls=[TokenControl(index=index - 1, factor=0.3)])]
    response = embed(embed_client, embed_server.default_model, prompt, control_log_additive=False, layers=[2, -1])
    factors = [0.3 if i == index else 1.0 for i in range(len(ids))]
    states = multiplicative_reference(reference, ids, factors)
    for layer in (2, -1):
        np.testing.assert_allclose(response.vector(layer, "mean"), states[layer].mean(0).numpy(), atol=ATOL)
    neutral = [TokenIds(ids[1:-1], controls=[TokenControl(index=0, factor=1.0)])]
    plain = embed(embed_client, embed_server.default_model, TEXT).vector(-1, "mean")
    np.testing.assert_allclose(
        embed(embed_client, embed_server.default_model, neutral, control_log_additive=False).vector(-1, "mean"),
        plain, atol=ATOL,
    )


def test_concurrent_requests_batch_to_the_same_vectors(embed_server: LocalServer, embed_client: EmbedClient) -> None:
    model = embed_server.default_model
    texts = [TEXT[: 10 + 3 * i] for i in range(20)]
    requests = [EmbedRequest(model=model, prompt=text, pooling=["mean", "max"], layers=[2, -1]) for text in texts]
    controlled = EmbedRequest(model=model, prompt=[Text(TEXT, controls=[TextControl(start=0, length=9, factor=0.3)])])
    alone = [embed_client.embed(request) for request in requests + [controlled]]
    together = embed_client.embed_many(requests + [controlled], concurrency=21)
    for single, batched in zip(alone, together):
        assert single.embeddings is not None and batched.embeddings is not None
        for layer, poolings in single.embeddings.items():
            for pooling, vector in poolings.items():
                np.testing.assert_allclose(batched.embeddings[layer][pooling], vector, atol=ATOL)


def test_tokens_and_counts_match_the_tokenizer(embed_server: LocalServer, reference: Reference) -> None:
    body = {"model": embed_server.default_model, "prompt": TEXT, "tokens": True, "type": None, "hosting": "aleph-alpha"}
    answer = post_embed(embed_server, body, params={"nice": "true"}).json()
    ids = reference.tokenizer(TEXT)["input_ids"]
    assert answer["tokens"] == reference.tokenizer.convert_ids_to_tokens(ids)
    assert answer["num_tokens_prompt_total"] == len(ids)
    assert set(answer) == {"model_version", "embeddings", "tokens", "num_tokens_prompt_total"}
    assert post_embed(embed_server, {"model": embed_server.default_model, "prompt": "x"}).json()["tokens"] is None
