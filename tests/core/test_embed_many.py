"""embed_many and embed_texts: order, bounded concurrency, progress, nothing lost on failure."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time

import httpx
import pytest

from aleph_embed import (
    BadRequestError,
    BatchEmbedError,
    EmbeddingSettings,
    EmbedRequest,
    EmptyTextError,
    InvalidResponseError,
)

from .conftest import async_client, embed_answer, sync_client

PROMPTS = ["x" * n for n in range(1, 61)]
REQUESTS = [EmbedRequest(model="m", prompt=p) for p in PROMPTS]


class InFlight:
    """Counts concurrent calls and remembers the peak."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


def lengths(responses) -> list[int]:
    return [int(r.vector(-1, "mean")[0]) for r in responses]


@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_sync_order_and_bounded_concurrency(concurrency: int) -> None:
    flight = InFlight()

    def handler(request: httpx.Request) -> httpx.Response:
        flight.enter()
        time.sleep(random.uniform(0.01, 0.03))
        flight.leave()
        return embed_answer(request)

    progress: list[tuple[int, int]] = []
    with sync_client(handler) as client:
        responses = client.embed_many(REQUESTS, concurrency=concurrency, on_progress=lambda d, t: progress.append((d, t)))
    assert lengths(responses) == [len(p) for p in PROMPTS]
    assert flight.peak == concurrency
    assert sorted(progress) == [(i, len(PROMPTS)) for i in range(1, len(PROMPTS) + 1)]
    assert client.usage.requests == len(PROMPTS) and client.usage.prompt_tokens == 2 * len(PROMPTS)


@pytest.mark.parametrize("concurrency", [1, 4, 16])
async def test_async_order_and_bounded_concurrency(concurrency: int) -> None:
    flight = InFlight()

    async def handler(request: httpx.Request) -> httpx.Response:
        flight.enter()
        await asyncio.sleep(random.uniform(0.01, 0.03))
        flight.leave()
        return embed_answer(request)

    progress: list[int] = []
    async with async_client(handler) as client:
        responses = await client.embed_many(REQUESTS, concurrency=concurrency, on_progress=lambda d, t: progress.append(d))
    assert lengths(responses) == [len(p) for p in PROMPTS]
    assert flight.peak == concurrency
    assert progress == list(range(1, len(PROMPTS) + 1))


def failing_on(bad: set[int]):
    def handler(request: httpx.Request) -> httpx.Response:
        if len(json.loads(request.content)["prompt"]) in bad:
            return httpx.Response(400, json={"error": "prompt has 900 tokens, more than the model's context of 512", "code": "PAYLOAD_ERROR"})
        return embed_answer(request)

    return handler


def test_failures_keep_every_success() -> None:
    with sync_client(failing_on({3, 10})) as client:
        with pytest.raises(BatchEmbedError) as caught:
            client.embed_many(REQUESTS[:12])
        mixed = client.embed_many(REQUESTS[:12], return_exceptions=True)
    error = caught.value
    assert set(error.errors) == {2, 9} and isinstance(error.errors[2], BadRequestError)
    assert "item 2" in str(error) and "context of 512" in str(error)
    assert [r is None for r in error.results] == [i in (2, 9) for i in range(12)]
    assert isinstance(mixed[2], BadRequestError) and isinstance(mixed[9], BadRequestError)
    assert lengths([m for i, m in enumerate(mixed) if i not in (2, 9)]) == [n for n in range(1, 13) if n not in (3, 10)]


async def test_async_failures_keep_every_success() -> None:
    async with async_client(failing_on({1})) as client:
        mixed = await client.embed_many(REQUESTS[:3], return_exceptions=True)
        with pytest.raises(BatchEmbedError) as caught:
            await client.embed_many(REQUESTS[:3])
    assert isinstance(mixed[0], BadRequestError) and lengths(mixed[1:]) == [2, 3]
    assert caught.value.results[0] is None and lengths(caught.value.results[1:]) == [2, 3]


def test_empty_batch() -> None:
    with sync_client(embed_answer) as client:
        assert client.embed_many([]) == []


def test_embed_texts_prefix_and_empty_text_modes() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["prompt"])
        return embed_answer(request)

    texts = ["ab", "", "abcd", "  "]
    with sync_client(handler) as client:
        with pytest.raises(EmptyTextError, match="text 1 is empty"):
            client.embed_texts(texts, EmbeddingSettings(model="m"))
        assert sent == []  # nothing is sent when a text is bad
        skipped = client.embed_texts(texts, EmbeddingSettings(model="m", empty_text="skip"), prefix="q: ")
        assert sorted(sent) == ["q: ab", "q: abcd"]
        assert skipped == [[5.0] * 4, [0.0] * 4, [7.0] * 4, [0.0] * 4]
        sent.clear()
        placeheld = client.embed_texts(texts, EmbeddingSettings(model="m", empty_text="placeholder", placeholder="?"))
        assert sorted(sent) == ["?", "?", "ab", "abcd"] and placeheld[1] == [1.0] * 4
        sent.clear()
        assert client.embed_texts(["", ""], EmbeddingSettings(model="m", empty_text="skip")) == [[0.0] * 4] * 2
        assert sent == ["(empty)"]  # one probe tells the vector size


async def test_async_embed_texts_matches_sync() -> None:
    settings = EmbeddingSettings(model="m", empty_text="skip")
    with sync_client(embed_answer) as client:
        expected = client.embed_texts(["a", "", "abc"], settings)
    async with async_client(embed_answer) as aclient:
        assert await aclient.embed_texts(["a", "", "abc"], settings) == expected


def test_an_interrupt_cancels_the_calls_not_yet_started(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        time.sleep(0.05)
        return embed_answer(request)

    def interrupted(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            raise KeyboardInterrupt
        original(self, wait=False, cancel_futures=cancel_futures)

    from concurrent.futures import ThreadPoolExecutor

    original = ThreadPoolExecutor.shutdown
    monkeypatch.setattr(ThreadPoolExecutor, "shutdown", interrupted)
    with sync_client(handler) as client, pytest.raises(KeyboardInterrupt):
        client.embed_many(REQUESTS, concurrency=2)
    time.sleep(0.2)
    assert len(calls) < len(REQUESTS)


def test_unexpected_failures_are_reported_with_their_item_never_dropped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["prompt"]
        if prompt == "xx":
            return httpx.Response(200, text="<html>proxy login page</html>")
        if prompt == "xxx":
            raise RuntimeError("a bug below us")
        return embed_answer(request)

    with sync_client(handler) as client:
        mixed = client.embed_many(REQUESTS[:4], return_exceptions=True)
        with pytest.raises(BatchEmbedError) as caught:
            client.embed_many(REQUESTS[:4])
    assert isinstance(mixed[1], InvalidResponseError) and "not an embedding response" in str(mixed[1])
    assert isinstance(mixed[2], RuntimeError)
    assert lengths([mixed[0], mixed[3]]) == [1, 4]
    assert set(caught.value.errors) == {1, 2}
