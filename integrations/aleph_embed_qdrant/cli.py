"""`aleph-embed ingest` and `aleph-embed search`: documents into Qdrant, questions against it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from aleph_embed import POOLINGS, ConfigurationError, EmbedClient, Usage
from aleph_embed._config import DEFAULT_CHUNK_TOKENS, DEFAULT_CLI_CONCURRENCY, DEFAULT_UPSERT_BATCH_BYTES
from aleph_embed.cli_support import add_embedding_arguments, embedding_endpoint, needs_extra, settings_from_args
from aleph_embed.models import Pooling

from .documents import FileReader, ReadFailure, SourceDocument
from .errors import IngestInterrupted, IngestStopped
from .layout import LAYOUTS, describe_point

if TYPE_CHECKING:  # qdrant-client loads when a command runs, not when the CLI starts
    from qdrant_client import QdrantClient

    from .collection import VectorSpec
    from .ingest import IngestReport

DEFAULT_STORE = Path(".aleph-embed") / "qdrant"


def add_qdrant_commands(subparsers: Any) -> None:
    """Add `ingest` and `search` to the `aleph-embed` command."""
    ingest = subparsers.add_parser(
        "ingest", help="embed documents and store them in Qdrant",
        description="Embed documents through /embed and upsert them into a Qdrant collection. Unchanged documents "
        "are skipped without calling /embed, so re-running (also after an interruption) never duplicates. "
        "Exit code 1 when any document failed (they are listed in the failures file).",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH",
                        help="a directory or file (.txt .md .markdown .rst .html .htm .pdf), a .jsonl file (id, text, "
                        "metadata), or - for JSONL on stdin")
    _add_qdrant_arguments(ingest)
    files = ingest.add_argument_group("files")
    files.add_argument("--root", type=Path, default=None,
                       help="file ids are paths relative to this directory (default: the current directory)")
    files.add_argument("--include", action="append", default=[], metavar="GLOB",
                       help="read only files matching GLOB (repeatable; matched against the path and the name)")
    files.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                       help="skip files and folders matching GLOB (repeatable)")
    add_embedding_arguments(ingest)
    group = ingest.add_argument_group("ingest")
    group.add_argument("--batch-size", type=int, default=64, help="points per upsert (default: 64)")
    group.add_argument("--batch-bytes", type=int, default=DEFAULT_UPSERT_BATCH_BYTES,
                       help=f"estimated bytes per upsert (default: {DEFAULT_UPSERT_BATCH_BYTES})")
    group.add_argument("--concurrency", type=int, default=DEFAULT_CLI_CONCURRENCY,
                       help=f"/embed calls in flight (default: {DEFAULT_CLI_CONCURRENCY})")
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
    group.add_argument("--shards", type=int, help="shard_number of a new collection")
    group.add_argument("--replicas", type=int, help="replication_factor of a new collection")
    group.add_argument("--failures", type=Path,
                       help="where to write failed documents as JSONL (default: .aleph-embed/failures/COLLECTION.jsonl)")
    ingest.set_defaults(run=_ingest_command)

    search = subparsers.add_parser(
        "search", help="print the chunks nearest to a query, with scores, their source and heading",
    )
    search.add_argument("query")
    _add_qdrant_arguments(search)
    add_embedding_arguments(search)
    search.add_argument("--top-k", type=int, default=5, help="hits to print (default: 5)")
    search.add_argument("--using", default=None, metavar="NAME", help="the named vector to search (default: unnamed)")
    search.set_defaults(run=_search_command)


def add_chunking_arguments(group: argparse._ArgumentGroup) -> None:
    """`--chunk-tokens`, `--chunk-overlap`, `--no-chunking` (the ingest's and the sweep's)."""
    group.add_argument("--chunk-tokens", type=int, default=DEFAULT_CHUNK_TOKENS,
                       help=f"chunk size in the model's tokens, capped at its context (default: {DEFAULT_CHUNK_TOKENS})")
    group.add_argument("--chunk-overlap", type=int, default=None,
                       help="tokens a chunk cut by size repeats of the previous one (default: an eighth of --chunk-tokens)")
    group.add_argument("--no-chunking", dest="chunking", action="store_false",
                       help="store each document whole (one too long for the model then fails)")


def chunking_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The `QdrantIngestor` keyword arguments of the chunking flags."""
    return {"chunking": args.chunking, "chunk_tokens": args.chunk_tokens, "chunk_overlap": args.chunk_overlap}


