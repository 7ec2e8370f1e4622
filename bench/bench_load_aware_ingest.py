"""Load-aware concurrency in the ingest: `aleph-embed ingest --concurrency 32` of 2,000 documents against a busy
deployment (the stand-in API with room for `--capacity` calls; one more in flight is answered 503 `QUEUE_FULL` at
once), with adaptation off (`--no-adapt-concurrency`: 32 calls in flight throughout, each rejected call retried
with backoff, as before) and on (the default: halved on each overload, grown back as calls succeed), in the same
run. Prints the calls each was refused, their ratio, and each run's summary line (the stand-in counts the calls).

    python -m bench.bench_load_aware_ingest [--documents 2000] [--concurrency 32] [--capacity 8] [--delay 0.01]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
import time
from pathlib import Path

from aleph_embed.cli import main
from tests.support.standin import StandInServer


def run(corpus: Path, store: Path, options: argparse.Namespace, adapt: bool) -> tuple[int, float, str]:
    """One ingest against a fresh stand-in: the calls it refused, the seconds it took, its summary line."""
    with StandInServer(delay=options.delay, dimension=8, capacity=options.capacity) as standin:
        output, started = io.StringIO(), time.perf_counter()
        with contextlib.redirect_stdout(output):
            main(["ingest", str(corpus), "--collection", "adaptive" if adapt else "fixed", "--qdrant-path", str(store),
                  "--host", standin.host, "--model", standin.model, "--no-chunking", "--progress-interval", "3600",
                  "--concurrency", str(options.concurrency), "--adapt-concurrency" if adapt else "--no-adapt-concurrency"])
        return standin.calls().get("rejected", 0), time.perf_counter() - started, output.getvalue().strip()


def bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32, help="--concurrency of both ingests")
    parser.add_argument("--capacity", type=int, default=8, help="calls the stand-in takes at once")
    parser.add_argument("--delay", type=float, default=0.01, help="the stand-in's latency per call (s)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        corpus = Path(directory) / "corpus.jsonl"
        corpus.write_text("".join(json.dumps({"id": f"doc-{n}", "text": f"document {n} on topic {n % 17}"}) + "\n"
                                  for n in range(options.documents)))
        store = Path(directory) / "qdrant"
        fixed, fixed_seconds, fixed_line = run(corpus, store, options, adapt=False)
        adaptive, adaptive_seconds, adaptive_line = run(corpus, store, options, adapt=True)
    print(f"{options.documents} documents, --concurrency {options.concurrency}, a server with room for "
          f"{options.capacity} calls ({options.delay * 1000:.0f} ms each):")
    print(f"  fixed:    {fixed:5d} calls rejected, {fixed_seconds:5.1f} s  | {fixed_line}")
    print(f"  adaptive: {adaptive:5d} calls rejected, {adaptive_seconds:5.1f} s  | {adaptive_line}")
    print(f"  rejected calls, fixed / adaptive: {fixed / max(adaptive, 1):.1f}x")


if __name__ == "__main__":
    bench()
