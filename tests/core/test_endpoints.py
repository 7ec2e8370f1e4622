"""The endpoints beyond /embed through both clients: batch splitting, partial failures, /embeddings encodings."""

from __future__ import annotations

import json

import httpx
import pytest

from aleph_embed import (
    BadRequestError,
    BatchEmbedError,
    BatchSemanticEmbedRequest,
    EmbeddingsRequest,
    InvalidResponseError,
    SemanticEmbedRequest,
)
from aleph_embed.models import decode_base64_floats, encode_base64_floats

from .conftest import async_client, sync_client


def batch_answer(request: httpx.Request) -> httpx.Response:
    """Each prompt's vector is [its number]; prompts named 'bad...' make the whole call a 400."""
    prompts = json.loads(request.content)["prompts"]
    if any(p.startswith("bad") for p in prompts):
        return httpx.Response(400, json={"error": "bad prompt", "code": "PAYLOAD_ERROR"})
    vectors = [[float(p.split()[-1])] for p in prompts]
    return httpx.Response(200, json={"model_version": "t", "embeddings": vectors, "num_tokens_prompt_total": len(prompts)})


def prompts(count: int, bad: int | None = None) -> BatchSemanticEmbedRequest:
    texts = [f"{'bad' if i == bad else 'text'} {i}" for i in range(count)]
    return BatchSemanticEmbedRequest(model="m", prompts=texts, representation="document")


def test_batch_semantic_splits_into_calls_of_100_in_order() -> None:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(len(json.loads(request.content)["prompts"]))
        return batch_answer(request)

    with sync_client(handler) as client:
        answer = client.batch_semantic_embed(prompts(250))
    assert sorted(seen) == [50, 100, 100]
    assert answer.embeddings == [[float(i)] for i in range(250)]
    assert answer.num_tokens_prompt_total == 250
    assert client.usage.requests == 3 and client.usage.prompt_tokens == 250


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_failed_call_is_reported_per_prompt_and_nothing_else_is_lost(mode: str) -> None:
    request = prompts(230, bad=150)
    if mode == "sync":
        with sync_client(batch_answer) as client, pytest.raises(BatchEmbedError) as caught:
            client.batch_semantic_embed(request)
    else:
        async with async_client(batch_answer) as aclient:
            with pytest.raises(BatchEmbedError) as caught:
                await aclient.batch_semantic_embed(request)
    error = caught.value
    assert sorted(error.errors) == list(range(100, 200))
    assert all(isinstance(e, BadRequestError) for e in error.errors.values())
    assert error.results[:100] == [[float(i)] for i in range(100)] and error.results[200:] == [[float(i)] for i in range(200, 230)]
    assert error.results[100:200] == [None] * 100


def test_a_batch_answer_with_the_wrong_count_is_invalid() -> None:
    def short(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"model_version": "t", "embeddings": [[1.0]], "num_tokens_prompt_total": 1})

    with sync_client(short) as client, pytest.raises(BatchEmbedError) as caught:
        client.batch_semantic_embed(prompts(3))
    assert all(isinstance(e, InvalidResponseError) for e in caught.value.errors.values())


def embeddings_answer(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    inputs = body["input"] if isinstance(body["input"], list) and not isinstance(body["input"][0], int) else [body["input"]]
    vectors = [[float(i), 0.5] for i in range(len(inputs))]
    encode = body.get("encoding_format") == "base64"
    data = [{"object": "embedding", "index": i, "embedding": encode_base64_floats(v) if encode else v} for i, v in enumerate(vectors)]
    return httpx.Response(
        200, json={"object": "list", "data": data[::-1], "model": body["model"], "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    )


@pytest.mark.parametrize("encoding", [None, "float", "base64"])
async def test_embeddings_answer_floats_in_input_order_whatever_the_encoding(encoding: str | None) -> None:
    request = EmbeddingsRequest(model="m", input=["a", "b", "c"], encoding_format=encoding)
    with sync_client(embeddings_answer) as client:
        answer = client.embeddings(request)
    async with async_client(embeddings_answer) as aclient:
        assert (await aclient.embeddings(request)).vectors() == answer.vectors()
    assert answer.vectors() == [[0.0, 0.5], [1.0, 0.5], [2.0, 0.5]]
    assert all(isinstance(item.embedding, list) for item in answer.data)
    assert client.usage.prompt_tokens == 7


def test_embeddings_input_shapes_and_counts() -> None:
    assert EmbeddingsRequest(model="m", input="a").count() == 1
    assert EmbeddingsRequest(model="m", input=[1, 2, 3]).count() == 1
    assert EmbeddingsRequest(model="m", input=[[1], [2, 3]]).count() == 2
    with pytest.raises(ValueError):
        EmbeddingsRequest(model="m", input=["a", ""])
    assert decode_base64_floats(encode_base64_floats([1.5, -2.0])) == [1.5, -2.0]


def test_semantic_retries_like_embed(no_sleep: list[float]) -> None:
    answers = iter([httpx.Response(503, text="busy"), httpx.Response(200, json={"model_version": "t", "embedding": [1.0], "num_tokens_prompt_total": 1})])
    with sync_client(lambda request: next(answers)) as client:
        answer = client.semantic_embed(SemanticEmbedRequest(model="m", prompt="hi", compress_to_size=128))
    assert answer.embedding == [1.0] and client.usage.retries == 1 and len(no_sleep) == 1