def _add_qdrant_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("qdrant")
    group.add_argument("--collection", required=True, help="Qdrant collection name")
    where = group.add_mutually_exclusive_group()
    where.add_argument("--qdrant-url", default=os.environ.get("QDRANT_URL"),
                       help="Qdrant server URL (default: QDRANT_URL; API key from QDRANT_API_KEY)")
    where.add_argument("--qdrant-path", type=Path, help=f"embedded local store directory (default: ./{DEFAULT_STORE})")
    group.add_argument("--prefer-grpc", action="store_true",
                       help="talk to the Qdrant server over gRPC (faster upserts; its port: --grpc-port)")
    group.add_argument("--grpc-port", type=int, default=6334, help="the Qdrant server's gRPC port (default: 6334)")


def _vector_spec(value: str) -> tuple[str, VectorSpec]:
    from .collection import VectorSpec

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


@contextmanager
def _qdrant(args: argparse.Namespace) -> Iterator[QdrantClient]:
    from qdrant_client import QdrantClient

    if args.qdrant_url:
        client = QdrantClient(
            url=args.qdrant_url, api_key=os.environ.get("QDRANT_API_KEY"), check_compatibility=False,
            prefer_grpc=args.prefer_grpc, grpc_port=args.grpc_port,
        )
        try:
            client.get_collections()
        except Exception as error:  # qdrant-client raises transport and HTTP errors of several kinds
            client.close()
            raise ConfigurationError(
                f"cannot use Qdrant at {args.qdrant_url} ({error}); start it, fix --qdrant-url / QDRANT_API_KEY, "
                "or use the embedded store with --qdrant-path DIR"
            ) from None
    else:
        path = args.qdrant_path or DEFAULT_STORE
        if args.qdrant_path is None:
            print(f"aleph-embed: no --qdrant-url or --qdrant-path; using the embedded store in ./{path}", file=sys.stderr)
        path.mkdir(parents=True, exist_ok=True)
        client = QdrantClient(path=str(path))
    try:
        yield client
    finally:
        client.close()


@needs_extra("qdrant", "qdrant_client")
def _ingest_command(args: argparse.Namespace) -> int:
    from .collection import CollectionOptions
    from .ingest import QdrantIngestor

    failures_path: Path = args.failures or Path(".aleph-embed") / "failures" / f"{args.collection}.jsonl"
    reader = FileReader(args.root or Path.cwd(), args.include, args.exclude, args.id_field, args.text_field)
    reader.check(args.paths)
    unreadable: list[ReadFailure] = []
    options = CollectionOptions(shard_number=args.shards, replication_factor=args.replicas)
    with embedding_endpoint(args) as (host, token, model), \
            EmbedClient(host, token, concurrency=args.concurrency) as embedder, _qdrant(args) as qdrant:
        ingestor = QdrantIngestor(
            embedder=embedder, settings=settings_from_args(args, model), qdrant=qdrant, collection=args.collection,
            vectors=dict(args.vector) or None, layout=args.layout, options=options, batch_size=args.batch_size,
            batch_bytes=args.batch_bytes,
            concurrency=args.concurrency, upsert_parallelism=args.upsert_parallelism, recreate=args.recreate,
            **chunking_arguments(args),
            id_field=args.id_field, text_field=args.text_field,
        )
        progress = Progress(sys.stderr, embedder.usage, reader.count(args.paths))
        stopped: IngestStopped | None = None
        try:
            report = ingestor.ingest(_readable(reader.read(args.paths), unreadable), on_progress=progress.update)
        except IngestStopped as error:
            stopped, report = error, error.report
        finally:
            progress.close()
    _write_failures(report, unreadable, failures_path)
    failed = len(report.failed) + len(unreadable)
    if stopped is not None:
        print(f"aleph-embed: {stopped}", file=sys.stderr)
        if failed:
            print(f"aleph-embed: {failed} documents failed; see {failures_path}", file=sys.stderr)
        return 130 if isinstance(stopped, IngestInterrupted) else 2 if isinstance(stopped, ConfigurationError) else 1
    skipped = reader.skipped.summary()
    print(f"aleph-embed: {report.summary()} ({report.embed_calls} {ingestor.settings.endpoint} calls, "
          f"{embedder.usage.retries} retries){'; ' + skipped if skipped else ''}")
    if failed:
        print(f"aleph-embed: {failed} documents failed; see {failures_path}", file=sys.stderr)
        return 1
    return 0


