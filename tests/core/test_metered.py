"""`metered()`: the usage of one caller's calls, apart from other callers sharing the same client."""

from __future__ import annotations

import asyncio
import threading

from aleph_embed import AsyncEmbedClient, EmbeddingSettings, EmbedClient, metered

from ..support.fake_api import HOST, MODEL, TOKEN, FakeEmbedAPI

SETTINGS = EmbeddingSettings(model=MODEL)
TOKENS_PER_CALL = 3  # what the fake API reports per /embed call


def test_each_thread_meters_its_own_calls_on_a_shared_client() -> None:
    api = FakeEmbedAPI()
    client = EmbedClient(HOST, TOKEN, http_client=api.http_clients()["http_client"], concurrency=4)
    counted: dict[int, tuple[int, int]] = {}

    def embed(n: int) -> None:
        with metered() as usage:
            client.embed_texts([f"text {i}" for i in range(n)], SETTINGS)
        counted[n] = (usage.requests, usage.prompt_tokens)

    threads = [threading.Thread(target=embed, args=(n,)) for n in (2, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counted == {n: (n, n * TOKENS_PER_CALL) for n in (2, 5)}
    assert client.usage.prompt_tokens == 7 * TOKENS_PER_CALL


async def test_each_task_meters_its_own_calls_and_meters_nest() -> None:
    api = FakeEmbedAPI()
    client = AsyncEmbedClient(HOST, TOKEN, http_async_client=api.http_clients()["http_async_client"])

    async def embed(n: int) -> int:
        with metered() as usage:
            await client.embed_texts([f"text {i}" for i in range(n)], SETTINGS)
        return usage.prompt_tokens

    with metered() as outer:
        assert await asyncio.gather(embed(3), embed(1)) == [3 * TOKENS_PER_CALL, TOKENS_PER_CALL]
    assert outer.prompt_tokens == 4 * TOKENS_PER_CALL and outer.requests == 4
    await client.embed_texts(["outside"], SETTINGS)
    assert outer.prompt_tokens == 4 * TOKENS_PER_CALL
