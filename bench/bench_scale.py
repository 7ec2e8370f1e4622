"""Scale check: 200,000 documents from a generator through `QdrantIngestor.aingest` against the stand-in API
(50 ms a call, in its own process) with 64 `/embed` calls in flight, into a real Qdrant server over gRPC.

The ingest reads its input once ahead (to a temporary file: the last of duplicate ids wins), then embeds and
upserts. Prints that spool phase, then the storing phase in tenths: points/s of each tenth (target: flat within 10%
from the second tenth to the last), the client's CPU time per point (flat too: on a shared machine the wall-clock
rate also follows the other load, the CPU per point only the client's own work) and the client's resident memory
(RSS) at each (target: within 50 MB from the end of the first tenth, the warm-up, to the end). The collection is created without an HNSW graph (m=0), so that
Qdrant's indexing does not take this 2-core machine's CPU from the client.

    python -m bench.bench_scale [--documents 200000] [--in-flight 64] [--delay 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from qdrant_client import AsyncQdrantClient, models

from aleph_embed import AsyncEmbedClient, EmbeddingSettings
from aleph_embed_qdrant import CollectionOptions, IngestReport, QdrantIngestor
from tests.support.qdrant_server import QdrantServer
from tests.support.standin import StandInServer

WORDS = "revenue margin quarter region growth outlook cost capital risk market customer product plan".split()


def documents(count: int) -> Iterator[dict[str, object]]:
    """`count` documents of 20 to 80 words, made as they are read."""
    for index in range(count):
        words = [WORDS[(index * 7 + position * 3) % len(WORDS)] for position in range(20 + index % 61)]
        yield {"id": index, "text": f"Report {index}: " + " ".join(words), "metadata": {"index": index}}


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Curve:
    """(seconds, points stored, RSS, CPU seconds) sampled as the ingest reports progress, at most every 0.5 s."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.spooled: float | None = None
        self.samples: list[tuple[float, int, float, float]] = []

    def __call__(self, report: IngestReport) -> None:
        now = time.perf_counter() - self.started
        if report.points and self.spooled is None:
            self.spooled = now
        if report.points and (not self.samples or now - self.samples[-1][0] >= 0.5):
            self.samples.append((now, report.points, rss_mb(), time.process_time()))


async def ingest(count: int, in_flight: int, host: str, qdrant_server: QdrantServer, curve: Curve) -> IngestReport:
    qdrant = AsyncQdrantClient(url=qdrant_server.url, prefer_grpc=True, grpc_port=qdrant_server.grpc_port,
                               check_compatibility=False)
    async with AsyncEmbedClient(host, concurrency=in_flight) as embedder:
        ingestor = QdrantIngestor(
            embedder=embedder, settings=EmbeddingSettings(model="standin"), qdrant=qdrant, collection="scale",
            options=CollectionOptions(hnsw_config=models.HnswConfigDiff(m=0)),
        )
        report = await ingestor.aingest(documents(count), on_progress=curve)
    await qdrant.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=200_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    print(f"{args.documents} documents, {args.in_flight} /embed calls in flight, stand-in {args.delay * 1000:.0f} ms; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (a shared machine)", flush=True)
    before = rss_mb()
    with tempfile.TemporaryDirectory() as directory, StandInServer(delay=args.delay) as standin:
        qdrant_server = QdrantServer(Path(directory)).start()
        try:
            curve = Curve()
            report = asyncio.run(ingest(args.documents, args.in_flight, standin.host, qdrant_server, curve))
        finally:
            qdrant_server.stop()
    print(f"{report.summary()}; RSS before the run {before:.0f} MB, peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    samples = curve.samples
    print(f"spool (reading the input ahead): {curve.spooled or 0:.1f} s; then storing {report.points} points in "
          f"{samples[-1][0] - (curve.spooled or 0):.1f} s, ideal at {args.in_flight} in flight: "
          f"{args.documents * args.delay / args.in_flight:.0f} s")
    tenths: list[tuple[float, float, float]] = []  # (points/s, CPU ms per point, RSS at its end)
    previous = samples[0]
    for tenth in range(1, 11):
        goal = report.points * tenth / 10
        later = [s for s in samples if s[1] >= goal and s[0] > previous[0]]
        sample = later[0] if later and tenth < 10 else samples[-1]
        points = max(sample[1] - previous[1], 1)
        tenths.append((points / max(sample[0] - previous[0], 1e-9), (sample[3] - previous[3]) * 1000 / points, sample[2]))
        previous = sample
    print("tenth   points/s   CPU ms/point   RSS MB")
    for index, (rate, cpu, rss) in enumerate(tenths, 1):
        print(f"{index:5} {rate:10.0f} {cpu:14.2f} {rss:8.0f}")
    rates, cpus = [rate for rate, _, _ in tenths[1:]], [cpu for _, cpu, _ in tenths[1:]]
    print(f"tenths 2-10: throughput min {min(rates):.0f}, max {max(rates):.0f} points/s, last / second "
          f"{tenths[-1][0] / tenths[1][0]:.2f}; CPU per point min {min(cpus):.2f}, max {max(cpus):.2f} ms, last / "
          f"second {tenths[-1][1] / tenths[1][1]:.2f} (target: both within 10%); RSS end - end of warm-up "
          f"{tenths[-1][2] - tenths[0][2]:+.0f} MB (target within 50 MB); load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
