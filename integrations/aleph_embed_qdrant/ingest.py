"""Documents -> /embed -> Qdrant, streamed, concurrent, idempotent and resumable."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from aleph_embed import AlephEmbedError, AsyncEmbedClient, ConfigurationError, EmbedClient, EmbeddingSettings, EmbedRequest
from aleph_embed.errors import RETRYABLE_STATUS_CODES, parse_retry_after
from aleph_embed.retry import Retry, RetryPolicy

from ._calls import Calls
from .collection import CollectionOptions, VectorPlan, VectorSpec
from .documents import DocumentId, SourceDocument, to_source_document
from .layout import HASH_KEY, LAYOUTS, Layout, build_payload

UPSERT_RETRIES = RetryPolicy(max_retries=5, deadline=120.0)
POINT_ID_NAMESPACE = uuid.UUID("5d8f3c1e-6a2b-5e4f-9c3d-2a1b0e9f8d7c")


def classify_qdrant(outcome: object) -> Retry | None:
    """Qdrant did not answer, or answered with a status worth another try (with the wait it asked for)."""
    if isinstance(outcome, ResourceExhaustedResponse):
        return Retry(float(outcome.retry_after_s))
    if isinstance(outcome, UnexpectedResponse):
        if outcome.status_code in RETRYABLE_STATUS_CODES:
            return Retry(parse_retry_after(outcome.headers.get("retry-after")))
        return None
    return Retry() if isinstance(outcome, ResponseHandlingException) else None


def point_id(document: SourceDocument) -> str:
    """The deterministic point id: UUIDv5 of the document id, or of the text when there is no id."""
    key = f"id:{document.id}" if document.id is not None else f"text:{document.text}"
    return str(uuid.uuid5(POINT_ID_NAMESPACE, key))


@dataclass(frozen=True)
class FailedDocument:
    """A document that is not in Qdrant after this run, and why."""

    id: DocumentId | None
    point_id: str
    reason: str


@dataclass
class IngestReport:
    """What a run did. `documents` = `ingested` + `skipped` + len(`failed`) once it has finished."""

    documents: int = 0
    ingested: int = 0
    skipped: int = 0
    failed: list[FailedDocument] = field(default_factory=list)
    elapsed: float = 0.0

    def summary(self) -> str:
        return (
            f"{self.ingested} ingested, {self.skipped} skipped unchanged, {len(self.failed)} failed "
            f"of {self.documents} documents in {self.elapsed:.1f}s"
        )


IngestProgressCallback = Callable[[IngestReport], None]
"""`on_progress(report)` of an ingest, called as documents are stored, skipped or failed."""


class QdrantIngestor:
    """Embeds documents through `/embed` and upserts them into a Qdrant collection.

    Works with `EmbedClient` or `AsyncEmbedClient` and `QdrantClient` or `AsyncQdrantClient` in any mix;
    `ingest` runs the pipeline to completion, `aingest` awaits it inside a running event loop.

    - `vectors`: None stores one unnamed vector from `settings`; a mapping {name: VectorSpec} stores named
      vectors, all from ONE `/embed` call per document.
    - `layout`: the payload shape, `langchain` (default) or `llamaindex`.
    - `batch_size`: points per upsert and ids per hash look-up; `concurrency`: `/embed` calls in flight
      (default: the client's); `upsert_parallelism`: upserts in flight while the next documents embed.
    """

    def __init__(
        self,
        *,
        embedder: EmbedClient | AsyncEmbedClient,
        settings: EmbeddingSettings,
        qdrant: QdrantClient | AsyncQdrantClient,
        collection: str,
        vectors: Mapping[str, VectorSpec] | None = None,
        layout: Layout = "langchain",
        options: CollectionOptions | None = None,
        batch_size: int = 64,
        concurrency: int | None = None,
        upsert_parallelism: int = 2,
        id_field: str = "id",
        text_field: str = "text",
    ) -> None:
        if batch_size < 1 or upsert_parallelism < 1 or (concurrency is not None and concurrency < 1):
            raise ConfigurationError("batch_size, concurrency and upsert_parallelism must be at least 1")
        if layout not in LAYOUTS:
            raise ConfigurationError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        if not collection:
            raise ConfigurationError("collection: give the name of a Qdrant collection")
        self.embedder = embedder
        self.settings = settings
        self.qdrant = qdrant
        self.collection = collection
        self.layout: Layout = layout
        self.plan = VectorPlan(settings, vectors, options or CollectionOptions())
        self.batch_size = batch_size
        self.concurrency = concurrency or embedder.concurrency
        self.upsert_parallelism = upsert_parallelism
        self.id_field = id_field
        self.text_field = text_field
        self._hash_prefix = json.dumps({"layout": layout, **self.plan.describe()}, sort_keys=True)

    def ingest(self, documents: Iterable[object], *, on_progress: IngestProgressCallback | None = None) -> IngestReport:
        """Ingest every document (str, dict, LangChain Document, LlamaIndex node); see `IngestReport`."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop running: the usual case (tracebacks of the run must not carry this lookup)
        else:
            raise ConfigurationError("ingest() was called inside a running event loop: use `await ingestor.aingest(...)`")
        return asyncio.run(self.aingest(documents, on_progress=on_progress))

    async def aingest(self, documents: Iterable[object], *, on_progress: IngestProgressCallback | None = None) -> IngestReport:
        """`ingest` for a running event loop."""
        return await _Run(self, on_progress).execute(documents)

    def content_hash(self, document: SourceDocument) -> str:
        """What the point's vectors and payload are made from: text, metadata, embedding settings, layout."""
        content = json.dumps([document.text, document.metadata], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(f"{self._hash_prefix}\n{content}".encode()).hexdigest()

    def request(self, document: SourceDocument) -> EmbedRequest | None:
        """The `/embed` request of a document; None when its text is empty and empty texts are not embedded."""
        text = self.settings.prompt_text(document.text)
        return None if text is None else self.settings.request(text, **self.plan.request_extras())


@dataclass
class _Pending:
    """A document read from the input: its point id and content hash, before it is embedded or skipped."""

    document: SourceDocument
    point_id: str
    content_hash: str


class _Run:
    """One pass over the input. Memory stays bounded: a document is read only when a slot of the window is free,
    and the slot is freed once its point is upserted (or it failed)."""

    def __init__(self, ingestor: QdrantIngestor, on_progress: IngestProgressCallback | None) -> None:
        self.ingestor = ingestor
        self.on_progress = on_progress
        self.report = IngestReport()
        self.calls = Calls(ingestor.embedder, ingestor.qdrant, ingestor.concurrency + ingestor.upsert_parallelism + 1)
        self.embed_slots = asyncio.Semaphore(ingestor.concurrency)
        self.upsert_slots = asyncio.Semaphore(ingestor.upsert_parallelism)
        self.window = asyncio.Semaphore(ingestor.concurrency + ingestor.batch_size * (ingestor.upsert_parallelism + 1))
        self.buffer: list[models.PointStruct] = []
        self.tasks = _Tasks()
        self.collection_exists = False
        self.collection_ready = False
        self.collection_lock = asyncio.Lock()

    async def execute(self, documents: Iterable[object]) -> IngestReport:
        started = time.monotonic()
        ingestor = self.ingestor
        try:
            self.collection_exists = await self.calls.collection_exists(ingestor.collection)
            for chunk in _chunks(self._entries(documents), ingestor.batch_size):
                self.tasks.raise_error()
                stored = await self._stored_hashes([entry.point_id for entry in chunk])
                changed = [entry for entry in chunk if stored.get(entry.point_id) != entry.content_hash]
                self.report.documents += len(chunk)
                self.report.skipped += len(chunk) - len(changed)
                # Similar lengths in flight together: servers that batch padded sequences waste less on padding.
                for entry in sorted(changed, key=lambda entry: len(entry.document.text)):
                    await self.window.acquire()
                    self.tasks.spawn(self._embed(entry))
                self._progress()
            await self.tasks.join()
            self._flush()
            await self.tasks.join()
        finally:
            self.tasks.cancel()
            self.calls.close()
            self.report.elapsed = time.monotonic() - started
        return self.report

    def _entries(self, documents: Iterable[object]) -> Iterator[_Pending]:
        ingestor = self.ingestor
        for item in documents:
            document = to_source_document(item, id_field=ingestor.id_field, text_field=ingestor.text_field)
            yield _Pending(document, point_id(document), ingestor.content_hash(document))

    async def _stored_hashes(self, ids: list[str]) -> dict[str, Any]:
        if not self.collection_exists:
            return {}
        records = await self.calls.retrieve(self.ingestor.collection, ids, with_payload=[HASH_KEY])
        return {str(record.id): (record.payload or {}).get(HASH_KEY) for record in records}

    async def _embed(self, entry: _Pending) -> None:
        try:
            point = await self._point(entry)
        except BaseException:
            self.window.release()
            raise
        if point is None:
            self.window.release()
            return
        self.buffer.append(point)
        if len(self.buffer) >= self.ingestor.batch_size:
            self._flush()

    async def _point(self, entry: _Pending) -> models.PointStruct | None:
        """The point of a document, or None when it failed (recorded in the report)."""
        self.tasks.raise_error()  # the run is stopping: no more /embed calls
        request = self.ingestor.request(entry.document)
        if request is None:
            self._fail(entry, "empty text (the API rejects empty prompts); embed a placeholder instead "
                       "with EmbeddingSettings(empty_text='placeholder')")
            return None
        try:
            async with self.embed_slots:
                response = await self.calls.embed(request)
            vector, size = self.ingestor.plan.vectors(response)
        except AlephEmbedError as error:
            self._fail(entry, f"{type(error).__name__}: {error}")
            return None
        await self._ensure_collection(size)
        payload = build_payload(self.ingestor.layout, entry.point_id, entry.document, entry.content_hash)
        return models.PointStruct(id=entry.point_id, vector=vector, payload=payload)

    def _fail(self, entry: _Pending, reason: str) -> None:
        self.report.failed.append(FailedDocument(entry.document.id, entry.point_id, reason))

    def _flush(self) -> None:
        batch, self.buffer = self.buffer, []
        if batch:
            self.tasks.spawn(self._upsert(batch))

    async def _upsert(self, batch: list[models.PointStruct]) -> None:
        try:
            async with self.upsert_slots:  # an upsert of deterministic ids is idempotent: transient failures retry
                await UPSERT_RETRIES.arun(lambda: self.calls.upsert(self.ingestor.collection, batch), classify_qdrant)
        finally:
            for _ in batch:
                self.window.release()
        self.report.ingested += len(batch)
        self._progress()

    async def _ensure_collection(self, size: int) -> None:
        """Create the collection on the first vector (its size is now known), or check that the existing one fits."""
        if self.collection_ready:
            return
        async with self.collection_lock:
            if self.collection_ready:
                return
            ingestor, calls, name = self.ingestor, self.calls, self.ingestor.collection
            if not await calls.collection_exists(name):
                await calls.create_collection(name, **ingestor.plan.create_arguments(size))
            ingestor.plan.check(name, await calls.get_collection(name), size)
            for field_name, schema in ingestor.plan.options.payload_indexes.items():
                await calls.create_payload_index(name, field_name, schema)
            self.collection_ready = True

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.report)


class _Tasks:
    """Background tasks of a run; the first error stops the run."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._error is None:
            self._error = task.exception()

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    async def join(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_EXCEPTION)
            self.raise_error()

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()


def _chunks(items: Iterable[_Pending], size: int) -> Iterator[list[_Pending]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
