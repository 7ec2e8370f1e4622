"""A loopback stand-in for `/embed`, `/semantic_embed` and `/batch_semantic_embed` that answers every call after a
fixed delay (for benchmarks), and says how many calls each path got (`GET /calls`, `StandInServer.calls()`).
With a `capacity`, a call that would make more than that many in flight is answered 503 `QUEUE_FULL` at once (a
busy deployment; counted as `rejected`).

It runs in its own process, so the client's CPU time measured in the benchmark is the client's alone.
`python -m tests.support.standin --port 8123 --delay 0.05` runs it by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import TracebackType

import httpx

from aleph_embed.server.launcher import LOOPBACK, free_port, stop_process, wait_until_ready

LAYERS = 6


def _vector(text: str, dimension: int) -> list[float]:
    seed = sum(map(ord, text)) % 97
    return [((seed + i) % 13) / 13.0 for i in range(dimension)]


def _embed_body(request: dict, dimension: int) -> bytes:
    prompt = request.get("prompt", "")
    text = prompt if isinstance(prompt, str) else json.dumps(prompt)
    vector = _vector(text, dimension)
    embeddings = {
        f"layer_{layer if layer >= 0 else LAYERS + 1 + layer}": {pooling: vector for pooling in request.get("pooling", ["mean"])}
        for layer in request.get("layers", [-1])
    }
    return json.dumps(
        {"model_version": "standin", "embeddings": embeddings, "tokens": None, "num_tokens_prompt_total": len(text.split()) or 1}
    ).encode()


def _semantic_body(request: dict, dimension: int) -> bytes:
    """A `/semantic_embed` answer (one `prompt`) or a `/batch_semantic_embed` one (`prompts`)."""
    prompts = request.get("prompts")
    texts = [str(request.get("prompt", ""))] if prompts is None else [str(prompt) for prompt in prompts]
    vectors = [_vector(text, dimension) for text in texts]
    answer = {"embedding": vectors[0]} if prompts is None else {"embeddings": vectors}
    tokens = sum(len(text.split()) or 1 for text in texts)
    return json.dumps({"model_version": "standin", **answer, "num_tokens_prompt_total": tokens}).encode()


_ANSWERS = {"/embed": _embed_body, "/semantic_embed": _semantic_body, "/batch_semantic_embed": _semantic_body}


_QUEUE_FULL = b'{"error": "the queue is full, retry immediately if still meaningful", "code": "QUEUE_FULL"}'


async def _serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, dimension: int, calls: Counter[str],
    capacity: int | None,
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            route = path.split("?", 1)[0]
            if route in _ANSWERS and method == "POST" and capacity is not None and calls["in_flight"] >= capacity:
                calls["rejected"] += 1
                payload, status = _QUEUE_FULL, "503 Service Unavailable"
            elif route in _ANSWERS and method == "POST":
                calls[route] += 1
                calls["in_flight"] += 1
                try:
                    await asyncio.sleep(delay)
                finally:
                    calls["in_flight"] -= 1
                payload, status = _ANSWERS[route](json.loads(body), dimension), "200 OK"
            elif route == "/calls":
                payload, status = json.dumps({k: n for k, n in calls.items() if k != "in_flight"}).encode(), "200 OK"
            elif route == "/models_available":
                payload, status = json.dumps([{"name": "standin", "max_context_size": 512}]).encode(), "200 OK"
            else:
                payload, status = b'{"error": "not found", "code": "NOT_FOUND"}', "404 Not Found"
            writer.write(
                f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main(port: int, delay: float, dimension: int, capacity: int | None) -> None:
    calls: Counter[str] = Counter()
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, delay, dimension, calls, capacity), LOOPBACK, port, backlog=1024
    )
    async with server:
        await server.serve_forever()


class StandInServer:
    """Starts the stand-in in a subprocess on a free loopback port; `.host` is its base URL."""

    def __init__(self, delay: float = 0.05, dimension: int = 384, capacity: int | None = None) -> None:
        self.delay = delay
        self.dimension = dimension
        self.capacity = capacity
        self.port = free_port()
        self.host = f"http://{LOOPBACK}:{self.port}"
        self.model = "standin"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StandInServer:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--port", str(self.port), "--delay", str(self.delay),
             "--dimension", str(self.dimension),
             *(["--capacity", str(self.capacity)] if self.capacity is not None else [])]
        )
        try:
            wait_until_ready(self._process, f"{self.host}/models_available", 10, "the stand-in server", lambda: "")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def calls(self) -> dict[str, int]:
        """The calls each path has answered so far (`rejected`: those answered 503 `QUEUE_FULL`)."""
        return dict(httpx.get(f"{self.host}/calls").json())

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--capacity", type=int, default=None, help="calls in flight before 503 QUEUE_FULL")
    options = parser.parse_args()
    try:
        asyncio.run(_main(options.port, options.delay, options.dimension, options.capacity))
    except KeyboardInterrupt:
        pass
