"""The local server's work per call bounded: RSS after a worst-case `/batch_semantic_embed` call, and how long a
1-token `/embed` waits meanwhile.

The worst case: 100 prompts of 510 token ids each (512 with the special tokens, the model's whole context). One
server (default settings: ONNX Runtime fp32); baselines measured in the same run: its RSS when idle (after a first
request) and a 1-token `/embed`'s latency on the quiet server. Prints both, the values during / after the call and
the ratios, and the load average.

    python -m bench.bench_server_bounds [--prompts 100] [--tokens 510]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402

from aleph_embed.server.launcher import LocalServer  # noqa: E402


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory (or `VmHWM`, its peak) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def small_embed(client: httpx.Client, model: str) -> float:
    """Seconds of one `/embed` of a 1-token prompt."""
    started = time.perf_counter()
    client.post("/embed", json={"model": model, "prompt": "a", "layers": [-1], "pooling": ["mean"]}).raise_for_status()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=510)
    args = parser.parse_args()
    with LocalServer() as server, httpx.Client(base_url=server.host, timeout=600) as client:
        assert server.pid is not None
        model = server.default_model
        small_embed(client, model)
        quiet = [small_embed(client, model) for _ in range(5)]
        idle = rss_mb(server.pid)
        prompts = [[{"type": "token_ids", "data": [1000 + (i + j) % 20000 for j in range(args.tokens)]}]
                   for i in range(args.prompts)]
        body = {"model": model, "prompts": prompts, "representation": "document"}
        waits: list[float] = []
        done = threading.Event()

        def worst_call() -> None:
            try:
                client.post("/batch_semantic_embed", json=body).raise_for_status()
            finally:
                done.set()

        started = time.perf_counter()
        thread = threading.Thread(target=worst_call)
        thread.start()
        time.sleep(0.5)
        while not done.is_set():
            waits.append(small_embed(client, model))
        thread.join()
        call = time.perf_counter() - started
        after, peak = rss_mb(server.pid), rss_mb(server.pid, "VmHWM")
    quiet_ms, wait_ms = statistics.median(quiet) * 1000, max(waits) * 1000
    print(f"{args.prompts} x {args.tokens} token ids in one /batch_semantic_embed call: {call:.1f} s")
    print(f"server RSS: idle {idle:.0f} MB, after the call {after:.0f} MB (peak {peak:.0f} MB); "
          f"after / idle {after / idle:.2f}x, peak / idle {peak / idle:.2f}x")
    print(f"1-token /embed: quiet {quiet_ms:.0f} ms (median of 5), during the call at most {wait_ms:.0f} ms over "
          f"{len(waits)} requests (median {statistics.median(waits) * 1000:.0f} ms); worst / quiet "
          f"{wait_ms / quiet_ms:.1f}x")
    print(f"load average: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


if __name__ == "__main__":
    main()