def _readable(items: Iterator[SourceDocument | ReadFailure], unreadable: list[ReadFailure]) -> Iterator[SourceDocument]:
    for item in items:
        if isinstance(item, ReadFailure):
            unreadable.append(item)
        else:
            yield item


@needs_extra("qdrant", "qdrant_client")
def _search_command(args: argparse.Namespace) -> int:
    with embedding_endpoint(args) as (host, token, model), \
            EmbedClient(host, token) as embedder, _qdrant(args) as qdrant:
        if not qdrant.collection_exists(args.collection):
            raise ConfigurationError(f"no collection {args.collection!r} here; run `aleph-embed ingest` first")
        vectors = qdrant.get_collection(args.collection).config.params.vectors
        if isinstance(vectors, dict) and args.using not in vectors:
            raise ConfigurationError(
                f"collection {args.collection!r} has named vectors {sorted(vectors)}: pass --using NAME"
            )
        (vector,) = embedder.embed_texts([args.query], settings_from_args(args, model), side="query")
        hits = qdrant.query_points(args.collection, query=vector, using=args.using, limit=args.top_k, with_payload=True)
    for rank, hit in enumerate(hits.points, start=1):
        print(f"{rank}. {hit.score:.4f}  {describe_point(hit.payload or {}, hit.id)}")
    return 0


class Progress:
    """A one-line progress bar on a terminal (documents, /embed calls, retries, rate); silent otherwise."""

    def __init__(self, stream: TextIO, usage: Usage, total: int | None, interval: float = 0.2) -> None:
        self.stream = stream
        self.usage = usage
        self.total = total
        self.enabled = stream.isatty()
        self.interval = interval
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._report: IngestReport | None = None

    def update(self, report: IngestReport) -> None:
        self._report = report
        now = time.monotonic()
        if self.enabled and now - self._last_draw >= self.interval:
            self._last_draw = now
            self.stream.write("\r" + self.line(report, now - self.started) + "\033[K")
            self.stream.flush()

    def line(self, report: IngestReport, elapsed: float) -> str:
        done = report.ingested + report.skipped + len(report.failed)
        rate = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            filled = int(30 * min(done, self.total) / self.total)
            head = f"[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} docs"
        else:
            head = f"{done} docs"
        return (f"{head} | {report.skipped} unchanged, {len(report.failed)} failed | "
                f"{self.usage.requests} /embed calls, {self.usage.retries} retries | {rate:.1f} docs/s")

    def close(self) -> None:
        """Draw the last state and end the line."""
        if self.enabled and self._report is not None:
            self.stream.write("\r" + self.line(self._report, time.monotonic() - self.started) + "\033[K\n")
            self.stream.flush()


def _write_failures(report: IngestReport, unreadable: list[ReadFailure], path: Path) -> None:
    """The failed documents as JSONL; a stale file from an earlier run goes away when nothing failed."""
    if not report.failed and not unreadable:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as stream:
        for failed in report.failed:
            record = {"id": failed.id, "point_id": failed.point_id, "reason": failed.reason, "source": failed.source}
            stream.write(json.dumps(record) + "\n")
        for item in unreadable:
            stream.write(json.dumps({"id": item.id, "path": item.path, "source": item.source, "reason": item.reason}) + "\n")
