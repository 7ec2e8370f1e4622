"""Load-aware concurrency: a bulk run narrows its calls in flight when the server says it is full (AIMD)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbeddingSettings
from aleph_embed.bulk import LoadWindow
from aleph_embed.retry import RetryPolicy

from .conftest import HOST, TOKEN

CAPACITY = 4
"""The stand-in answers 503 QUEUE_FULL whenever more than this many calls are in flight."""
TEXTS = [f"text {number}" for number in range(300)]
FAST_RETRIES = RetryPolicy(max_retries=None, deadline=120, initial_delay=0.005, max_delay=0.05)


class Saturating:
    """A server with room for `CAPACITY` calls: each takes 5 ms; one more in flight is rejected at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.rejected = 0
        self.accepted = 0
        self._lock = threading.Lock()

    def _enter(self) -> bool:
        with self._lock:
            if self.in_flight >= CAPACITY:
                self.rejected += 1
                return False
            self.in_flight += 1
            self.accepted += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    @staticmethod
    def _answer(request: httpx.Request) -> httpx.Response:
        prompt = json.loads(request.content)["prompt"]
        vector = [float(prompt.split()[1]), 1.0]
        body = {"model_version": "s", "embeddings": {"layer_1": {"mean": vector}}, "num_tokens_prompt_total": 2}
        return httpx.Response(200, json=body)


    def handle(self, request: httpx.Request) -> httpx.Response:
        if not self._enter():
            return httpx.Response(503, json={"error": "queue is full", "code": "QUEUE_FULL"})
        time.sleep(0.005)
        self._leave()
        return self._answer(request)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        if not self._enter():
            return httpx.Response(503, json={"error": "queue is full", "code": "QUEUE_FULL"})
        await asyncio.sleep(0.005)
        self._leave()
        return self._answer(request)


SETTINGS = EmbeddingSettings(model="m", layer=1, normalize=False)


def run_sync(adapt: bool) -> tuple[Saturating, EmbedClient, list[list[float]]]:
    server = Saturating()
    client = EmbedClient(HOST, TOKEN, concurrency=32, adapt_concurrency=adapt,
                         http_client=httpx.Client(transport=httpx.MockTransport(server.handle)))
    client.retry_policy = FAST_RETRIES
    with client:
        return server, client, client.embed_texts(TEXTS, SETTINGS)


async def run_async(adapt: bool) -> tuple[Saturating, AsyncEmbedClient, list[list[float]]]:
    server = Saturating()
    client = AsyncEmbedClient(HOST, TOKEN, concurrency=32, adapt_concurrency=adapt,
                              http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(server.ahandle)))
    client.retry_policy = FAST_RETRIES
    async with client:
        return server, client, await client.embed_texts(TEXTS, SETTINGS)


def check(server: Saturating, client: EmbedClient | AsyncEmbedClient, vectors: list[list[float]]) -> None:
    assert [vector[0] for vector in vectors] == [float(number) for number in range(len(TEXTS))]
    assert server.accepted == len(TEXTS) and client.usage.failures == 0
    assert client.usage.overloads == server.rejected == client.usage.retries


def test_sync_bulk_run_adapts_to_a_full_server(capsys: pytest.CaptureFixture[str]) -> None:
    fixed, fixed_client, fixed_vectors = run_sync(adapt=False)
    adaptive, adaptive_client, adaptive_vectors = run_sync(adapt=True)
    check(fixed, fixed_client, fixed_vectors)
    check(adaptive, adaptive_client, adaptive_vectors)
    with capsys.disabled():
        print(f"\nsync, {len(TEXTS)} calls, concurrency 32, room for {CAPACITY}: rejected {fixed.rejected} fixed, "
              f"{adaptive.rejected} adaptive (lowest window {adaptive_client.usage.lowest_concurrency})")
    assert adaptive.rejected * 2 < fixed.rejected
    assert fixed_client.usage.lowest_concurrency is None
    assert 1 <= (adaptive_client.usage.lowest_concurrency or 0) <= CAPACITY


async def test_async_bulk_run_adapts_to_a_full_server(capsys: pytest.CaptureFixture[str]) -> None:
    fixed, fixed_client, fixed_vectors = await run_async(adapt=False)
    adaptive, adaptive_client, adaptive_vectors = await run_async(adapt=True)
    check(fixed, fixed_client, fixed_vectors)
    check(adaptive, adaptive_client, adaptive_vectors)
    with capsys.disabled():
        print(f"\nasync, {len(TEXTS)} calls, concurrency 32, room for {CAPACITY}: rejected {fixed.rejected} fixed, "
              f"{adaptive.rejected} adaptive (lowest window {adaptive_client.usage.lowest_concurrency})")
    assert adaptive.rejected * 2 < fixed.rejected
    assert 1 <= (adaptive_client.usage.lowest_concurrency or 0) <= CAPACITY


def test_the_window_halves_once_per_window_and_grows_back_to_its_limit() -> None:
    window = LoadWindow(8)
    tickets = [window.start() for _ in range(8)]
    for ticket in tickets:  # a whole window told "full" at once: one cut
        window.overloaded(ticket)
    assert window.size == 4 and window.lowest == 4 and window.room() == 0
    window.overloaded(window.start())  # started after the cut: cuts again
    assert window.size == 2
    for _ in range(9):
        window.finish(ok=True)
    assert window.in_flight == 0 and 4 < window.size < 5  # 2 + 3 + 4 successes: a window each, one more each
    for _ in range(6):
        window.overloaded(window.start())
        window.finish(ok=False)
    assert window.size == 1 and window.lowest == 1  # never below one
    for _ in range(100):
        window.start()
        window.finish(ok=True)
    assert window.size == 8  # never above the limit
    fixed = LoadWindow(8, adaptive=False)
    fixed.overloaded(fixed.start())
    assert fixed.size == 8 and fixed.lowest == 8
