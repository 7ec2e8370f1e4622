"""Hybrid retrieval on the BEIR business-reports set (671 passages, 50 queries), through the CLI, on the real local
/embed server (MiniLM) and the Qdrant server binary (the embedded store's equality is in tests/qdrant/test_hybrid.py).

1. Ingest cost: `aleph-embed ingest` of the corpus dense-only, then with `--sparse bm25` into a fresh collection;
   the wall time of each and the ratio (sparse / dense-only; the run with BM25 also pays the /embed calls, which
   dominate). The order alternates over `--rounds`; each side's best round counts.
2. Quality: `aleph-embed eval --mode all --exact --json` on the `--sparse bm25` collection, and the same rankings
   computed independently (`tests.support.bruteforce`: numpy exact dense over the stored vectors, BM25 from its
   definition, the fusions as Qdrant defines them, pytrec_eval), side by side with their difference; the BM25 of
   the definition against bm25s (lucene) at the corpus's own average length: the same top 10 for how many queries.
3. Search latency: the same pre-embedded queries through `query_points`, dense vs hybrid (RRF, DBSF; the server
   computes the query's BM25 itself), `--repeats` passes; median ms per query and the ratio to dense.

    python -m bench.bench_hybrid [--rounds 2] [--repeats 5] [--bm25-avg-len 46]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import bm25s  # noqa: E402
import numpy as np  # noqa: E402
from qdrant_client import QdrantClient  # noqa: E402

from aleph_embed import EmbedClient  # noqa: E402
from aleph_embed.cli import main  # noqa: E402
from aleph_embed.metrics import load_qrels, load_queries  # noqa: E402
from aleph_embed.server.launcher import LocalServer  # noqa: E402
from aleph_embed_qdrant import recorded_settings  # noqa: E402
from aleph_embed_qdrant.modes import SearchMode  # noqa: E402
from aleph_embed_qdrant.query import query_arguments, sparse_encoder, sparse_query  # noqa: E402
from bench.sweep_beir import title_judgements  # noqa: E402
from tests.support.beir import BeirSet, shared_beir  # noqa: E402
from tests.support.bruteforce import Corpus, brute_force, ndcg_at_10  # noqa: E402
from tests.support.qdrant_server import QdrantServer  # noqa: E402

MODES = ("dense", "sparse", "hybrid-rrf", "hybrid-dbsf")


def cli(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(argv))
    if code != 0:
        raise SystemExit(f"aleph-embed {' '.join(argv[:1])} exited {code}")
    return out.getvalue()


def timed_ingest(corpus: Path, collection: str, store: list[str], endpoint: list[str], sparse: list[str]) -> float:
    start = time.perf_counter()
    cli("ingest", str(corpus), "--collection", collection, "--id-field", "_id", *sparse, *store, *endpoint)
    return time.perf_counter() - start


def bm25s_agreement(corpus: Corpus, queries: dict[str, str]) -> tuple[int, int]:
    """Queries whose first 10 points agree between the BM25 of the definition and bm25s (lucene), both at the corpus's
    own average length (bm25s computes it), on the same tokens."""
    retriever = bm25s.BM25(k1=corpus.bm25.settings.k, b=corpus.bm25.settings.b, method="lucene")
    retriever.index(corpus.tokens, show_progress=False)
    average = sum(map(len, corpus.tokens)) / len(corpus.tokens)
    same = 0
    for text in queries.values():
        tokens = list(dict.fromkeys(corpus.bm25.tokens(text)))
        scores = retriever.get_scores(tokens)
        theirs = [corpus.ids[i] for i in sorted(np.flatnonzero(scores), key=lambda i: (-scores[i], corpus.ids[i]))][:10]
        same += [point for _, point in corpus.sparse(text, avg_len=average)[:10]] == theirs
    return same, len(queries)


def latencies(qdrant: QdrantClient, collection: str, queries: dict[str, str], embedder: EmbedClient,
              repeats: int, local: bool) -> dict[str, float]:
    recorded = recorded_settings(qdrant, collection)
    assert recorded is not None
    vectors = embedder.embed_texts(list(queries.values()), recorded.embedding_settings(), side="query")
    bm25 = sparse_encoder(collection, recorded)
    modes = {"dense": SearchMode("dense"), "hybrid-rrf": SearchMode("hybrid", "rrf"),
             "hybrid-dbsf": SearchMode("hybrid", "dbsf")}
    times: dict[str, list[float]] = {label: [] for label in modes}
    for _ in range(repeats):
        for label, mode in modes.items():  # interleaved, so load drifts hit every mode alike
            for text, vector in zip(queries.values(), vectors):
                start = time.perf_counter()
                sparse = sparse_query(bm25, text, local) if mode.mode != "dense" else None
                qdrant.query_points(collection, **query_arguments(mode, dense=vector, using=None, sparse=sparse,
                                                                  limit=10), limit=10, with_payload=True)
                times[label].append(time.perf_counter() - start)
    return {label: 1000 * statistics.median(values) for label, values in times.items()}


def judgements(beir: BeirSet, directory: Path) -> dict[str, tuple[Path, Path]]:
    """The published qrels, and the judgements `bench.sweep_beir` derives from the corpus (each report's title as the
    query, all its passages relevant), written into `directory`."""
    queries, qrels = title_judgements(beir.corpus)
    (directory / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    (directory / "qrels.tsv").write_text("".join(f"{q}\t{d}\t{g}\n" for q, judged in qrels.items()
                                                 for d, g in judged.items()))
    return {"published qrels": (beir.queries, beir.qrels), "title -> its report's passages": (
        directory / "queries.jsonl", directory / "qrels.tsv")}


def run(store_name: str, store: list[str], qdrant: QdrantClient, server: LocalServer, args: argparse.Namespace) -> None:
    beir = shared_beir()
    assert beir is not None  # checked by main_
    endpoint = ["--host", server.host, "--model", server.default_model]
    sparse = ["--sparse", "bm25", "--bm25-avg-len", str(args.bm25_avg_len)]
    times: dict[str, list[float]] = {"dense": [], "sparse": []}
    for round_ in range(args.rounds):
        for kind in (("dense", "sparse") if round_ % 2 == 0 else ("sparse", "dense")):
            name = f"bench-{kind}-{round_}"
            times[kind].append(timed_ingest(beir.corpus, name, store, endpoint, sparse if kind == "sparse" else []))
            if round_ < args.rounds - 1 or kind == "dense":
                qdrant.delete_collection(name)
    collection = f"bench-sparse-{args.rounds - 1}"
    dense_s, sparse_s = min(times["dense"]), min(times["sparse"])
    print(f"\n[{store_name}] ingest of {sum(1 for _ in beir.corpus.open())} passages, best of {args.rounds}: "
          f"dense-only {dense_s:.1f} s, with --sparse bm25 {sparse_s:.1f} s, ratio {sparse_s / dense_s:.3f} "
          f"(all rounds: dense {[round(t, 1) for t in times['dense']]}, sparse {[round(t, 1) for t in times['sparse']]})")

    with EmbedClient(server.host, server.token) as embedder:
        for what, (queries_path, qrels_path) in judgements(beir, args.scratch).items():
            report = json.loads(cli("eval", "--queries", str(queries_path), "--qrels", str(qrels_path), "--collection",
                                    collection, "--mode", "all", "--exact", "--json", *store, *endpoint))
            reported = {row["mode"]: row for row in report["results"]}
            queries, qrels = load_queries(queries_path), load_qrels(qrels_path)
            independent = {label: ndcg_at_10({q: qrels[q] for q in qrels if q in queries}, ranking)
                           for label, ranking in brute_force(qdrant, collection, queries, embedder).items()}
            print(f"[{store_name}] eval --mode all, {what} ({report['queries']} queries), vs an independent computation:")
            print(f"  {'mode':<12} {'nDCG@10':>8} {'R@10':>6} {'R@100':>6} {'MRR@10':>7} {'independent':>12} {'diff':>8}")
            for label in MODES:
                row = reported[label]
                print(f"  {label:<12} {row['ndcg_at_10']:8.4f} {row['recall_at_10']:6.4f} {row['recall_at_100']:6.4f} "
                      f"{row['mrr_at_10']:7.4f} {independent[label]:12.4f} {row['ndcg_at_10'] - independent[label]:+8.4f}")
            same, total = bm25s_agreement(Corpus(qdrant, collection), queries)
            print(f"  BM25 of the definition vs bm25s (lucene, the corpus's average length): the same first 10 for "
                  f"{same}/{total} queries")
        corpus = Corpus(qdrant, collection)
        print(f"  (the points' own average: {sum(map(len, corpus.tokens)) / len(corpus.tokens):.1f} BM25 tokens)")
        ms = latencies(qdrant, collection, queries, embedder, args.repeats, local=False)
    print(f"[{store_name}] search latency, median of {args.repeats} x {len(queries)} queries (query_points, top 10, "
          "the dense query pre-embedded):")
    for label, value in ms.items():
        print(f"  {label:<12} {value:7.2f} ms  ratio to dense {value / ms['dense']:.2f}")


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="ingest rounds per side (default: 2)")
    parser.add_argument("--repeats", type=int, default=5, help="passes over the queries per search mode (default: 5)")
    parser.add_argument("--bm25-avg-len", type=float, default=46.0,
                        help="BM25 avg_len of the ingest (default: 46, the passages' own)")
    args = parser.parse_args()
    if shared_beir() is None:
        print("bench_hybrid: skipped: no shared/data/beir-business-reports beside the repository (ALEPH_EMBED_BEIR_DIR)")
        return
    with LocalServer() as server, tempfile.TemporaryDirectory() as directory:
        args.scratch = Path(directory)
        qdrant_server = QdrantServer(Path(directory) / "qdrant-server").start()
        try:
            with contextlib.closing(QdrantClient(url=qdrant_server.url, check_compatibility=False)) as qdrant:
                run("server", ["--qdrant-url", qdrant_server.url], qdrant, server, args)
        finally:
            qdrant_server.stop()


if __name__ == "__main__":
    main_()
