"""`aleph-embed ingest` and `aleph-embed search`: documents into Qdrant, questions against it (`collections` and
`delete` are in `cli_store`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aleph_embed import ConfigurationError, MissingExtraError
from aleph_embed.config import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_CLI_CONCURRENCY,
    DEFAULT_MAX_DOCUMENT_CHARS,
    DEFAULT_UPSERT_BATCH_BYTES,
    MAX_PDF_PAGE_CHARS,
    DEFAULT_PROGRESS_INTERVAL,
    DEFAULT_RERANK_CANDIDATES,
    ENV_HOST,
    ENV_MODEL,
    data_dir,
    resolve_host,
    resolve_model,
)
from aleph_embed.cli_support import (
    add_embedding_arguments, embedding_endpoint, given_options, needs_extra, one_line_warnings, option_flag, printable,
    refused_token,
    settings_from_args,
)
from aleph_embed.ingest.documents import FileReader, ReadFailure, plural
from aleph_embed.ingest.limits import ReadLimits
from aleph_embed.ingest.readers import READERS

from .cli_qdrant import _add_qdrant_arguments, _home, _qdrant
from .cli_store import add_store_commands
from .errors import IngestInterrupted, IngestStopped
from .layout import LAYOUTS, describe_point

if TYPE_CHECKING:  # qdrant-client, pydantic's models and httpx load when a command runs, not when the CLI starts
    from aleph_embed import EmbeddingSettings
    from aleph_embed.ingest.vectors import VectorSpec
    from qdrant_client import QdrantClient

    from aleph_embed.ingest.bm25 import BM25Settings

    from .collection import RecordedSettings
    from .ingest import IngestReport
    from .modes import SearchMode


def default_failures(collection: str) -> Path:
    """The failures file of a collection when no --failures is given."""
    return data_dir() / "failures" / f"{collection.replace(os.sep, '_')}.jsonl"


def add_qdrant_commands(subparsers: Any) -> None:
    """Add `ingest`, `search`, `collections` and `delete` to the `aleph-embed` command."""
    ingest = subparsers.add_parser(
        "ingest", help="embed documents and store them in Qdrant",
        description="Embed documents (through the endpoint the host serves the model on, unless --endpoint) and "
        "upsert them into a Qdrant collection. Unchanged documents are skipped without an embedding call, so "
        "re-running (also after an interruption) never duplicates. "
        "Exit code 1 when any document failed (they are listed in the failures file).",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH",
                        help=f"a directory or file ({' '.join(READERS)}), a .jsonl file (id, text, "
                        "metadata; a failures file retries its documents), or - for JSONL on stdin")
    _add_qdrant_arguments(ingest)
    files = ingest.add_argument_group("files")
    files.add_argument("--root", type=Path, default=None,
                       help="file ids are paths relative to this directory (default: the folder the collection's first "
                       "file ingest ran in, recorded on it; else the current directory)")
    files.add_argument("--include", action="append", default=[], metavar="GLOB",
                       help="read only files matching GLOB (repeatable; matched against the path and the name)")
    files.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                       help="skip files and folders matching GLOB (repeatable)")
    files.add_argument("--verbose", action="store_true", help="name each file and folder skipped, with why")
    files.add_argument("--follow-symlinks", action="store_true",
                       help="read file links whose target lies outside the named directory (default: skipped)")
    files.add_argument("--max-document-chars", type=int, default=DEFAULT_MAX_DOCUMENT_CHARS, metavar="N",
                       help="a longer document (a file's text, a JSONL line's) is a reported failure, read no further "
                       f"(default: {DEFAULT_MAX_DOCUMENT_CHARS:,}; a PDF page at most {MAX_PDF_PAGE_CHARS:,})")
    _add_reading_arguments(files)
    add_embedding_arguments(ingest)
    group = ingest.add_argument_group("ingest")
    group.add_argument("--batch-size", type=int, default=64, help="points per upsert (default: 64)")
    group.add_argument("--batch-bytes", type=int, default=DEFAULT_UPSERT_BATCH_BYTES,
                       help=f"estimated bytes per upsert (default: {DEFAULT_UPSERT_BATCH_BYTES})")
    group.add_argument("--concurrency", type=int, default=DEFAULT_CLI_CONCURRENCY,
                       help=f"most embedding calls in flight (default: {DEFAULT_CLI_CONCURRENCY})")
    group.add_argument("--adapt-concurrency", action=argparse.BooleanOptionalAction, default=True,
                       help="fewer calls in flight while the server says it is full (503 QUEUE_FULL, 429), more again "
                       "as calls succeed, never above --concurrency (default: on)")
    group.add_argument("--upsert-parallelism", type=int, default=2, help="upserts in flight (default: 2)")
    group.add_argument("--id-field", default="id", help="JSONL field with the document id (default: id)")
    group.add_argument("--text-field", default="text", help="JSONL field with the text (default: text)")
    group.add_argument("--layout", choices=LAYOUTS, default="both",
                       help="payload layout: both (default: LangChain's and LlamaIndex's stores read it), langchain "
                       "(page_content, metadata) or llamaindex (_node_content)")
    add_chunking_arguments(group)
    group.add_argument("--recreate", action="store_true",
                       help="drop the collection first (needed to ingest with settings other than those it records)")
    group.add_argument("--vector", action="append", default=[], metavar="NAME=LAYER:POOLING", type=_vector_spec,
                       help="store a named vector (repeatable; all from one /embed call), e.g. last=-1:mean")
    add_sparse_arguments(group)
    group.add_argument("--shards", type=int, help="shard_number of a new collection")
    group.add_argument("--replicas", type=int, help="replication_factor of a new collection")
    group.add_argument("--failures", type=Path,
                       help="the failures file: failed documents as JSONL, kept until a run stores them; ingest it "
                       f"to retry them (default: {_home(default_failures('COLLECTION'))})")
    group.add_argument("--prune", action="store_true",
                       help="delete the points of files under the PATHs that no longer exist (nothing else)")
    group.add_argument("--progress-interval", type=float, default=DEFAULT_PROGRESS_INTERVAL, metavar="SECONDS",
                       help="seconds between progress lines when stderr is not a terminal (default: %(default)s)")
    engine = ingest.add_argument_group("engine")
    engine.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local (default): this process reads, embeds and writes; ray: Ray Data's workers do, "
                        "on the cluster at --ray-address or a local Ray instance started for the run (extra [ray]; "
                        "needs a Qdrant server: --qdrant-url)")
    engine.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="the Ray cluster of --engine ray, e.g. ray://head:10001 or auto (default: a local "
                        "instance for the run)")
    engine.add_argument("--ray-actors", type=int, default=2, metavar="N",
                        help="embedding actors of --engine ray, sharing --concurrency calls in flight (default: 2)")
    ingest.set_defaults(run=_ingest_command)

    search = subparsers.add_parser(
        "search", help="print the chunks nearest to a query, with scores, their source and heading",
    )
    search.add_argument("query")
    _add_qdrant_arguments(search)
    add_embedding_arguments(search)
    search.add_argument("--top-k", type=_positive, default=5, help="hits to print (default: 5)")
    search.add_argument("--using", default=None, metavar="NAME",
                        help="the named vector to search, embedding the query with its recorded layer and pooling "
                        "(default: the unnamed vector)")
    search.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", type=_payload_filter,
                        dest="filters", help="only documents whose metadata KEY (a.b for nested keys) is VALUE "
                        "(repeatable: all must hold; 2020 and true also match the number and the boolean)")
    search.add_argument("--min-score", type=float, default=None, help="only hits scoring at least this")
    add_mode_arguments(search)
    add_rerank_arguments(search.add_argument_group("reranking"), "search")
    search.add_argument("--json", action="store_true", help="print the hits as one JSON array")
    search.set_defaults(run=_search_command)
    add_store_commands(subparsers)


def add_sparse_arguments(group: argparse._ArgumentGroup) -> None:
    """`--sparse`, `--language`, `--bm25-k`, `--bm25-b`, `--bm25-avg-len` (the ingest's and the sweep's)."""
    group.add_argument("--sparse", choices=["bm25"], default=None,
                       help="add a BM25 sparse vector beside the dense one(s), for --mode sparse|hybrid searches "
                       "(a Qdrant server computes it itself, the embedded store here: the same vectors)")
    group.add_argument("--language", default="english",
                       help="BM25's stemmer and stop words (Snowball languages; default: english)")
    group.add_argument("--bm25-k", type=float, default=1.2, help="BM25 k: term frequency saturation (default: 1.2)")
    group.add_argument("--bm25-b", type=float, default=0.75, help="BM25 b: length normalisation (default: 0.75)")
    group.add_argument("--bm25-avg-len", type=float, default=256.0,
                       help="BM25's expected document length in tokens (default: 256, Qdrant's)")


def sparse_settings(args: argparse.Namespace, needed: bool = False) -> BM25Settings | None:
    """The `BM25Settings` of the sparse flags (None without --sparse, unless `needed`)."""
    if args.sparse is None and not needed:
        return None
    from aleph_embed.ingest.bm25 import BM25Settings

    return BM25Settings(language=args.language, k=args.bm25_k, b=args.bm25_b, avg_len=args.bm25_avg_len)


def add_mode_arguments(group: Any, *, evaluating: bool = False) -> None:
    """`--mode`, `--fusion`, `--rrf-k`, `--weights`: of a search, or (`evaluating`) of `eval` and `sweep`, whose
    `--mode all` runs dense, sparse and each fusion side by side."""
    from .modes import FUSIONS, MODES

    if evaluating:
        group.add_argument("--mode", choices=[*MODES, "all"], default="dense",
                           help="dense (default), sparse (BM25), hybrid (--fusion), or all: dense, sparse and each "
                           "fusion side by side (sparse and hybrid need BM25 vectors: --sparse bm25)")
    else:
        group.add_argument("--mode", choices=MODES, default=None,
                           help="dense (the embedded query), sparse (BM25) or hybrid (both, fused in Qdrant); "
                           "default: what `eval --record` recorded on the collection as best, else dense")
    group.add_argument("--fusion", choices=FUSIONS, default="rrf" if evaluating else None,
                       help="hybrid: rrf (reciprocal rank fusion, default) or dbsf (distribution-based score fusion)")
    group.add_argument("--rrf-k", type=int, default=None, help="hybrid rrf: the rank constant (Qdrant's default: 2)")
    group.add_argument("--weights", type=_weights, default=None, metavar="DENSE,SPARSE",
                       help="hybrid rrf: the weight of each side, e.g. 1,0.5 (Qdrant 1.17+ or the embedded store)")


def _weights(value: str) -> tuple[float, float]:
    try:
        dense, sparse = (float(part) for part in value.split(","))
        return dense, sparse
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: expected DENSE,SPARSE weights, e.g. 1,0.5") from None


def search_mode(args: argparse.Namespace, recorded: RecordedSettings | None) -> SearchMode:
    """The search mode of the flags, over what the collection recorded as best."""
    from dataclasses import replace

    from .modes import SearchMode

    best = SearchMode.recorded(recorded)
    given = {name: getattr(args, field) for name, field in
             (("mode", "mode"), ("fusion", "fusion"), ("rrf_k", "rrf_k"), ("weights", "weights"))
             if getattr(args, field) is not None}
    if given.get("mode", best.mode) != best.mode or "fusion" in given:
        best = SearchMode(mode=best.mode)  # the recorded fusion parameters belong to the recorded mode
    return replace(best, **given)


def add_chunking_arguments(group: argparse._ArgumentGroup) -> None:
    """`--chunk-tokens`, `--chunk-overlap`, `--no-chunking` (the ingest's and the sweep's)."""
    group.add_argument("--chunk-tokens", type=int, default=DEFAULT_CHUNK_TOKENS,
                       help=f"chunk size in the model's tokens, capped at its context (default: {DEFAULT_CHUNK_TOKENS})")
    group.add_argument("--chunk-overlap", type=int, default=None,
                       help="tokens a chunk cut by size repeats of the previous one (default: an eighth of --chunk-tokens)")
    group.add_argument("--no-chunking", dest="chunking", action="store_false",
                       help="store each document whole (one too long for the model then fails)")


def add_rerank_arguments(group: argparse._ArgumentGroup, command: str) -> None:
    """`--rerank MODEL` and `--rerank-candidates N` (the search's and the eval's)."""
    group.add_argument("--rerank", metavar="MODEL", help="reorder the first hits by this reranking model's relevance "
                       "of their texts to the query (POST /rerank; e.g. bge-reranker-v2-m3)" + (
                           "; the hits' score is then its relevance score" if command == "search" else
                           "; reports the first stage's and the reranked ranking's scores side by side"))
    group.add_argument("--rerank-candidates", type=int, default=DEFAULT_RERANK_CANDIDATES, metavar="N",
                       help="how many first-stage hits the reranking model orders (default: %(default)s)")


def chunking_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The `QdrantIngestor` keyword arguments of the chunking flags."""
    return {"chunking": args.chunking, "chunk_tokens": args.chunk_tokens, "chunk_overlap": args.chunk_overlap}


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of at least 1")
    return number


