"""A fake `/embed` API over httpx.MockTransport for the adapters' unit tests."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

import httpx

HOST = "https://inference.example/v1"
TOKEN = "sk-adapter-secret-42"
MODEL = "luminous-base"
LONG_MARKER = "TOO-LONG"
DELAY = 0.02


@dataclass
class FakeEmbedAPI:
    """Answers `/embed` with a vector that encodes the prompt: `[len(prompt), 1.0, 0.0]`.

    A prompt containing `LONG_MARKER` gets the real API's 400 for texts over the context. Each call takes `DELAY`
    seconds so `max_in_flight` shows how many calls overlapped.
    """

    requests: list[httpx.Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _enter(self, request: httpx.Request) -> None:
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        prompt = body["prompt"]
        if LONG_MARKER in prompt:
            return httpx.Response(
                400,
                json={"error": "prompt has 700 tokens, more than the model's context of 512", "code": "PAYLOAD_ERROR"},
            )
        layers = {
            f"layer_{layer if layer >= 0 else 6 + 1 + layer}": {p: [float(len(prompt)), 1.0, 0.0] for p in body["pooling"]}
            for layer in body["layers"]
        }
        return httpx.Response(
            200, json={"model_version": "fake", "embeddings": layers, "tokens": None, "num_tokens_prompt_total": 3}
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # a host of /embed only: no /model-settings, no /models_available
            return httpx.Response(404, json={"error": "not found", "code": "NOT_FOUND"})
        self._enter(request)
        time.sleep(DELAY)
        self._leave()
        return self._answer(request)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return self.handle(request)
        self._enter(request)
        await asyncio.sleep(DELAY)
        self._leave()
        return self._answer(request)

    def http_clients(self) -> dict[str, httpx.Client | httpx.AsyncClient]:
        """Constructor arguments that route the adapters' calls here."""
        return {
            "http_client": httpx.Client(transport=httpx.MockTransport(self.handle)),
            "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
        }

    def prompts(self) -> list[str]:
        return [json.loads(request.content)["prompt"] for request in self.requests]

    def bodies(self) -> list[dict]:
        return [json.loads(request.content) for request in self.requests]


RERANK_HOST = "https://rerank.example/v1"


@dataclass
class FakeRerankAPI:
    """Answers `/rerank` as the real API does, scoring a document by the share of the query's words it contains
    (not the retriever's order): results best first, `top_n` of them."""

    bodies: list[dict] = field(default_factory=list)

    @staticmethod
    def score(query: str, document: str) -> float:
        words = set(query.lower().rstrip("?").split())
        return len(words & set(document.lower().rstrip(".").split())) / len(words)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        scores = [self.score(body["query"], document) for document in body["documents"]]
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])[: body.get("top_n") or len(scores)]
        results = [{"index": i, "relevance_score": scores[i]} for i in ranked]
        return httpx.Response(200, json={"results": results, "usage": {"total_tokens": 10 * len(scores)}})

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    def options(self) -> dict[str, object]:
        """Constructor arguments of a reranker that route its calls here."""
        return {
            "host": RERANK_HOST,
            "http_client": httpx.Client(transport=httpx.MockTransport(self.handle)),
            "http_async_client": httpx.AsyncClient(transport=httpx.MockTransport(self.ahandle)),
        }
