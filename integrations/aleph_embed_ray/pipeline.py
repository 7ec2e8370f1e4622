"""The whole ingest on Ray Data from the driver: the store checked (and recreated) once, the stages chained, the
report of the run; and a Ray instance for the run when none is given."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any, NamedTuple

import ray
import ray.data

from aleph_embed import EmbeddingSettings
from aleph_embed.config import DEFAULT_UPSERT_BATCH_BYTES
from aleph_embed.ingest import Ingestor, IngestReport, VectorSink
from aleph_embed.ingest.documents import ReadFailure

from .budget import SharedBudget
from .datasink import VectorDatasink
from .stages import ClientFactory, EmbedDocuments, SinkFactory

DEFAULT_BATCH_SIZE = 64
"""Points per write, as `Ingestor`'s `batch_size`."""
WRITE_CPUS = 0.25
"""The CPUs Ray reserves per write task (it waits on the store)."""
LOCAL_CPUS = 4
"""The CPUs of a local Ray instance started for a run (at most the machine's)."""


def ingest(
    documents: ray.data.Dataset,
    *,
    client: ClientFactory,
    sink: SinkFactory,
    settings: EmbeddingSettings,
    check_sink: VectorSink | None = None,
    concurrency: int = 16,
    adapt_concurrency: bool = True,
    actors: int = 2,
    actor_cpus: float = 0.5,
    documents_per_block: int = 256,
    report_seen: bool = False,
    **options: Any,
) -> Outcome:
    """Ingest `documents` (a dataset of `columns.DOCUMENT_SCHEMA`, e.g. `read_files`) with `actors` embedding actors
    sharing `concurrency` calls in flight (a `SharedBudget`), writing from Ray's write tasks; the points are those of
    `Ingestor` with the same `options` (`vectors`, `chunking`, `chunk_tokens`, `chunk_overlap`, `batch_size`,
    `batch_bytes`, `max_document_chars`, `sparse`). `check_sink` (default `sink()`) checks the store on the driver first (and
    drops it, for a `QdrantSink(recreate=True)`): a store recorded with other settings raises
    `CollectionMismatchError` before anything is read. `documents_per_block`: documents per `map_batches` call (each a
    run of the engine); `actor_cpus`: the CPUs Ray reserves per actor (default half of one: chunking is its CPU work,
    the calls wait on the API)."""
    started = time.monotonic()
    settings = asyncio.run(_check(client, check_sink or sink(), settings, options))
    budget = SharedBudget.remote(concurrency, adapt_concurrency)  # type: ignore[attr-defined]
    try:
        points = documents.map_batches(
            EmbedDocuments, batch_format="pyarrow", batch_size=documents_per_block, concurrency=actors,
            num_cpus=actor_cpus,
            fn_constructor_kwargs=dict(client=client, sink=sink, settings=settings, budget=budget,
                                       concurrency=concurrency, report_seen=report_seen, **options),
        )
        datasink = VectorDatasink(sink, batch_size=options.get("batch_size", DEFAULT_BATCH_SIZE),
                                  batch_bytes=options.get("batch_bytes", DEFAULT_UPSERT_BATCH_BYTES))
        points.write_datasink(datasink, ray_remote_args={"num_cpus": WRITE_CPUS})
        state = ray.get(budget.state.remote())
    finally:
        ray.kill(budget)
    assert datasink.report is not None  # set by on_write_complete
    datasink.report.lowest_concurrency = state["lowest"] if state["lowest"] < state["limit"] else None
    datasink.report.elapsed = time.monotonic() - started
    return Outcome(datasink.report, datasink.unreadable, datasink.seen, datasink.usage)


class Outcome(NamedTuple):
    """What a Ray ingest did: its `report`, the inputs that could not be read (`unreadable`), and with
    `report_seen` the identities of the documents read (`seen`: [id, point id, source] each); the embedding
    clients' `usage` ({"requests": n, "retries": n})."""

    report: IngestReport
    unreadable: list[ReadFailure]
    seen: list[list[Any]]
    usage: dict[str, int]


async def _check(
    client: ClientFactory, sink: VectorSink, settings: EmbeddingSettings, options: dict[str, Any]
) -> EmbeddingSettings:
    """The driver's check of the store with the run's plan and chunker (as a run's `prepare`); the run's settings,
    endpoint `auto` resolved once here (the host says which the model is meant for) for every actor."""
    with client() as embedder:
        ingestor = Ingestor(embedder=embedder, settings=settings, sink=sink, **options)
        try:
            await ingestor.resolve_endpoint()  # the CLI's default endpoint auto: the sink records the chosen one
            await sink.prepare(ingestor.plan, await ingestor.resolve_chunker(), embedder.host)
        finally:
            sink.close()
    return ingestor.settings


@contextlib.contextmanager
def ray_instance(address: str | None = None, *, cpus: int | None = None) -> Iterator[None]:
    """Ray for a run: the one this process already joined, the cluster at `address`, or a local instance started for
    the run (at most `cpus` CPUs, default `LOCAL_CPUS` or the machine's; no dashboard) and stopped after."""
    if ray.is_initialized():
        yield
        return
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=cpus or min(LOCAL_CPUS, os.cpu_count() or 1), include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
