"""One pass of an `Ingestor` over its input: spool, skip the unchanged, embed, write through the sink."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from aleph_embed import AlephEmbedError, ConfigurationError
from aleph_embed.chunking import Chunker

from .documents import SourceDocument
from .embedding import DocumentEmbedding, Stop, stops_the_run
from .errors import CollectionMismatchError, IngestConfigurationError, IngestInterrupted, IngestStopped, StoreRejectedError
from .identity import chunk_point_id
from .report import FailedDocument, IngestProgressCallback, IngestReport
from .sink import Point, VectorSink
from .spool import Pending, Spool
from .tasks import TaskGroup
from .upserts import UpsertBuffer, write_points
from .vectors import VectorPlan, unpack

if TYPE_CHECKING:
    from aleph_embed import AsyncEmbedClient, EmbedClient


class RunOptions(Protocol):
    """What a run reads of its `Ingestor` (see there)."""

    embedder: EmbedClient | AsyncEmbedClient
    sink: VectorSink
    plan: VectorPlan
    batch_size: int
    batch_bytes: int
    concurrency: int
    upsert_parallelism: int
    id_field: str
    text_field: str
    max_document_chars: int

    async def resolve_chunker(self) -> Chunker | None: ...


class Run:
    """One pass over the input. Memory stays bounded: a document is taken from the spool only when a slot of the
    window is free, and the slot is freed once all its points are written (or it failed)."""

    def __init__(self, ingestor: RunOptions, on_progress: IngestProgressCallback | None) -> None:
        self.ingestor = ingestor
        self.sink = ingestor.sink
        self.on_progress = on_progress
        self.report = IngestReport()
        self.write_slots = asyncio.Semaphore(ingestor.upsert_parallelism)
        self.busy = 0  # work documents wait on (chunking, store setup, deletes, writes spawned)
        self.window_size = ingestor.concurrency + ingestor.batch_size * (ingestor.upsert_parallelism + 1)
        self.window = asyncio.Semaphore(self.window_size)
        self.holding: dict[int, Pending] = {}  # the documents holding a slot of the window, by position
        self.read_all = False  # every document of the input has had its slot
        self.buffer: UpsertBuffer[Pending] = UpsertBuffer(ingestor.batch_size, ingestor.batch_bytes)
        self.tasks = TaskGroup()
        self.embedding = DocumentEmbedding(ingestor.embedder, ingestor.plan, ingestor.concurrency, self.report,
                                           self.tasks, self._busy, self._stalled)
        self.exists = False
        self.vector_size: int | None = None  # set once the store is ready
        self.hash_prefix = ""
        self.ready_lock = asyncio.Lock()

    async def execute(self, documents: Iterable[object]) -> IngestReport:
        started = time.monotonic()
        ingestor = self.ingestor
        spool = Spool(self.report, self.content_hash, id_field=ingestor.id_field, text_field=ingestor.text_field,
                      max_chars=ingestor.max_document_chars)
        try:
            await self._prepare()
            await spool.fill(documents)
            self._progress()
            await self._store(spool.entries())
        except asyncio.CancelledError:
            raise IngestInterrupted("interrupted", self._final(started)) from None
        except (Stop, AlephEmbedError) as error:
            cause = await self.embedding.explain(error.error) if isinstance(error, Stop) else error
            if isinstance(cause, IngestStopped) or (isinstance(cause, CollectionMismatchError) and not self.report.documents):
                raise cause from None  # refused before anything was read: nothing to report
            stopped = IngestConfigurationError if isinstance(cause, ConfigurationError) else IngestStopped
            raise stopped(str(cause), self._final(started)) from cause
        finally:
            self.tasks.cancel()
            self.embedding.close()
            self.sink.close()
            spool.close()
            self._final(started)
        return self.report

    def _final(self, started: float) -> IngestReport:
        load = self.embedding.load
        self.report.elapsed = time.monotonic() - started
        self.report.overloads = load.overloads
        self.report.lowest_concurrency = load.lowest if load.lowest < load.limit else None
        return self.report

    async def _prepare(self) -> None:
        """The chunker and the content hashes' prefix; the sink refuses a store of other settings before anything
        is read."""
        ingestor = self.ingestor
        try:
            self.embedding.chunker = chunker = await ingestor.resolve_chunker()
        except AlephEmbedError as error:
            if stops_the_run(error):
                raise Stop(error) from error
            raise
        signature = None if chunker is None else chunker.signature
        self.hash_prefix = json.dumps({**self.sink.describe(), "chunking": signature, **ingestor.plan.describe()},
                                      sort_keys=True)
        self.exists = await self.sink.prepare(ingestor.plan, chunker, ingestor.embedder.host)

    def content_hash(self, document: SourceDocument) -> str:
        """What the document's points are made from: text, metadata, embedding and chunking settings, the sink's."""
        content = json.dumps([document.text, document.metadata], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(f"{self.hash_prefix}\n{content}".encode()).hexdigest()

    async def _store(self, entries: Iterator[Pending]) -> None:
        ingestor = self.ingestor
        for batch in _batches(entries, ingestor.batch_size):
            self.tasks.raise_error()
            stored = await self._stored(batch)
            changed = [entry for entry in batch if not stored.get(entry.point_id, False)]
            self.report.skipped += len(batch) - len(changed)
            # Similar lengths in flight together: servers that batch padded sequences waste less on padding.
            for entry in sorted(changed, key=lambda entry: len(entry.document.text)):
                await self.window.acquire()
                self.tasks.raise_error()
                self.holding[entry.position] = entry
                self.tasks.spawn(self._process(entry))
            self._progress()
        self.read_all = True
        self._poke()
        await self.tasks.join()
        self._flush(everything=True)
        await self.tasks.join()

    def _stalled(self) -> bool:
        """Whether only a partial call of the batcher can move the run on: no work documents wait on is under way, no
        document can enter the window (it is full, or the input is read), and each document in it waits for its
        texts' turn in the batcher or for its points' write."""
        batcher = self.embedding.batcher
        assert batcher is not None
        if self.busy or not (self.read_all or len(self.holding) == self.window_size):
            return False
        waiting = batcher.waiting()
        return all(entry.remaining or position in waiting for position, entry in self.holding.items())

    def _poke(self) -> None:
        """The run may have stalled: the batcher checks."""
        if self.embedding.batcher is not None:
            self.embedding.batcher.poke()

    @contextlib.contextmanager
    def _busy(self) -> Iterator[None]:
        """Work documents wait on (store calls, cutting a document into chunks): the batcher sends no partial call
        meanwhile (more texts will come)."""
        self.busy += 1
        try:
            yield
        finally:
            self._done_waiting()

    def _done_waiting(self) -> None:
        self.busy -= 1
        self._poke()

    async def _stored(self, batch: list[Pending]) -> dict[str, bool]:
        """Whether each document's stored points are complete and of this content (then it is skipped); notes how
        many points its stored version has."""
        if not self.exists:
            return {}
        first = await self.sink.stored([entry.point_id for entry in batch])
        complete: dict[str, bool] = {}
        rest: dict[str, list[str]] = {}
        for entry in batch:
            point = first.get(entry.point_id)
            if point is None:
                continue
            entry.stored_chunks = point.chunks
            complete[entry.point_id] = point.content_hash == entry.content_hash
            if complete[entry.point_id] and entry.stored_chunks > 1:
                rest[entry.point_id] = [chunk_point_id(entry.point_id, i) for i in range(1, entry.stored_chunks)]
        if rest:
            found = await self.sink.stored([point for points in rest.values() for point in points])
            wanted = {entry.point_id: entry.content_hash for entry in batch}
            for document, points in rest.items():
                complete[document] = all(
                    (stored := found.get(point)) is not None and stored.content_hash == wanted[document]
                    for point in points
                )
        return complete

    async def _process(self, entry: Pending) -> None:
        try:
            points = await self._points(entry)
            if points is None:
                self._settle(entry)
                self._progress()
                return
            if entry.stored_chunks > len(points):  # a shorter version: its surplus chunks go
                with self._busy():
                    await self.sink.delete([chunk_point_id(entry.point_id, i)
                                            for i in range(len(points), entry.stored_chunks)])
        except BaseException:
            self._settle(entry)
            raise
        entry.remaining = len(points)
        self.buffer.add(points, entry, self.vector_size or 0)
        self._flush()
        self._poke()

    async def _points(self, entry: Pending) -> list[Point] | None:
        """The document's points (one per chunk; their vectors packed until written); None when it failed."""
        answers = await self.embedding.answers(entry)
        if isinstance(answers, str):
            self._fail(entry, answers)
            return None
        if not answers:  # empty, and empty texts are skipped
            self.report.empty += 1
            return None
        await self._ensure(answers[0][1][1])
        if any(size != self.vector_size for _, (_, size) in answers):
            sizes = sorted({size for _, (_, size) in answers})
            self._fail(entry, f"malformed /embed answer: vectors of {sizes} dimensions, the collection's have "
                       f"{self.vector_size}")
            return None
        points = []
        for chunk, (vector, _) in answers:
            point = chunk_point_id(entry.point_id, 0 if chunk is None else chunk.index)
            payload = self.sink.payload(point, entry.document, entry.content_hash, chunk, len(answers))
            text = entry.document.text if chunk is None else chunk.text
            points.append(Point(id=point, vector=vector, payload=payload,  # type: ignore[arg-type]  # packed
                                sparse=self.ingestor.plan.sparse_vectors(text), text=text))
        return points

    def _fail(self, entry: Pending, reason: str) -> None:
        if not entry.failed:
            entry.failed = True
            document = entry.document
            self.report.failed.append(FailedDocument(document.id, entry.point_id, reason, entry.source, document,
                                                     document.path))

    def _flush(self, *, everything: bool = False) -> None:
        """Write batches while more than one batch is buffered. `everything` (once every other write has returned)
        writes the rest as the run's last: then every point of the run is searchable."""
        for batch in self.buffer.batches(everything=everything):
            self.busy += 1  # until the write is done (see _write)
            self.tasks.spawn(self._write(batch, last=everything))

    async def _write(self, batch: list[tuple[Point, Pending]], *, last: bool) -> None:
        """Write a batch (deterministic ids: retries and re-runs never double); a batch the store refuses is sent
        again point by point, so that only the refused points' documents fail."""
        try:
            refused = await self._write_points([point for point, _ in batch], last)
        except BaseException:
            for _, entry in batch:  # the run stops: free the window so that the reading loop sees it
                self._settle(entry)
            raise
        finally:
            self._done_waiting()
        for index, (_, entry) in enumerate(batch):
            if index in refused:
                self._fail(entry, str(refused[index]))
            else:
                self.report.points += 1
            entry.remaining -= 1
            if entry.remaining == 0:
                if not entry.failed:
                    self.report.ingested += 1
                self._settle(entry)
        self._progress()

    async def _write_points(self, points: list[Point], last: bool) -> dict[int, StoreRejectedError]:
        """The refused points by index in `points` (their vectors packed: lists again only while being written)."""
        async with self.write_slots:
            points = [replace(point, vector=unpack(point.vector)) for point in points]  # type: ignore[arg-type]
            return await write_points(self.sink, points, last=last)

    def _settle(self, entry: Pending) -> None:
        """The document is done with (stored, failed, or the run stops): its window slot is free again."""
        if not entry.settled:
            entry.settled = True
            self.holding.pop(entry.position, None)
            self.window.release()
            self._poke()

    async def _ensure(self, size: int) -> None:
        """The store ready for vectors of `size` (the first vector's), once; `vector_size` is set once it is."""
        if self.vector_size is not None:
            return
        with self._busy():
            async with self.ready_lock:
                if self.vector_size is None:
                    await self.sink.ensure(size)
                    self.vector_size = size

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.report)


def _batches(items: Iterable[Pending], size: int) -> Iterator[list[Pending]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
