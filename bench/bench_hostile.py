"""The local server under abuse: throughput and p99 latency of good traffic, quiet and with a hostile background.

Good traffic: 16 concurrent callers, each sending one-sentence /embed requests one after another (no retries).
Hostile background (`tests.support.hostile_traffic`, a process of its own on the same machine, so it also takes
CPU from both): control floods and malformed bodies back to back, abandoned requests, 100 half-open sockets, bodies
trickling in, 8 MB bodies. Quiet and hostile rounds alternate on one
server; prints each round, the ratios hostile / quiet (throughput and p99) and the load average.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from aleph_embed import AlephEmbedError, AsyncEmbedClient, EmbedRequest  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from tests.support.hostile_traffic import HostileTraffic  # noqa: E402

CALLERS = 16
ROUND_SECONDS = 12.0
ROUNDS = 2  # of each kind, alternating: quiet, hostile, quiet, hostile
SETTLE_SECONDS = 2.0  # the background starts (or its leftovers end) before a round is measured
SENTENCES = [f"Request {i}: how does the local server hold up against hostile peers?" for i in range(64)]


async def good_traffic(server: LocalServer, seconds: float) -> tuple[float, list[float], Counter[str]]:
    """Requests per second, every latency (ms) and the outcomes of `CALLERS` callers during `seconds`."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    async with AsyncEmbedClient(server.host, server.token, max_retries=0, timeout=30) as client:
        end = time.perf_counter() + seconds

        async def caller(index: int) -> None:
            while time.perf_counter() < end:
                request = EmbedRequest(model=server.default_model, prompt=SENTENCES[index % len(SENTENCES)])
                index += CALLERS
                started = time.perf_counter()
                try:
                    await client.embed(request)
                    outcomes["ok"] += 1
                except AlephEmbedError as error:
                    outcomes[type(error).__name__] += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(caller(index) for index in range(CALLERS)))
        elapsed = time.perf_counter() - started
    return outcomes["ok"] / elapsed, latencies, outcomes


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def main() -> None:
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (a shared machine: ratios only)")
    results: dict[str, list[tuple[float, float]]] = {"quiet": [], "hostile": []}
    hostile_statuses: Counter[str] = Counter()
    with LocalServer() as server:
        asyncio.run(good_traffic(server, 3.0))  # warm up
        for _ in range(ROUNDS):
            for kind in ("quiet", "hostile"):
                if kind == "quiet":
                    time.sleep(SETTLE_SECONDS)
                    throughput, latencies, outcomes = asyncio.run(good_traffic(server, ROUND_SECONDS))
                else:
                    with HostileTraffic(server.host, server.default_model) as traffic:
                        time.sleep(SETTLE_SECONDS)
                        throughput, latencies, outcomes = asyncio.run(good_traffic(server, ROUND_SECONDS))
                    hostile_statuses.update(traffic.statuses)
                results[kind].append((throughput, p99(latencies)))
                print(f"{kind:8s} {throughput:7.1f} requests/s, p50 {statistics.median(latencies):6.1f} ms, "
                      f"p99 {p99(latencies):7.1f} ms, outcomes {dict(outcomes)}")
    quiet_rps = statistics.mean(rps for rps, _ in results["quiet"])
    hostile_rps = statistics.mean(rps for rps, _ in results["hostile"])
    quiet_p99 = statistics.mean(p for _, p in results["quiet"])
    hostile_p99 = statistics.mean(p for _, p in results["hostile"])
    print(f"hostile background answered: {dict(hostile_statuses)}")
    print(f"throughput hostile / quiet: {hostile_rps:.1f} / {quiet_rps:.1f} requests/s = {hostile_rps / quiet_rps:.2f}")
    print(f"p99 latency hostile / quiet: {hostile_p99:.1f} / {quiet_p99:.1f} ms = {hostile_p99 / quiet_p99:.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
