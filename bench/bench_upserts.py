"""Upsert-only benchmark: fake vectors into a real Qdrant server through the ingest's own Qdrant calls.

Points of 384 floats (MiniLM) and of 5120 floats (luminous), each with a ~600-character text payload, in batches of
64 with 2 upserts in flight (the ingest's defaults), into a fresh collection per run. Baseline: today's path before
issue 14, REST with `wait=True` on every upsert. Candidates: REST and gRPC (`prefer_grpc=True`) without waiting but
for the last upsert (so every run ends with all its points applied), and gRPC waiting on each. Each is the best of
interleaved rounds. Prints points/s and the ratio to the baseline (target: gRPC >= 3x REST).

    python -m bench.bench_upserts [--points 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from itertools import count
from pathlib import Path

from qdrant_client import QdrantClient, models

from aleph_embed_qdrant._calls import Calls
from tests.support.qdrant_server import QdrantServer

BATCH = 64
IN_FLIGHT = 2
TEXT = ("Quarterly revenue grew in every region while costs stayed flat; the board approved the new plan. " * 6)[:600]
VARIANTS = {  # name: (gRPC, wait for every upsert)
    "REST, wait each (before)": (False, True),
    "REST, wait last": (False, False),
    "gRPC, wait each": (True, True),
    "gRPC, wait last": (True, False),
}
_names = count()


def points(number: int, size: int) -> list[models.PointStruct]:
    generator = random.Random(7)
    return [
        models.PointStruct(id=index, vector=[generator.uniform(-1, 1) for _ in range(size)],
                           payload={"page_content": TEXT, "metadata": {"index": index}})
        for index in range(number)
    ]


async def upsert_all(calls: Calls, collection: str, batches: list[list[models.PointStruct]], wait_each: bool) -> None:
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(batch: list[models.PointStruct], wait: bool) -> None:
        async with slots:
            await calls.upsert(collection, batch, wait=wait)

    await asyncio.gather(*(one(batch, wait_each) for batch in batches[:-1]))
    await one(batches[-1], True)


def run(server: QdrantServer, grpc: bool, wait_each: bool, data: list[models.PointStruct], size: int) -> float:
    """Points/s of one run into a fresh collection; checks that every point is applied at the end."""
    qdrant = QdrantClient(url=server.url, prefer_grpc=grpc, grpc_port=server.grpc_port, check_compatibility=False)
    collection = f"upserts-{next(_names)}"
    qdrant.create_collection(collection, vectors_config=models.VectorParams(size=size, distance=models.Distance.COSINE))
    batches = [data[i : i + BATCH] for i in range(0, len(data), BATCH)]
    calls = Calls(qdrant, IN_FLIGHT + 1)
    started = time.perf_counter()
    asyncio.run(upsert_all(calls, collection, batches, wait_each))
    seconds = time.perf_counter() - started
    calls.close()
    assert qdrant.count(collection, exact=True).count == len(data)
    qdrant.delete_collection(collection)
    qdrant.close()
    return len(data) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20_000, help="points of 384 floats (a tenth as many of 5120)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"upserts of fake points, batches of {BATCH}, {IN_FLIGHT} in flight, best of {args.rounds} rounds; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (a shared machine: compare ratios)")
    with tempfile.TemporaryDirectory() as directory:
        server = QdrantServer(Path(directory)).start()
        try:
            for size, number in ((384, args.points), (5120, max(BATCH, args.points // 10))):
                data = points(number, size)
                best = {name: 0.0 for name in VARIANTS}
                for round_ in range(1, args.rounds + 1):
                    for name, (grpc, wait_each) in VARIANTS.items():
                        rate = run(server, grpc, wait_each, data, size)
                        best[name] = max(best[name], rate)
                        print(f"  round {round_}, {size} floats, {name:25} {rate:8.0f} points/s, "
                              f"load {os.getloadavg()[0]:.1f}", flush=True)
                baseline = best["REST, wait each (before)"]
                print(f"{number} points of {size} floats: " + ", ".join(
                    f"{name} {rate:.0f}/s ({rate / baseline:.2f}x)" for name, rate in best.items()
                ) + f"; gRPC wait last / REST wait each: {best['gRPC, wait last'] / baseline:.2f} (target >= 3)",
                    flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
