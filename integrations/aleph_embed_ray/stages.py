"""The ingest's Ray Data stages, each built from the store-agnostic engine (`aleph_embed.ingest`):

- `read_files(reader, paths)`: a dataset of documents (`columns.DOCUMENT_SCHEMA`) read by our readers in tasks,
  one file (or `.jsonl` file) per row of paths;
- `EmbedDocuments`: the callable class for `map_batches`: per block, the engine (`Ingestor`) reads the rows, looks up
  the stored content hashes (an unchanged document costs no call), chunks with the model's tokenizer, embeds through
  one client per actor (calls in flight, every endpoint, a budget shared by all actors) and gives the points as rows
  instead of writing them;
- writing: `datasink.VectorDatasink`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray.data

from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.ingest import Ingestor, Point, ReadFailure, SourceDocument, StoredPoint, VectorSink, point_id
from aleph_embed.ingest.documents import FileReader

from .budget import BudgetedClient, SharedWindow
from .columns import document_rows, point_rows, read_documents

SinkFactory = Callable[[], VectorSink]
"""Makes a worker's sink (picklable: it is sent to each actor and write task)."""
ClientFactory = Callable[[], EmbedClient]
"""Makes an actor's client (picklable)."""


def input_paths(reader: FileReader, paths: Iterable[str | Path]) -> list[str]:
    """The files `reader.read(paths)` would read, in its order (directories walked on the driver, counted in
    `reader.skipped`); `.jsonl` files are one row each. Stdin (`-`) is refused: read it into a dataset yourself."""
    found: list[str] = []
    for path in map(Path, paths):
        if str(path) == "-":
            raise ValueError("the Ray engine reads files, not stdin: write the JSONL to a file and ingest that")
        if path.is_dir():
            found.extend(str(file) for file in reader.files(path))
        elif path.exists() or path.suffix.lower() == ".jsonl":
            found.append(str(path))
    return found


def read_files(reader: FileReader, paths: Iterable[str | Path], *, files_per_task: int = 16) -> ray.data.Dataset:
    """The documents of `paths` as a dataset (`columns.DOCUMENT_SCHEMA`), read in Ray tasks by `reader`; unreadable
    files and lines are rows with `reason` set."""
    files = input_paths(reader, paths)
    dataset = ray.data.from_items([{"path": file} for file in files],
                                  override_num_blocks=max(1, -(-len(files) // files_per_task)))

    def read(batch: pa.Table) -> pa.Table:
        return document_rows(reader.read(batch.column("path").to_pylist()))  # the reader's workers: per batch

    return dataset.map_batches(read, batch_format="pyarrow", batch_size=files_per_task)


class BlockSink:
    """The engine's sink for one block: looks up and deletes through the worker's sink, keeps the points written
    (they leave the actor as rows, for the datasink)."""

    def __init__(self, target: StoreState) -> None:
        self.target = target
        self.sink = target.sink
        self.points: list[Point] = []
        self.owners: dict[str, str] = {}  # point id -> its document's point id

    def describe(self) -> Any:
        return self.sink.describe()

    def payload(self, point: str, document: SourceDocument, *args: Any) -> dict[str, Any]:
        self.owners[point] = point_id(document)
        return self.sink.payload(point, document, *args)

    async def prepare(self, plan: Any, chunker: Any, host: str) -> bool:
        if not self.target.ready:
            self.target.exists = await self.sink.prepare(plan, chunker, host)
        return self.target.exists

    async def ensure(self, size: int) -> None:
        if not self.target.ready:
            try:
                await self.sink.ensure(size)
            except Exception:  # another actor created the collection meanwhile: now it exists, check it
                await self.sink.ensure(size)
            self.target.ready = self.target.exists = True

    async def stored(self, ids: Sequence[str]) -> dict[str, StoredPoint]:
        return await self.sink.stored(ids)

    async def delete(self, ids: Sequence[str]) -> None:
        await self.sink.delete(ids)

    async def write(self, points: Sequence[Point], *, last: bool) -> None:
        self.points.extend(points)

    def close(self) -> None:
        pass  # the worker's sink outlives the block


class StoreState:
    """An actor's sink and what it knows of the store: whether it exists, whether it is ready (set up once)."""

    def __init__(self, sink: VectorSink) -> None:
        self.sink = sink
        self.exists = False
        self.ready = False


class EmbedDocuments:
    """`ds.map_batches(EmbedDocuments, fn_constructor_kwargs={...}, batch_format="pyarrow", concurrency=N)`: documents
    (`columns.DOCUMENT_SCHEMA`, or any table with `text` and optionally `id`, `metadata`) in, points out
    (`columns.POINT_SCHEMA`).

    - `client`: makes the actor's `EmbedClient` (one per actor, its calls in flight); `sink`: makes the actor's
      `VectorSink`, used for look-ups (unchanged documents are skipped) and deletes (surplus chunks), never writes;
    - `budget`: a `SharedBudget` actor (the calls in flight of all actors), None for `concurrency` per actor alone;
    - `report_seen`: each block's report lists its documents' identities (for `FailuresFile.note`);
    - `settings`, `vectors`, `chunking`, `chunk_tokens`, `chunk_overlap`, `batch_size`, `batch_bytes`,
      `concurrency`: as for `Ingestor`.
    """

    def __init__(self, *, client: ClientFactory, sink: SinkFactory, settings: EmbeddingSettings,
                 budget: Any = None, concurrency: int = 16, report_seen: bool = False, **options: Any) -> None:
        self.client = client()
        self.embedder: Any = self.client if budget is None else BudgetedClient(
            self.client, SharedWindow(budget, f"{os.getpid()}-{uuid.uuid4().hex[:8]}", concurrency))
        self.store = StoreState(sink())
        self.settings = settings
        self.concurrency = concurrency
        self.report_seen = report_seen
        self.options = options

    def __call__(self, batch: pa.Table) -> pa.Table:
        items = read_documents(batch)
        unreadable = [item for item in items if isinstance(item, ReadFailure)]
        documents = [item for item in items if isinstance(item, SourceDocument)]
        sink = BlockSink(self.store)
        ingestor = Ingestor(embedder=self.embedder, settings=self.settings, sink=sink, concurrency=self.concurrency,
                            **self.options)
        usage = self.client.usage
        before = usage.requests, usage.retries
        report = ingestor.ingest(documents)
        spent = {"requests": usage.requests - before[0], "retries": usage.retries - before[1]}  # one block at a time
        return point_rows(((point, sink.owners[point.id]) for point in sink.points), report, unreadable, spent,
                          documents if self.report_seen else None)