def _payload_filter(value: str) -> tuple[str, str]:
    key, sep, expected = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{value!r}: expected KEY=VALUE, e.g. topic=paris or year=2020")
    return key, expected


def _vector_spec(value: str) -> tuple[str, VectorSpec]:
    from aleph_embed.poolings import POOLINGS, Pooling
    from aleph_embed.ingest.vectors import VectorSpec

    name, _, spec = value.partition("=")
    layer, _, pooling = spec.partition(":")
    try:
        if not name or pooling not in POOLINGS:
            raise ValueError
        return name, VectorSpec(int(layer), cast(Pooling, pooling))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: expected NAME=LAYER:POOLING, e.g. last=-1:mean (poolings: {', '.join(POOLINGS)})"
        ) from None


@needs_extra("qdrant", "qdrant_client")
def _ingest_command(args: argparse.Namespace) -> int:
    from aleph_embed import EmbedClient
    from aleph_embed.ingest.failures import FailuresFile
    from aleph_embed.ingest.progress import Progress

    from .collection import CollectionOptions, files_root, record_files_root
    from .ingest import QdrantIngestor
    from .lease import Lease

    one_line_warnings()
    if args.engine == "ray":
        _check_ray_arguments(args)
    failures_path: Path = args.failures or default_failures(args.collection)
    reader = _reader(args)
    reader.check(args.paths, missing_ok=args.prune)
    options = CollectionOptions(shard_number=args.shards, replication_factor=args.replicas)
    with embedding_endpoint(args) as (host, token, model), \
            EmbedClient(host, token, concurrency=args.concurrency, adapt_concurrency=args.adapt_concurrency) as embedder, \
            _qdrant(args) as qdrant:
        reader.root, recorded_root = files_root(qdrant, args.collection,
                                                args.root or (Path.cwd() if args.recreate else None))
        if recorded_root and reader.root != Path.cwd() and _file_paths(args.paths):
            print(printable(f"aleph-embed: file ids are relative to {reader.root}, the folder the collection's files "
                            "were first ingested from (--root to choose another)"), file=sys.stderr)
        failures = FailuresFile(failures_path)
        ingestor = QdrantIngestor(
            embedder=embedder, settings=settings_from_args(args, model), qdrant=qdrant, collection=args.collection,
            vectors=dict(args.vector) or None, sparse=sparse_settings(args), layout=args.layout, options=options,
            batch_size=args.batch_size,
            batch_bytes=args.batch_bytes,
            concurrency=args.concurrency, upsert_parallelism=args.upsert_parallelism, recreate=args.recreate,
            **chunking_arguments(args),
            id_field=args.id_field, text_field=args.text_field, max_document_chars=args.max_document_chars,
        )
        listed = reader.listing(args.paths)  # the one walk of the folders
        progress = Progress(sys.stderr, embedder.usage, reader.count(listed), log_interval=args.progress_interval)
        stopped: IngestStopped | None = None
        report: IngestReport | None = None
        with Lease(qdrant, args.collection):  # one run at a time on a collection of a Qdrant server
            unreadable: list[ReadFailure] = []  # what Ray's workers could not read (the local engine reports its own)
            try:
                if args.engine == "ray":
                    from aleph_embed_ray.cli import ray_ingest

                    report = ray_ingest(args, ingestor, token, reader, failures, unreadable, progress.update)
                else:  # unreadable files and lines are the engine's failed documents
                    report = ingestor.ingest(failures.watch(reader.read(listed)), on_progress=progress.update)
            except IngestStopped as error:
                stopped, report = error, error.report
            finally:  # the failures so far are kept whatever ends the run
                progress.close()
                if report is not None:
                    _count_unreadable(report, unreadable)
                kept = failures.write(report.failed if report else [], completed=stopped is None and report is not None)
        pruned = _prune(qdrant, args, reader) if args.prune and stopped is None else None
        if _file_paths(args.paths):
            record_files_root(qdrant, args.collection, reader.root)
    assert report is not None  # set unless an exception left the block
    _list_unreadable(report)
    failed = len(report.failed)
    where = f"see {failures_path}{f' ({kept} with earlier runs)' if kept > failed else ''}; ingest it to retry them"
    if stopped is not None:
        print(f"aleph-embed: {printable(refused_token(stopped) or stopped)}", file=sys.stderr)
        if failed:
            print(f"aleph-embed: {plural(failed, 'document')} failed; {where}", file=sys.stderr)
        return 130 if isinstance(stopped, IngestInterrupted) else 2 if isinstance(stopped, ConfigurationError) else 1
    skipped = reader.skipped.summary()
    reading = f"; {reader.reading.summary()}" if reader.reading.files else ""
    print(printable(f"aleph-embed: {report.summary()} ({report.embed_calls} {ingestor.settings.endpoint} calls, "
                    f"{embedder.usage.retries} retries){reading}{'; ' + skipped if skipped else ''}{'; ' + pruned if pruned else ''}"))
    if failed:
        print(f"aleph-embed: {plural(failed, 'document')} failed; {where}", file=sys.stderr)
        return 1
    return 0


