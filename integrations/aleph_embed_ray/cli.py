"""`aleph-embed ingest --engine ray`: the CLI's ingest on Ray Data (see `aleph_embed_qdrant.cli`)."""

from __future__ import annotations

import argparse
import functools
import os
from typing import TYPE_CHECKING

from aleph_embed import AlephEmbedError, ConfigurationError, EmbedClient
from aleph_embed.bridge import run_blocking
from aleph_embed.ingest.documents import FileReader, ReadFailure
from aleph_embed.ingest.failures import FailuresFile

from .pipeline import ingest, ray_instance
from .qdrant import QdrantTarget
from .stages import read_files

if TYPE_CHECKING:
    from aleph_embed.ingest import IngestProgressCallback, IngestReport
    from aleph_embed_qdrant import QdrantIngestor


def ray_ingest(args: argparse.Namespace, ingestor: QdrantIngestor, token: str | None, reader: FileReader,
               failures: FailuresFile, unreadable: list[ReadFailure], on_progress: IngestProgressCallback) -> IngestReport:
    """The run `ingestor` would make, on Ray (`--ray-address`, else a local instance for the run): read, embedded
    and written by Ray's workers, the store checked by `ingestor`'s sink first."""
    run_blocking(ingestor.resolve_endpoint(), name="resolve_endpoint")  # auto: the summary names the endpoint used
    sink = ingestor.sink
    target = QdrantTarget(args.qdrant_url, sink.collection, api_key=os.environ.get("QDRANT_API_KEY"),
                          prefer_grpc=args.prefer_grpc, grpc_port=args.grpc_port, layout=sink.layout,
                          options=sink.options)
    client = functools.partial(EmbedClient, ingestor.embedder.host, token, concurrency=ingestor.concurrency)
    with ray_instance(args.ray_address):
        try:
            documents = read_files(reader, args.paths)
        except ValueError as error:
            raise ConfigurationError(str(error)) from None
        try:
            outcome = ingest(
                documents, client=client, sink=target, check_sink=sink, settings=ingestor.settings,
                vectors=ingestor.plan.named, chunking=ingestor.chunking, chunk_tokens=ingestor.chunk_tokens,
                chunk_overlap=ingestor.chunk_overlap, batch_size=ingestor.batch_size, batch_bytes=ingestor.batch_bytes,
                max_document_chars=ingestor.max_document_chars, concurrency=ingestor.concurrency,
                sparse=None if ingestor.plan.bm25 is None else ingestor.plan.bm25.settings,
                actors=args.ray_actors, report_seen=bool(failures.earlier),
            )
        except Exception as error:  # Ray wraps what a worker raised: ours is told as ours
            raise _ours(error) or error from None
    unreadable.extend(outcome.unreadable)
    ingestor.embedder.usage.add(**outcome.usage)  # the workers' clients': progress and summary count them
    for document_id, point, source in outcome.seen:
        failures.note(document_id, point, source)
    on_progress(outcome.report)
    return outcome.report


def _ours(error: BaseException) -> AlephEmbedError | None:
    """The first `AlephEmbedError` in the causes of `error` (Ray's task errors carry the worker's as their cause)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        cause = getattr(current, "cause", None)  # RayTaskError: the worker's exception itself
        if isinstance(cause, AlephEmbedError):
            return cause
        if isinstance(current, AlephEmbedError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
