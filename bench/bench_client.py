"""Client benchmark: 200 texts against a stand-in that answers each call after 50 ms.

Baseline: one `embed` call after another. Measured: `embed_many` with the defaults (sync and async).
Prints wall times, the speed-up ratio (target >= 15x) and the client's CPU time per call (target < 300 us).
"""

from __future__ import annotations

import asyncio
import time

import httpx

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbedRequest
from tests.support.standin import StandInServer

TEXTS = [f"Paragraph {i}: the quick brown fox jumps over the lazy dog." for i in range(200)]


def _timed(run: object) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()  # type: ignore[operator]
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    with StandInServer(delay=0.05) as server:
        requests = [EmbedRequest(model=server.model, prompt=text) for text in TEXTS]
        with EmbedClient(server.host) as client:
            client.embed_many(requests[:40])  # warm up connections
            sequential, sequential_cpu = _timed(lambda: [client.embed(r) for r in requests])
        with httpx.Client() as bare:
            url, bodies = f"{server.host}/embed", [r.body_json() for r in requests]
            bare_run = lambda: [bare.post(url, content=b, headers={"content-type": "application/json"}).json() for b in bodies]  # noqa: E731
            bare_run()
            _, bare_cpu = _timed(bare_run)
        with EmbedClient(server.host) as client:
            client.embed_many(requests[:40])
            many, many_cpu = _timed(lambda: client.embed_many(requests))

        async def run_async() -> tuple[float, float]:
            async with AsyncEmbedClient(server.host) as aclient:
                await aclient.embed_many(requests[:40])
                wall, cpu = time.perf_counter(), time.process_time()
                await aclient.embed_many(requests)
                return time.perf_counter() - wall, time.process_time() - cpu

        amany, amany_cpu = asyncio.run(run_async())

    n = len(requests)
    print(f"{n} calls, stand-in delay 50 ms, default concurrency")
    print(f"bare httpx post, one after another: client CPU {bare_cpu / n * 1e6:6.0f} us/call (the floor under ours)")
    print(f"one after another      : {sequential:7.3f} s  client CPU {sequential_cpu / n * 1e6:6.0f} us/call")
    print(f"EmbedClient.embed_many : {many:7.3f} s  client CPU {many_cpu / n * 1e6:6.0f} us/call  ratio {sequential / many:5.1f}x")
    print(f"AsyncEmbedClient.embed_many: {amany:7.3f} s  client CPU {amany_cpu / n * 1e6:6.0f} us/call  ratio {sequential / amany:5.1f}x")
    print("targets: ratio >= 15x, client CPU < 300 us/call")


if __name__ == "__main__":
    main()
