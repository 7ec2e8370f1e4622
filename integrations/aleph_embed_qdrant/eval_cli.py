"""`aleph-embed eval` and `aleph-embed sweep`: retrieval quality of a collection, and the best (layer, pooling)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aleph_embed import ConfigurationError
from aleph_embed.poolings import POOLINGS, Pooling
from aleph_embed.config import DEFAULT_CHUNK_TOKENS, DEFAULT_SWEEP_LAYERS, resolve_model
from aleph_embed.cli_support import (
    add_embedding_arguments, embedding_endpoint, needs_extra, one_line_warnings, printable, settings_from_args,
)
from aleph_embed.errors import MissingExtraError
from aleph_embed.metrics import load_qrels, load_queries

from aleph_embed.ingest.documents import read_paths

from .cli import (
    _vector_spec, add_chunking_arguments, add_mode_arguments, add_rerank_arguments, add_sparse_arguments,
    chunking_arguments, sparse_settings,
)
from .modes import FUSIONS
from .cli_qdrant import _add_qdrant_arguments, _qdrant, add_grpc_arguments

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from .evaluation import Evaluation, SweepResult
    from .collection import VectorSpec
    from .modes import SearchMode

FAILURES_SHOWN = 5


def register(subparsers: Any) -> None:
    """Add `eval` and `sweep` to the `aleph-embed` command."""
    evaluate = subparsers.add_parser(
        "eval", help="score a collection's vectors on BEIR-format queries and qrels",
        description="Embed each query as the collection's documents were (the model, layers, poolings and "
        "normalisation its ingest recorded), search each vector, and report nDCG@10, "
        "Recall@10, Recall@100 and MRR@10 against graded qrels, best nDCG@10 first. Documents are the ids given "
        "at ingest; a chunked document counts at the rank of its best chunk.",
    )
    _add_beir_arguments(evaluate)
    _add_qdrant_arguments(evaluate)
    add_embedding_arguments(evaluate)
    group = evaluate.add_argument_group("eval")
    group.add_argument("--using", nargs="+", action="extend", metavar="NAME",
                       help="named vectors to evaluate (default: all)")
    group.add_argument("--vector", action="append", default=[], metavar="NAME=LAYER:POOLING", type=_vector_spec,
                       help="how a named vector was made, as given to ingest (repeatable; only for a "
                       "collection not written by `aleph-embed ingest`, which records it)")
    group.add_argument("--exact", action="store_true", help="exhaustive search instead of the HNSW index")
    add_mode_arguments(group, evaluating=True)
    group.add_argument("--record", action="store_true",
                       help="record the best mode on the collection: `search` uses it when no --mode is given")
    add_rerank_arguments(evaluate.add_argument_group("reranking"), "eval")
    evaluate.set_defaults(run=_eval_command)

    sweep = subparsers.add_parser(
        "sweep", help="find the best layer and pooling for a corpus by measurement",
        description="Ingest (a sample of) DOCS into a scratch collection with every (layer, pooling) as a named "
        "vector, all from ONE /embed call per document, evaluate each on the queries and qrels, print the ranking "
        "and the command that ingests the whole corpus with the winner. The scratch collection lives in memory "
        "(or on --qdrant-url) and is deleted afterwards.",
    )
    sweep.add_argument("paths", nargs="+", metavar="DOCS",
                       help="the corpus: a BEIR corpus.jsonl (ids in _id), another .jsonl, or a directory of .txt/.md")
    _add_beir_arguments(sweep)
    add_embedding_arguments(sweep)
    group = sweep.add_argument_group("sweep")
    group.add_argument("--layers", type=_layers, default=_layers(DEFAULT_SWEEP_LAYERS),
                       help=f"comma-separated layers, negative from the end (default: {DEFAULT_SWEEP_LAYERS})")
    group.add_argument("--poolings", type=_poolings, default=list(POOLINGS),
                       help=f"comma-separated poolings (default: {','.join(POOLINGS)})")
    group.add_argument("--sample", type=int, help="ingest this many documents: all relevant ones first (default: all)")
    group.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    group.add_argument("--id-field", default="_id", help="JSONL field with the document id (default: _id, as in BEIR)")
    group.add_argument("--text-field", default="text", help="JSONL field with the text (default: text)")
    add_chunking_arguments(group)
    add_mode_arguments(group, evaluating=True)  # the scratch collection gets BM25 vectors when a mode needs them
    add_sparse_arguments(group)
    group.add_argument("--plot", type=Path, metavar="FILE.png", help="write a heatmap of nDCG@10 (needs [plot])")
    group.add_argument("--qdrant-url", help="hold the scratch collection on this Qdrant server (default: in memory)")
    add_grpc_arguments(group)
    sweep.set_defaults(run=_sweep_command, qdrant_path=None)


def _add_beir_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("queries and judgements (BEIR format)")
    group.add_argument("--queries", required=True, type=Path, help='queries.jsonl: {"_id": ..., "text": ...} per line')
    group.add_argument("--qrels", required=True, type=Path, help="qrels .tsv: query-id corpus-id score (header optional)")
    group.add_argument("--json", action="store_true", help="print JSON instead of a table")


def eval_modes(args: argparse.Namespace) -> list[SearchMode]:
    """The search modes of `--mode` (`all`: dense, sparse, hybrid with each fusion)."""
    from .modes import SearchMode

    def hybrid(fusion: str) -> SearchMode:
        rrf = fusion == "rrf"
        return SearchMode("hybrid", fusion, args.rrf_k if rrf else None, args.weights if rrf else None)  # type: ignore[arg-type]

    if args.mode == "all":
        return [SearchMode("dense"), SearchMode("sparse"), *(hybrid(fusion) for fusion in FUSIONS)]
    return [hybrid(args.fusion) if args.mode == "hybrid" else SearchMode(args.mode)]


def _layers(value: str) -> list[int]:
    try:
        layers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        layers = []
    if not layers:
        raise argparse.ArgumentTypeError(f"{value!r}: expected comma-separated layers, e.g. 0,2,4,-1")
    return layers


def _poolings(value: str) -> list[Pooling]:
    poolings = [part.strip() for part in value.split(",") if part.strip()]
    if not poolings or any(pooling not in POOLINGS for pooling in poolings):
        raise argparse.ArgumentTypeError(f"{value!r}: expected comma-separated poolings of {', '.join(POOLINGS)}")
    return cast(list[Pooling], poolings)


@needs_extra("qdrant", "qdrant_client")
def _eval_command(args: argparse.Namespace) -> int:
    from aleph_embed import EmbedClient

    from .collection import recorded_settings
    from .evaluation import evaluate

    queries, qrels = load_queries(args.queries), load_qrels(args.qrels)
    with _qdrant(args) as qdrant:
        recorded = recorded_settings(qdrant, args.collection)
        if recorded is not None and resolve_model(args.model) is None:
            args.model = recorded.model  # the model its documents were embedded with
        with embedding_endpoint(args) as (host, token, model), EmbedClient(host, token) as embedder:
            evaluation = evaluate(embedder, qdrant, args.collection, queries, qrels,
                                  settings=settings_from_args(args, model), vectors=dict(args.vector),
                                  using=args.using, exact=args.exact, modes=eval_modes(args), rerank=args.rerank,
                                  rerank_candidates=args.rerank_candidates)
        if args.record:
            from .evaluation import record_best

            record_best(qdrant, args.collection, evaluation)
    if args.json:
        print(json.dumps(evaluation.as_dict(), indent=2))
    else:
        _print_evaluation(evaluation)
        if args.rerank:
            print(printable(f"reranked: each query's first {args.rerank_candidates} documents by {args.rerank}"))
    return 0


@needs_extra("qdrant", "qdrant_client")
def _sweep_command(args: argparse.Namespace) -> int:
    from aleph_embed import EmbedClient

    from .evaluation import sweep

    one_line_warnings()
    queries, qrels = load_queries(args.queries), load_qrels(args.qrels)
    if args.plot:  # before the sweep, not after it
        MissingExtraError.check("--plot", "plot", "matplotlib")
    if args.sample is not None and args.sample < 1:
        raise ConfigurationError("--sample must be at least 1")
    with embedding_endpoint(args) as (host, token, model), \
            EmbedClient(host, token) as embedder, _scratch_qdrant(args) as qdrant:
        print(f"aleph-embed: sweeping {len(args.layers)} layers x {len(args.poolings)} poolings ...", file=sys.stderr)
        result = sweep(
            embedder, qdrant, read_paths(args.paths, id_field=args.id_field, text_field=args.text_field), queries,
            qrels, settings=settings_from_args(args, model), layers=args.layers, poolings=args.poolings, sample=args.sample,
            seed=args.seed, modes=eval_modes(args),
            sparse=sparse_settings(args, needed=args.mode != "dense"), **chunking_arguments(args),
        )
    command = winner_command(args, result)
    for failed in result.failed[:FAILURES_SHOWN]:
        which = failed.source if failed.id is None else failed.id
        print(printable(f"aleph-embed: document {which} failed, left out of the sweep: {failed.reason}"),
              file=sys.stderr)
    if len(result.failed) > FAILURES_SHOWN:
        print(f"aleph-embed: ... and {len(result.failed) - FAILURES_SHOWN} more documents failed", file=sys.stderr)
    if args.plot:
        from .plot import plot_heatmap

        plot_heatmap(result.evaluation, args.plot, title=f"nDCG@10 of {model} on {result.documents} documents, "
                     f"{result.evaluation.queries} queries")
    if args.json:
        print(json.dumps({**result.evaluation.as_dict(), "documents": result.documents, "points": result.points,
                          "embed_calls": result.embed_calls, "failed": len(result.failed), "command": command},
                         indent=2))
        return 0
    print(f"{result.documents} documents ingested as {result.points} points, {len(result.failed)} failed, with "
          f"{result.embed_calls} /embed calls")
    _print_evaluation(result.evaluation)
    best = result.best
    spec = winner_spec(result)
    print(f"\nbest: {best.mode}" + (f", layer {spec.layer}, pooling {spec.pooling}" if best.mode != "sparse" else "")
          + "; ingest the whole corpus with:")
    print(f"  {command}")
    if best.mode != "dense":
        print(f"  and search it with --mode {best.mode.split('-')[0]}"
              + (f" --fusion {best.mode.split('-')[1].split('(')[0]}" if best.mode.startswith("hybrid") else "")
              + " (or `eval --mode all --record` it)")
    if args.plot:
        print(f"heatmap: {args.plot}")
    return 0


def winner_command(args: argparse.Namespace, result: SweepResult) -> str:
    """The `aleph-embed ingest` command for the whole corpus with the best (layer, pooling), and BM25 when the best
    mode uses it."""
    spec = winner_spec(result)
    first = Path(args.paths[0])
    name = first.parent.resolve().name if first.stem == "corpus" else first.stem
    command = ["aleph-embed", "ingest", *args.paths, "--collection", name or "docs", "--id-field", args.id_field,
               "--text-field", args.text_field, "--layer", str(spec.layer), "--pooling", spec.pooling]
    for flag, value in (("--host", args.host), ("--model", args.model)):
        if value:
            command += [flag, value]
    if args.normalize is False:
        command.append("--no-normalize")
    if result.best.mode != "dense":
        command += ["--sparse", "bm25", "--language", args.language, "--bm25-k", f"{args.bm25_k:g}", "--bm25-b",
                    f"{args.bm25_b:g}", "--bm25-avg-len", f"{args.bm25_avg_len:g}"]
    if not args.chunking:
        command.append("--no-chunking")
    elif args.chunk_tokens != DEFAULT_CHUNK_TOKENS or args.chunk_overlap is not None:
        command += ["--chunk-tokens", str(args.chunk_tokens)]
        command += ["--chunk-overlap", str(args.chunk_overlap)] if args.chunk_overlap is not None else []
    return shlex.join(command)


def winner_spec(result: SweepResult) -> VectorSpec:
    """The (layer, pooling) of the best result that has one (BM25 alone has none)."""
    return next(r.spec for r in result.evaluation.results if r.spec is not None)


def _print_evaluation(evaluation: Evaluation) -> None:
    print(printable(f"{evaluation.queries} queries, collection {evaluation.collection}"))
    print(printable(evaluation.table(), lines=True))
    for query, reason in sorted(evaluation.failed_queries.items()):
        print(printable(f"aleph-embed: query {query} failed (scored 0): {reason}"), file=sys.stderr)


@contextmanager
def _scratch_qdrant(args: argparse.Namespace) -> Iterator[QdrantClient]:
    if args.qdrant_url:
        with _qdrant(args) as qdrant:
            yield qdrant
        return
    from qdrant_client import QdrantClient

    qdrant = QdrantClient(":memory:")
    try:
        yield qdrant
    finally:
        qdrant.close()
