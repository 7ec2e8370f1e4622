"""Tokenizer endpoints on a mock transport: caching (memory, disk, host + model), errors and retries as for /embed,
the fallback without the endpoint, and the server's verdict splitting chunks further."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest

from aleph_embed import BadRequestError, BatchEmbedError, EmbeddingSettings, InvalidResponseError, UnknownModelError
from aleph_embed.errors import is_context_error
from aleph_embed import _tokenizers
from aleph_embed.chunking import Chunker, estimated_tokens
from tests.core.conftest import HOST, async_client, embed_answer, sync_client

MODEL = "all-minilm-l6-v2"
CONTEXT = 512


pytestmark = pytest.mark.usefixtures("fresh_tokenizer_cache")


def models_answer() -> httpx.Response:
    return httpx.Response(200, json=[{"name": MODEL, "max_context_size": CONTEXT}])


def host_with_tokenizer(tokenizer_json: bytes, calls: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith(f"/models/{MODEL}/tokenizer"):
            return httpx.Response(200, content=tokenizer_json)
        if request.url.path.endswith("/models_available"):
            return models_answer()
        if request.url.path.endswith("/tokenize"):
            body = json.loads(request.content)
            return httpx.Response(200, json={"tokens": None, "token_ids": [len(body["prompt"])]})
        return httpx.Response(404, json={"error": "not found", "code": "NOT_FOUND"})

    return handler


def test_tokenizer_is_fetched_once_and_kept_on_disk(tokenizer_json: bytes) -> None:
    calls: list[str] = []
    with sync_client(host_with_tokenizer(tokenizer_json, calls)) as client:
        tokenizer = client.tokenizer(MODEL)
        assert client.tokenizer(MODEL) is tokenizer
        assert calls == ["/v1/models/all-minilm-l6-v2/tokenizer"] and client.usage.requests == 1
    text = "word " * 300
    assert len(tokenizer.encode(text).ids) == 302, "counts as /embed does: no truncation, special tokens included"
    path = _tokenizers.cache_path(HOST, MODEL)
    assert path.read_bytes() == tokenizer_json and path.parent == _tokenizers.cache_dir()
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".tmp-")] == []
    assert _tokenizers.cache_path("https://other.example", MODEL) != path

    _tokenizers._memory.clear()
    with sync_client(lambda request: httpx.Response(500)) as offline:
        assert len(offline.tokenizer(MODEL).encode(text).ids) == 302  # from disk, no call


async def test_async_tokenizer_tokenize_and_chunker(tokenizer_json: bytes) -> None:
    calls: list[str] = []
    async with async_client(host_with_tokenizer(tokenizer_json, calls)) as client:
        tokenizer = await client.tokenizer(MODEL)
        assert await client.tokenizer(MODEL) is tokenizer
        assert (await client.tokenize({"model": MODEL, "prompt": "abc"})).token_ids == [3]
        chunker = await client.chunker(MODEL, max_tokens=1000)
        assert chunker.max_tokens == CONTEXT and chunker.counter is tokenizer
        assert await client.context_size(MODEL) == CONTEXT
        with pytest.raises(UnknownModelError, match="not served here"):
            await client.context_size("other")
    assert calls.count(f"/v1/models/{MODEL}/tokenizer") == 1


def test_without_the_endpoint_the_chunker_estimates(tokenizer_json: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models_available"):
            return models_answer()
        return httpx.Response(404, json={"error": "Not Found", "code": "NOT_FOUND"})

    with sync_client(handler) as client:
        with pytest.raises(UnknownModelError):
            client.tokenizer(MODEL)
        chunker = client.chunker(MODEL)
    assert chunker.counter is estimated_tokens and chunker.max_tokens == 256


def test_errors_and_retries_as_for_embed(tokenizer_json: bytes, no_sleep: list[float]) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"result": "hello"})])
    with sync_client(lambda request: next(answers)) as client:
        assert client.detokenize({"model": MODEL, "token_ids": [7592]}).result == "hello"
        assert client.usage.retries == 1 and client.usage.requests == 1 and len(no_sleep) == 1
    with sync_client(lambda request: httpx.Response(200, text="<html>proxy</html>")) as client:
        with pytest.raises(InvalidResponseError, match="tokenizer.json"):
            client.tokenizer(MODEL)
        with pytest.raises(InvalidResponseError, match="/tokenize"):
            client.tokenize({"model": MODEL, "prompt": "x"})


def rejecting_long_prompts(limit: int, sent: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    """An /embed that, like the real API, rejects prompts over `limit` characters as too long for the context."""

    def handler(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["prompt"]
        sent.append(prompt)
        if prompt.startswith("BAD"):
            return httpx.Response(400, json={"error": "layer 9 does not exist", "code": "PAYLOAD_ERROR"})
        if len(prompt) > limit:
            message = f"prompt has {len(prompt)} tokens, more than the model's context of {limit}"
            return httpx.Response(400, json={"error": message, "code": "PAYLOAD_ERROR"})
        return embed_answer(request)

    return handler


def test_embed_chunks_splits_what_the_server_rejects() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "Some words here. " * (i % 9 + 1) for i in range(30))
    chunker = Chunker(lambda t: len(t) // 20 + 2, max_tokens=200)  # an underestimate, as a guess may be
    chunks = chunker.split(text)
    sent: list[str] = []
    settings = EmbeddingSettings(model=MODEL)
    with sync_client(rejecting_long_prompts(300, sent)) as client:
        embedded = client.embed_chunks(text, chunks, settings, chunker, prefix="doc: ")
    assert len(embedded) > len(chunks) and [e.chunk.index for e in embedded] == list(range(len(embedded)))
    assert all(len("doc: " + e.chunk.text) <= 300 and e.chunk.text == text[e.chunk.start : e.chunk.end] for e in embedded)
    assert re.sub(r"\s", "", "".join(e.chunk.text for e in embedded)) == re.sub(r"\s", "", text), "nothing dropped"
    assert settings.vector(embedded[0].response) == [float(len("doc: " + embedded[0].chunk.text))] * 4
    assert all(prompt.startswith("doc: ") for prompt in sent)


async def test_embed_chunks_reports_other_failures() -> None:
    text = "BAD start\n\nfine text\n\n" + "x" * 700  # the long word is cut in the middle, as a last resort
    chunker = Chunker(lambda t: len(t.split()) * 20, max_tokens=64, overlap=0)
    chunks = chunker.split(text)
    async with async_client(rejecting_long_prompts(300, [])) as client:
        embedded = await client.embed_chunks(text, chunks[1:], EmbeddingSettings(model=MODEL), chunker)
        assert "".join(e.chunk.text for e in embedded) == text[chunks[1].start :]
        with pytest.raises(BatchEmbedError) as caught:
            await client.embed_chunks(text, chunks, EmbeddingSettings(model=MODEL), chunker)
    assert list(caught.value.errors) == [0] and "layer 9" in str(caught.value.errors[0])


def test_only_context_errors_are_split_further() -> None:
    def rejected(message: str) -> BadRequestError:
        return BadRequestError(message, status_code=400, code="PAYLOAD_ERROR")

    assert is_context_error(rejected("prompt has 524 tokens, more than the model's context of 512"))
    assert is_context_error(rejected("Prompt too long"))
    assert not is_context_error(rejected("contextual_control_threshold: Input should be less than or equal to 1"))
    assert not is_context_error(UnknownModelError("context", status_code=404))