def _check_ray_arguments(args: argparse.Namespace) -> None:
    """`--engine ray` writes from Ray's workers: a Qdrant server, files (not stdin), and the extra."""
    if not args.qdrant_url:
        raise ConfigurationError("--engine ray writes from Ray's workers, which cannot share the embedded store: "
                                 "give a Qdrant server with --qdrant-url (or QDRANT_URL), or use --engine local")
    if "-" in args.paths:
        raise ConfigurationError("--engine ray reads files, not stdin: write the JSONL to a file and ingest that")
    if args.ray_actors < 1:
        raise ConfigurationError("--ray-actors must be at least 1")
    MissingExtraError.check("aleph-embed ingest --engine ray", "ray", "ray")


def _count_unreadable(report: IngestReport, unreadable: list[ReadFailure]) -> None:
    """The files and lines Ray's workers could not read, counted in the report as failed documents."""
    from .ingest import FailedDocument

    report.documents += len(unreadable)
    report.failed.extend(FailedDocument(item.id, None, item.reason, item.source, path=item.path) for item in unreadable)


_LISTED_UNREADABLE = 20


def _list_unreadable(report: IngestReport) -> None:
    """Each file or line that could not be read and why (the first few; all are in the failures file)."""
    unreadable = [item for item in report.failed if item.document is None]
    for item in unreadable[:_LISTED_UNREADABLE]:
        print(printable(f"aleph-embed: cannot read {item.source}: {item.reason}"), file=sys.stderr)
    if len(unreadable) > _LISTED_UNREADABLE:
        print(f"aleph-embed: ... and {len(unreadable) - _LISTED_UNREADABLE} more unreadable", file=sys.stderr)


