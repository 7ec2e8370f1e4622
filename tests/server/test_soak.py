"""Soak (issue 11): 200 kept-alive connections send a mix of good, malformed and abandoned requests for a bounded
time; every good request is answered with the right vector, nothing gets a 5xx, and the server's memory stays flat
after a warm-up. The bounds are the issue's and generous; they are not performance claims."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import time
from collections import Counter
from typing import Any

import httpx
import numpy as np
import pytest

from aleph_embed.server import LocalServer
from tests.support.raw_http import address, exchange, request_bytes, rss_bytes

from .conftest import post_embed

pytestmark = pytest.mark.slow

MODEL = "all-minilm-l6-v2"
CONNECTIONS = 200
ROUND_REQUESTS = 3  # per connection and round
WARM_UP_ROUNDS = 1
SOAK_SECONDS = 10.0  # then the round under way finishes; at most MAX_ROUNDS rounds
MAX_ROUNDS = 4
TEXTS = [f"soak sentence number {i}: the server keeps answering while others misbehave" for i in range(16)]
MALFORMED: list[bytes] = [
    b'{"model": "all-minilm-l6-v2", "prompt": ',  # cut short
    b'{"model": "all-minilm-l6-v2", "prompt": "a", "prompt": "b"}',  # duplicate key
    b'{"model": "all-minilm-l6-v2", "prompt": "\\ud800"}',  # lone surrogate
    b'{"model": "all-minilm-l6-v2", "prompt": "a", "normalize": "yes"}',  # lax type
    json.dumps({"model": MODEL, "prompt": "a", "layers": [-1] * 500}).encode(),  # over --max-layers
    json.dumps({"model": MODEL, "prompt": [{"type": "text", "data": "word " * 2000,
                                            "controls": [{"start": 0, "length": 4, "factor": 2.0}] * 5000}]}).encode(),
]


def good_body(text: str) -> dict[str, Any]:
    return {"model": MODEL, "prompt": text, "layers": [-1], "pooling": ["mean"], "normalize": True}


def vector(answer: Any) -> np.ndarray:  # noqa: ANN401 - an /embed answer's JSON
    """The one vector of an answer to `good_body`."""
    (layer,) = answer["embeddings"].values()
    return np.array(layer["mean"])


async def abandon(where: tuple[str, int], text: str) -> None:
    """A good request on its own connection, reset before its answer."""
    _, writer = await asyncio.open_connection(*where)
    writer.write(request_bytes(good_body(text)))
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()


class Soak:
    def __init__(self, server: LocalServer, expected: dict[str, np.ndarray]) -> None:
        self.where = address(server.host)
        self.expected = expected
        self.statuses: Counter[int] = Counter()
        self.wrong: list[str] = []

    async def connection(self, seed: int) -> None:
        """`ROUND_REQUESTS` requests on one kept-alive connection (reopened after an abandoned one)."""
        rng = random.Random(seed)
        reader, writer = await asyncio.open_connection(*self.where)
        try:
            for _ in range(ROUND_REQUESTS):
                kind = rng.random()
                text = rng.choice(TEXTS)
                if kind < 0.1:
                    await abandon(self.where, text)
                    continue
                body = rng.choice(MALFORMED) if kind < 0.3 else json.dumps(good_body(text)).encode()
                answer = await asyncio.wait_for(exchange(reader, writer, request_bytes(body)), 60)
                self.statuses[answer.status] += 1
                if kind < 0.3:
                    if answer.status != 400:
                        self.wrong.append(f"malformed {body[:60]!r}: {answer.status}")
                    continue
                got = vector(answer.json()) if answer.status == 200 else None
                if got is None or not np.allclose(got, self.expected[text], atol=1e-4):
                    self.wrong.append(f"good {text!r}: {answer.status} {answer.body[:100]!r}")
        finally:
            writer.close()

    async def round(self, number: int) -> None:
        await asyncio.gather(*(self.connection(number * CONNECTIONS + i) for i in range(CONNECTIONS)))


def test_soak_mixed_traffic_from_200_connections(embed_server: LocalServer) -> None:
    assert embed_server.pid is not None
    expected = {}
    for text in TEXTS:  # each answer alone, before the soak: what every batched answer must match
        response = post_embed(embed_server, good_body(text))
        expected[text] = vector(response.json())
    soak = Soak(embed_server, expected)

    async def run() -> tuple[int, int, int]:
        for number in range(WARM_UP_ROUNDS):
            await soak.round(number)
        warm, _ = rss_bytes(embed_server.pid or 0)
        rounds, started = WARM_UP_ROUNDS, time.monotonic()
        largest = warm
        while rounds < WARM_UP_ROUNDS + MAX_ROUNDS and time.monotonic() - started < SOAK_SECONDS:
            await soak.round(rounds)
            rounds += 1
            largest = max(largest, rss_bytes(embed_server.pid or 0)[0])
        return warm, largest, rounds

    warm, largest, rounds = asyncio.run(run())
    assert not soak.wrong, soak.wrong[:5]
    assert not [status for status in soak.statuses if status >= 500], soak.statuses
    assert soak.statuses[200] >= CONNECTIONS * ROUND_REQUESTS * rounds // 2, soak.statuses
    assert largest <= warm * 1.10, f"RSS {warm >> 20} MiB after warm-up, {largest >> 20} MiB at most later"
    health = httpx.get(f"{embed_server.host}/health", timeout=30).json()
    assert health["queue"] == 0 and health["in_flight"] == 0
