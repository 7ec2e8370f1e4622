"""Client CPU per call for big answers: 384 floats, 5120 floats, and 5120 x 4 (2 layers x 2 poolings, ~400 kB of JSON).

Against the loopback stand-in answering at once (in its own process, so the CPU time measured is the client's),
one call after another: our `EmbedClient.embed` (the answer streamed and counted under `max_response_bytes`, parsed
and validated in one pass by pydantic-core's JSON parser), `aleph-alpha-client`'s `Client.embed`, the floor, a bare
`httpx.Client.post` + `orjson.loads`, and below it the standard library's `http.client` + `orjson.loads` (what a
leaner HTTP stack than httpx could reach). Each is the best of three interleaved rounds. Targets: ours <= 1.3x the
floor and below aleph-alpha-client at every size.

    python -m bench.bench_answers [--rounds 3]
"""

from __future__ import annotations

import argparse
import http.client
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import orjson
from aleph_alpha_client import Client, EmbeddingRequest, Prompt

from aleph_embed import EmbedClient, EmbedRequest
from tests.support.standin import StandInServer

TEXT = "Quarterly revenue grew in every region while costs stayed flat."
SIZES = {  # name: (dimension, layers, poolings, calls per round)
    "384": (384, [-1], ["mean"], 300),
    "5120": (5120, [-1], ["mean"], 150),
    "5120 x 4": (5120, [-2, -1], ["mean", "max"], 60),
}
FLOOR, OURS, THEIRS, STDLIB = "httpx + orjson", "aleph-embed", "aleph-alpha-client", "http.client + orjson"


def cpu_per_call(call: Callable[[], object], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls


def measure(dimension: int, layers: list[int], poolings: list[str], calls: int, rounds: int) -> dict[str, float]:
    with StandInServer(delay=0.0, dimension=dimension) as server:
        ours_request = EmbedRequest(model=server.model, prompt=TEXT, layers=layers, pooling=poolings)
        theirs_request = EmbeddingRequest(prompt=Prompt.from_text(TEXT), layers=layers, pooling=poolings)
        body = ours_request.body_json()
        address = urlsplit(server.host)
        stdlib = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port)
        headers = {"content-type": "application/json"}

        def stdlib_call() -> object:
            stdlib.request("POST", "/embed", body=body, headers=headers)
            return orjson.loads(stdlib.getresponse().read())

        theirs = Client(token="unused", host=server.host)
        with EmbedClient(server.host) as ours, httpx.Client() as bare:
            url = f"{server.host}/embed"
            sides: dict[str, Callable[[], object]] = {
                FLOOR: lambda: orjson.loads(bare.post(url, content=body, headers=headers).content),
                OURS: lambda: ours.embed(ours_request),
                THEIRS: lambda: theirs.embed(theirs_request, model=server.model),
                STDLIB: stdlib_call,
            }
            for call in sides.values():
                cpu_per_call(call, 10)  # warm up connections
            best = {name: float("inf") for name in sides}
            for _ in range(rounds):
                for name, call in sides.items():
                    best[name] = min(best[name], cpu_per_call(call, calls))
        stdlib.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print(f"client CPU per call, one call after another, best of {rounds} rounds; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f} (a shared machine: compare the ratios)")
    for name, (dimension, layers, poolings, calls) in SIZES.items():
        best = measure(dimension, layers, poolings, calls, rounds)
        print(f"{name:>9}: " + ", ".join(f"{side} {cpu * 1e6:.0f} µs" for side, cpu in best.items()))
        print(f"{'':>9}  ours / floor {best[OURS] / best[FLOOR]:.2f} (target <= 1.3), ours / aleph-alpha-client "
              f"{best[OURS] / best[THEIRS]:.2f} (target < 1), http.client / floor {best[STDLIB] / best[FLOOR]:.2f}; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