def _add_reading_arguments(files: argparse._ArgumentGroup) -> None:
    """The per-file limits of reading and its worker processes (see `aleph_embed.ingest.limits`)."""
    default = ReadLimits()
    files.add_argument("--max-file-mb", type=float, default=default.max_file_mb,
                       help="a larger file is reported, not read (default: %(default)g)")
    files.add_argument("--max-unpacked-mb", type=float, default=default.max_unpacked_mb,
                       help="an Office, OpenDocument or EPUB file unpacking to more is reported unopened (a zip bomb; "
                       "default: %(default)g)")
    files.add_argument("--read-timeout", type=float, default=default.timeout_s, metavar="SECONDS",
                       help="a file whose reading takes longer is reported, its worker replaced (default: %(default)g)")
    files.add_argument("--read-memory-mb", type=int, default=default.memory_mb,
                       help="memory of a worker process reading one file (default: %(default)d)")
    files.add_argument("--read-workers", type=int, default=None, metavar="N",
                       help="processes reading PDF, Office, OpenDocument, EPUB and HTML files (default: one per CPU "
                       "but one, 1 to 4; 0: read in this process, without the time and memory limits)")


def _reader(args: argparse.Namespace) -> FileReader:
    limits = ReadLimits(max_file_mb=args.max_file_mb, max_unpacked_mb=args.max_unpacked_mb, timeout_s=args.read_timeout,
                        memory_mb=args.read_memory_mb)
    return FileReader(Path.cwd(), args.include, args.exclude, args.id_field, args.text_field,
                      max_chars=args.max_document_chars, follow_symlinks=args.follow_symlinks, limits=limits,
                      workers=args.read_workers, skip_empty=args.empty_text is None,
                      on_skip=_print_skipped if args.verbose else None)


def _prune(qdrant: QdrantClient, args: argparse.Namespace, reader: FileReader) -> str:
    """Delete the file documents under the ingested paths whose files no longer exist; what was deleted."""
    from ._calls import qdrant_call
    from .maintenance import delete_documents, file_documents, under

    if not qdrant_call(lambda: qdrant.collection_exists(args.collection)):
        return "pruned 0 documents"
    selected = under(reader, _file_paths(args.paths))
    gone = file_documents(
        qdrant, args.collection, lambda document_id: selected(document_id) and not (reader.root / document_id).exists()
    )
    delete_documents(qdrant, args.collection, sorted(gone))
    return f"pruned {plural(len(gone), 'document')} ({plural(sum(gone.values()), 'point')}) whose files are gone"


def _print_skipped(path: Path, reason: str) -> None:
    print(printable(f"aleph-embed: skipped {path} ({reason})"), file=sys.stderr)


def _file_paths(paths: list[str]) -> list[str]:
    """The files and folders of `paths` (not JSONL files, not stdin)."""
    return [path for path in paths if path != "-" and Path(path).suffix.lower() != ".jsonl"]


@needs_extra("qdrant", "qdrant_client")
def _search_command(args: argparse.Namespace) -> int:
    from aleph_embed import EmbedClient

    from .collection import RecordedSettings
    from .retrieval import metadata_filter, search, searchable

    with _qdrant(args) as qdrant:
        recorded = RecordedSettings.of(searchable(qdrant, args.collection, args.using))
        mode = search_mode(args, recorded)
        options = {"using": args.using, "top_k": args.top_k, "query_filter": metadata_filter(args.filters),
                   "min_score": args.min_score, "mode": mode, "rerank": args.rerank,
                   "rerank_candidates": args.rerank_candidates}
        if mode.mode == "sparse" and not args.rerank:  # BM25 alone: no call to the host
            hits = search(qdrant, args.collection, args.query, **options)
        else:
            if recorded is not None and recorded.host_kind == "remote" and not resolve_host(args.host):
                raise ConfigurationError(f"collection {args.collection!r} was ingested through a remote /embed host "
                                         f"(model {recorded.model}): pass --host or set {ENV_HOST}")
            asked = resolve_model(args.model)  # --model, else AA_MODEL: either wins over the recorded one (a note says so)
            with embedding_endpoint(args, asked or (recorded.model if recorded else None)) as (host, token, model), \
                    EmbedClient(host, token) as embedder:
                hits = search(qdrant, args.collection, args.query, embedder=embedder,
                              settings=_query_settings(args, model, recorded), **options)
    if args.json:
        print(json.dumps([
            {"rank": rank, "score": hit.score, "id": hit.document_id, "point_id": hit.point_id, "text": hit.text,
             "metadata": hit.metadata, **({"first_stage_score": hit.first_stage_score} if args.rerank else {})}
            for rank, hit in enumerate(hits, start=1)
        ], ensure_ascii=False))
        return 0
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank}. {hit.score:.4f}  {printable(describe_point(hit.payload, hit.point_id))}")
    return 0


def _query_settings(args: argparse.Namespace, model: str, recorded: RecordedSettings | None) -> EmbeddingSettings:
    """The query's settings: those recorded for the searched vector, with the options given on the command line
    (a note on stderr for each one that differs from the record)."""
    if recorded is None:
        return settings_from_args(args, model)
    given = given_options(args)
    settings = recorded.embedding_settings(args.using, **given, model=model)
    default = recorded.embedding_settings(args.using)
    for name in ("model", *given):
        if getattr(settings, name) != getattr(default, name):
            flag = ENV_MODEL if name == "model" and not args.model else option_flag(name)
            print(printable(f"aleph-embed: note: {flag} {getattr(settings, name)} differs from the "
                            f"collection's {getattr(default, name)}: scores may mean little"), file=sys.stderr)
    return settings
