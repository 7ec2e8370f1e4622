"""Documents -> /embed (or another endpoint) -> Qdrant, streamed, concurrent, idempotent and resumable; one bad
document never stops it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from aleph_embed import (
    AlephEmbedError,
    APIStatusError,
    AsyncEmbedClient,
    AuthenticationError,
    ConfigurationError,
    EmbedClient,
    EmbeddingSettings,
    EmbedRequest,
    EmbedResponse,
    QuotaExceededError,
    TransportError,
    UnknownModelError,
)
from aleph_embed._config import (
    DEFAULT_CHUNK_TOKENS, DEFAULT_MAX_DOCUMENT_CHARS, DEFAULT_QDRANT_DEADLINE, DEFAULT_UPSERT_BATCH_BYTES, ENV_TOKEN,
)
from aleph_embed.chunking import Chunk, Chunker, TextKind, _ChunkRounds
from aleph_embed.errors import BatchEmbedError, describe_failures
from aleph_embed.jsonl import MAX_JSON_DEPTH, too_deep
from aleph_embed.ingest.batching import PromptBatcher
from aleph_embed.ingest.documents import ReadFailure, SourceDocument, to_source_document
from aleph_embed.ingest.readers import over_the_cap
from aleph_embed.ingest.identity import chunk_point_id, point_id
from aleph_embed.ingest.report import FailedDocument, IngestProgressCallback, IngestReport
from aleph_embed.models import ApiAnswer, ApiRequest
from aleph_embed.retry import RetryPolicy

from ._calls import Calls, classify_qdrant
from .collection import SETTINGS_KEY, ChunkingSettings, CollectionOptions, RecordedSettings, VectorPlan, VectorSpec
from .errors import (
    CollectionMismatchError,
    IngestConfigurationError,
    IngestInterrupted,
    IngestStopped,
    QdrantRejectedError,
)
from .layout import CHUNKS_KEY, HASH_KEY, LAYOUTS, Layout, build_payload

__all__ = ["FailedDocument", "IngestReport", "QdrantIngestor", "chunk_point_id", "classify_qdrant", "point_id"]

_Answer = EmbedResponse | list[float]
"""What one text's call gives: the `/embed` answer, or the vector through another endpoint."""

class QdrantIngestor:
    """Embeds documents through `/embed` (or the endpoint of `settings`) and upserts them into a Qdrant collection.

    Works with `EmbedClient` or `AsyncEmbedClient` and `QdrantClient` or `AsyncQdrantClient` in any mix;
    `ingest` runs the pipeline to completion, `aingest` awaits it inside a running event loop.

    - `vectors`: None stores one unnamed vector from `settings`; a mapping {name: VectorSpec} stores named
      vectors, all from ONE `/embed` call per text.
    - `settings.endpoint`: `embed` (default) makes one `/embed` call per text; `semantic` embeds documents through
      `/batch_semantic_embed` (and `openai` through `/embeddings`), the texts of many documents 100 per call;
      `instructable` one `/instructable_embed` call per text with the document instruction. The endpoint and its
      options are recorded on the collection with the other settings.
    - `layout`: the payload shape: `both` (default; LangChain's and LlamaIndex's stores read it), `langchain` or
      `llamaindex` (see `aleph_embed_qdrant.layout`).
    - Chunking (default on): each document is cut into chunks of at most `chunk_tokens` of the model's own tokens
      (`chunk_overlap` tokens repeated, default an eighth), one point per chunk, by the host's chunker
      (`EmbedClient.chunker`: the model's tokenizer, capped at its context; a host without a tokenizer endpoint gets
      estimated sizes, and a chunk it rejects as too long is split further) or the `chunker` given. Chunk i of a
      document has the point id `chunk_point_id(point_id(document), i)`; a changed document replaces all its chunks
      (surplus ones of a longer version are deleted), an unchanged one costs no `/embed` call. `chunking=False`
      stores each document whole (a document too long for the model is then a failed document).
    - `recreate`: drop an existing collection first (needed when its recorded settings differ from these).
    - `batch_size`: points per upsert and ids per look-up; `batch_bytes`: an upsert's estimated size in bytes (8 MiB;
      big vectors make smaller batches); `concurrency`: `/embed` calls in flight (default: the client's);
      `upsert_parallelism`: upserts in flight while the next documents embed. Upserts do not wait for Qdrant to
      apply them, except the last one of a run (and every one on a collection of several shards or replicas): when
      the run returns, its points are searchable. A `QdrantClient(..., prefer_grpc=True)` upserts over gRPC.
    - `qdrant_deadline`: seconds each Qdrant call retries while Qdrant is away (default 120).
    - `max_document_chars`: a longer document is a failed document naming the cap (default 10 M characters: the
      memory of an ingest grows with its longest document; `FileReader`'s cap stops reading such a file early).

    A problem of one document (unreadable item, metadata that is not a JSON object, a lone surrogate, an `/embed`
    error or a malformed answer, a point Qdrant refuses) is a `FailedDocument` in the report; everything else is
    stored. A run that must stop raises `IngestStopped` carrying the partial report: `IngestConfigurationError`
    (wrong token, unknown model, a collection recorded with other settings), `IngestInterrupted` (Ctrl-C, cancel),
    or `IngestStopped` itself (Qdrant or the `/embed` host gone past their deadlines). Items with the same id: the
    last one in input order is stored (the input is read once, ahead, to know which is last).
    """

    def __init__(
        self,
        *,
        embedder: EmbedClient | AsyncEmbedClient,
        settings: EmbeddingSettings,
        qdrant: QdrantClient | AsyncQdrantClient,
        collection: str,
        vectors: Mapping[str, VectorSpec] | None = None,
        layout: Layout = "both",
        chunking: bool = True,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        chunk_overlap: int | None = None,
        chunker: Chunker | None = None,
        options: CollectionOptions | None = None,
        recreate: bool = False,
        batch_size: int = 64,
        batch_bytes: int = DEFAULT_UPSERT_BATCH_BYTES,
        concurrency: int | None = None,
        upsert_parallelism: int = 2,
        qdrant_deadline: float = DEFAULT_QDRANT_DEADLINE,
        id_field: str = "id",
        text_field: str = "text",
        max_document_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
    ) -> None:
        if min(batch_size, batch_bytes, upsert_parallelism, max_document_chars) < 1 or (concurrency is not None and concurrency < 1):
            raise ConfigurationError(
                "batch_size, batch_bytes, concurrency, upsert_parallelism and max_document_chars must be at least 1"
            )
        if layout not in LAYOUTS:
            raise ConfigurationError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        if not collection:
            raise ConfigurationError("collection: give the name of a Qdrant collection")
        if chunker is not None and not chunking:
            raise ConfigurationError("chunker= was given with chunking=False: give one or the other")
        self.embedder = embedder
        self.settings = settings
        self.qdrant = qdrant
        self.collection = collection
        self.layout: Layout = layout
        self.chunking = chunking
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.chunker = chunker
        self.plan = VectorPlan(settings, vectors, options or CollectionOptions())
        self.recreate = recreate
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.concurrency = concurrency or embedder.concurrency
        self.upsert_parallelism = upsert_parallelism
        self.qdrant_retries = RetryPolicy(max_retries=None, deadline=qdrant_deadline)
        self.id_field = id_field
        self.text_field = text_field
        self.max_document_chars = max_document_chars

    def ingest(self, documents: Iterable[object], *, on_progress: IngestProgressCallback | None = None) -> IngestReport:
        """Ingest every document (str, dict, LangChain Document, LlamaIndex node, `SourceDocument`, `ReadFailure`);
        see `IngestReport` and, for a run that stops early, `IngestStopped`."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass  # no loop running: the usual case (tracebacks of the run must not carry this lookup)
        else:
            raise ConfigurationError("ingest() was called inside a running event loop: use `await ingestor.aingest(...)`")
        return asyncio.run(self.aingest(documents, on_progress=on_progress))

    async def aingest(self, documents: Iterable[object], *, on_progress: IngestProgressCallback | None = None) -> IngestReport:
        """`ingest` for a running event loop (cancelling it raises `IngestInterrupted` with the report)."""
        return await _Run(self, on_progress).execute(documents)

    async def resolve_chunker(self) -> Chunker | None:
        """The chunker of a run: the one given, else the host's for the model (its own tokenizer, its context; see
        `EmbedClient.chunker`), None when chunking is off."""
        if self.chunker is not None or not self.chunking:
            return self.chunker
        embedder, model, tokens, overlap = self.embedder, self.settings.model, self.chunk_tokens, self.chunk_overlap
        try:
            if isinstance(embedder, AsyncEmbedClient):
                return await embedder.chunker(model, max_tokens=tokens, overlap=overlap)
            return await asyncio.to_thread(functools.partial(embedder.chunker, model, max_tokens=tokens, overlap=overlap))
        except ValueError as error:  # sizes the chunker refuses
            raise ConfigurationError(f"chunking: {error} (CLI: --chunk-tokens, --chunk-overlap)") from None


@dataclass
class _Pending:
    """A document of the input: where it stands in the run."""

    position: int
    document: SourceDocument
    point_id: str
    content_hash: str
    stored_chunks: int = 0  # points of its stored version (surplus ones are deleted)
    remaining: int = 0  # its points not yet upserted
    failed: bool = False
    settled: bool = False

    @property
    def source(self) -> str:
        return self.document.source or f"item {self.position}"


class _Spool:
    """The input read once, ahead: items checked and written to a temporary file, the position of each id's last
    occurrence kept, so that the run stores the last one (deterministic) with memory bounded by the ids."""

    def __init__(self, ingestor: QdrantIngestor, report: IngestReport, content_hash: Callable[[SourceDocument], str]):
        self.ingestor = ingestor
        self.report = report
        self.content_hash = content_hash
        self.file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.last: dict[str, int] = {}

    async def fill(self, documents: Iterable[object]) -> None:
        for position, item in enumerate(documents):
            self.report.documents += 1
            pending = self._check(position, item)
            if pending is not None:
                self.last[pending.point_id] = position
                document = pending.document
                record = [position, document.id, document.text, dict(document.metadata), document.source,
                          pending.point_id, pending.content_hash]
                self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
            if position % 256 == 255:
                await asyncio.sleep(0)  # let a Ctrl-C through
        self.file.seek(0)

    def _check(self, position: int, item: object) -> _Pending | None:
        ingestor = self.ingestor
        if isinstance(item, ReadFailure):
            self.report.failed.append(FailedDocument(item.id, None, item.reason, item.source))
            return None
        document = None
        try:
            document = to_source_document(item, id_field=ingestor.id_field, text_field=ingestor.text_field)
            if not isinstance(document.metadata, Mapping):
                raise ValueError(f"metadata must be a JSON object, not {type(document.metadata).__name__}")
            if len(document.text) > ingestor.max_document_chars:
                raise ValueError(over_the_cap(ingestor.max_document_chars))
            if too_deep(document.metadata):
                raise ValueError(f"metadata nested deeper than {MAX_JSON_DEPTH} levels")
            json.dumps([document.text, document.metadata, document.id], ensure_ascii=False, allow_nan=False).encode()
            return _Pending(position, document, point_id(document), self.content_hash(document))
        except (ConfigurationError, TypeError, ValueError) as error:  # UnicodeEncodeError: a lone surrogate
            source = (document.source if document else None) or f"item {position}"
            reason = f"unusable document: {_describe(error)}"
            self.report.failed.append(FailedDocument(document.id if document else None, None, reason, source, document))
            return None

    def entries(self) -> Iterator[_Pending]:
        """The documents to store, in input order; earlier occurrences of an id are counted as duplicates."""
        for line in self.file:
            position, id_, text, metadata, source, point, content_hash = json.loads(line)
            if self.last[point] != position:
                self.report.duplicates += 1
                continue
            # The id and hash of the document as given: metadata back from JSON may differ (integer keys are strings).
            yield _Pending(position, SourceDocument(text, id_, metadata, source), point, content_hash)

    def close(self) -> None:
        self.file.close()


class _Run:
    """One pass over the input. Memory stays bounded: a document is taken from the spool only when a slot of the
    window is free, and the slot is freed once all its points are upserted (or it failed)."""

    def __init__(self, ingestor: QdrantIngestor, on_progress: IngestProgressCallback | None) -> None:
        self.ingestor = ingestor
        self.on_progress = on_progress
        self.report = IngestReport()
        threads = ingestor.concurrency + ingestor.upsert_parallelism + 1
        self.calls = Calls(ingestor.embedder, ingestor.qdrant, threads, ingestor.qdrant_retries)
        self.embed_slots = asyncio.Semaphore(ingestor.concurrency)
        self.upsert_slots = asyncio.Semaphore(ingestor.upsert_parallelism)
        self.busy = 0  # work documents wait on (chunking, collection creation, deletes, upserts spawned)
        self.window_size = ingestor.concurrency + ingestor.batch_size * (ingestor.upsert_parallelism + 1)
        self.window = asyncio.Semaphore(self.window_size)
        self.holding: dict[int, _Pending] = {}  # the documents holding a slot of the window, by position
        self.read_all = False  # every document of the input has had its slot
        self.buffer: list[tuple[models.PointStruct, _Pending]] = []
        self.buffer_bytes: list[int] = []  # each buffered point's estimated size in an upsert
        self.wait_each = False  # several shards or replicas: only waiting for each upsert orders them
        self.tasks = _Tasks()
        self.batcher = None if ingestor.settings.endpoint == "embed" else PromptBatcher(
            ingestor.settings, self._send, self.tasks.spawn, self._stalled
        )
        self.collection_exists = False
        self.vector_size: int | None = None  # set once the collection is ready
        self.stop: _Stop | None = None
        self.chunker: Chunker | None = None
        self.recorded: RecordedSettings | None = None
        self.hash_prefix = ""
        self.collection_lock = asyncio.Lock()

    async def execute(self, documents: Iterable[object]) -> IngestReport:
        started = time.monotonic()
        spool = _Spool(self.ingestor, self.report, self.content_hash)
        try:
            await self._prepare()
            await spool.fill(documents)
            self._progress()
            await self._store(spool.entries())
        except asyncio.CancelledError:
            raise IngestInterrupted("interrupted", self._final(started)) from None
        except (_Stop, AlephEmbedError) as error:
            cause = await self._explain(error.error) if isinstance(error, _Stop) else error
            if isinstance(cause, IngestStopped) or (isinstance(cause, CollectionMismatchError) and not self.report.documents):
                raise cause from None  # refused before anything was read: nothing to report
            stopped = IngestConfigurationError if isinstance(cause, ConfigurationError) else IngestStopped
            raise stopped(str(cause), self._final(started)) from cause
        finally:
            self.tasks.cancel()
            self.calls.close()
            spool.close()
            self._final(started)
        return self.report

    def _final(self, started: float) -> IngestReport:
        self.report.elapsed = time.monotonic() - started
        return self.report

    async def _prepare(self) -> None:
        """The chunker and the settings to record; drop the collection when asked to; refuse one recorded with other
        settings before reading anything."""
        ingestor, calls, name = self.ingestor, self.calls, self.ingestor.collection
        try:
            self.chunker = chunker = await ingestor.resolve_chunker()
        except AlephEmbedError as error:
            if _stops_the_run(error):
                raise _Stop(error) from error
            raise
        chunking = None if chunker is None else ChunkingSettings(max_tokens=chunker.max_tokens, overlap=chunker.overlap)
        self.recorded = ingestor.plan.recorded(ingestor.layout, chunking, ingestor.embedder.host)
        signature = None if chunker is None else chunker.signature
        self.hash_prefix = json.dumps({"layout": ingestor.layout, "chunking": signature, **ingestor.plan.describe()},
                                      sort_keys=True)
        exists = await calls.collection_exists(name)
        if exists and ingestor.recreate:
            await calls.delete_collection(name)
            exists = False
        if exists:
            recorded = RecordedSettings.of(await calls.get_collection(name))
            if recorded is not None and (differences := recorded.differences(self.recorded)):
                chunking_flags = " (chunking: --chunk-tokens, --chunk-overlap, --no-chunking)" if any(
                    difference.startswith("chunking:") for difference in differences) else ""
                raise CollectionMismatchError(
                    f"collection {name!r} was ingested with other settings ({'; '.join(differences)}): ingest with "
                    f"the same settings{chunking_flags}, into another collection, or pass recreate=True (CLI: "
                    "--recreate) to replace it"
                )
        self.collection_exists = exists

    def content_hash(self, document: SourceDocument) -> str:
        """What the document's points are made from: text, metadata, embedding and chunking settings, layout."""
        content = json.dumps([document.text, document.metadata], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(f"{self.hash_prefix}\n{content}".encode()).hexdigest()

    def request(self, text: str) -> EmbedRequest | None:
        """The `/embed` request of a whole document; None when it is empty and empty texts are not embedded."""
        settings = self.ingestor.settings
        prompt = settings.prompt_text(text)
        return None if prompt is None else settings.request(prompt, **self.ingestor.plan.request_extras())

    async def _store(self, entries: Iterator[_Pending]) -> None:
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
        texts' turn in the batcher or for its points' upsert."""
        assert self.batcher is not None
        if self.busy or not (self.read_all or len(self.holding) == self.window_size):
            return False
        waiting = self.batcher.waiting()
        return all(entry.remaining or position in waiting for position, entry in self.holding.items())

    def _poke(self) -> None:
        """The run may have stalled: the batcher checks."""
        if self.batcher is not None:
            self.batcher.poke()

    @contextlib.contextmanager
    def _busy(self) -> Iterator[None]:
        """Work documents wait on (Qdrant calls, cutting a document into chunks): the batcher sends no partial call
        meanwhile (more texts will come)."""
        self.busy += 1
        try:
            yield
        finally:
            self._done_waiting()

    def _done_waiting(self) -> None:
        self.busy -= 1
        self._poke()

    async def _stored(self, batch: list[_Pending]) -> dict[str, bool]:
        """Whether each document's stored points are complete and of this content (then it is skipped); notes how
        many points its stored version has."""
        if not self.collection_exists:
            return {}
        name = self.ingestor.collection
        records = await self.calls.retrieve(name, [entry.point_id for entry in batch], with_payload=[HASH_KEY, CHUNKS_KEY])
        first = {str(record.id): record.payload or {} for record in records}
        complete: dict[str, bool] = {}
        rest: dict[str, list[str]] = {}
        for entry in batch:
            payload = first.get(entry.point_id)
            if payload is None:
                continue
            entry.stored_chunks = int(payload.get(CHUNKS_KEY) or 1)
            complete[entry.point_id] = payload.get(HASH_KEY) == entry.content_hash
            if complete[entry.point_id] and entry.stored_chunks > 1:
                rest[entry.point_id] = [chunk_point_id(entry.point_id, i) for i in range(1, entry.stored_chunks)]
        if rest:
            ids = [point for points in rest.values() for point in points]
            hashes = {
                str(record.id): (record.payload or {}).get(HASH_KEY)
                for record in await self.calls.retrieve(name, ids, with_payload=[HASH_KEY])
            }
            wanted = {entry.point_id: entry.content_hash for entry in batch}
            for document, points in rest.items():
                complete[document] = all(hashes.get(point) == wanted[document] for point in points)
        return complete

    async def _process(self, entry: _Pending) -> None:
        try:
            points = await self._points(entry)
            if points is None:
                self._settle(entry)
                self._progress()
                return
            if entry.stored_chunks > len(points):  # a shorter version: its surplus chunks go
                surplus: list[models.ExtendedPointId] = [
                    chunk_point_id(entry.point_id, i) for i in range(len(points), entry.stored_chunks)
                ]
                with self._busy():
                    await self.calls.delete(self.ingestor.collection, models.PointIdsList(points=surplus))
        except BaseException:
            self._settle(entry)
            raise
        entry.remaining = len(points)
        self.buffer.extend((point, entry) for point in points)
        self.buffer_bytes.extend(_point_bytes(point, self.vector_size or 0) for point in points)
        self._flush()
        self._poke()

    async def _points(self, entry: _Pending) -> list[models.PointStruct] | None:
        """The points of a document, or None when it failed (recorded in the report)."""
        answers = await self._answers(entry)
        if answers is None:
            return None
        vectors: list[tuple[models.VectorStruct, int]] = []
        for chunk, answer in answers:
            try:
                vectors.append(_checked_vector(self.ingestor.plan, answer))
            except (KeyError, ValueError, TypeError) as error:
                where = "" if chunk is None else f"chunk {chunk.index}: "
                self._fail(entry, f"{where}malformed /embed answer: {_describe(error)}")
                return None
        await self._ensure_collection(vectors[0][1])
        if any(size != self.vector_size for _, size in vectors):
            sizes = sorted({size for _, size in vectors})
            self._fail(entry, f"malformed /embed answer: vectors of {sizes} dimensions, the collection's have "
                       f"{self.vector_size}")
            return None
        points = []
        for (chunk, _), (vector, _) in zip(answers, vectors):
            point = chunk_point_id(entry.point_id, 0 if chunk is None else chunk.index)
            payload = build_payload(self.ingestor.layout, point, entry.document, entry.content_hash, chunk, len(answers))
            points.append(models.PointStruct(id=point, vector=vector, payload=payload))
        return points

    async def _answers(self, entry: _Pending) -> list[tuple[Chunk | None, _Answer]] | None:
        """The answer for each chunk of a document (or for the whole document: chunk None); None when it failed. A
        chunk the server rejects as too long is split further (see `EmbedClient.embed_chunks`)."""
        document, chunker, ingestor = entry.document, self.chunker, self.ingestor
        try:
            # In a thread: a long document's tokenizing would hold up the calls and upserts of the event loop. Busy
            # meanwhile: its texts are on the way, so the batcher does not send a partial call for want of them.
            with self._busy():
                chunks = [] if chunker is None else await asyncio.to_thread(chunker.split, document.text,
                                                                            kind=_kind(document))
        except Exception as error:  # the chunker on an odd text: this document's problem only
            self._fail(entry, f"cannot cut into chunks: {_describe(error)}")
            return None
        if chunker is None or not chunks:  # stored whole (a blank text gets no chunk)
            request = self.request(document.text)
            if request is None:
                self._fail(entry, "empty text (the API rejects empty prompts); embed a placeholder instead "
                           "with EmbeddingSettings(empty_text='placeholder')")
                return None
            (answer,) = await self._round(entry, [request])
            if isinstance(answer, Exception):
                self._fail(entry, _describe(answer))
                return None
            return [(None, answer)]
        rounds: _ChunkRounds[_Answer] = _ChunkRounds(
            [(document.text, chunks)], ingestor.settings, chunker, **ingestor.plan.request_extras()
        )
        while rounds.pending:
            rounds.record(await self._round(entry, rounds.requests()))
        try:
            return list(rounds.answers(0))
        except BatchEmbedError as error:
            self._fail(entry, describe_failures(error.errors, "chunk"))
            return None

    async def _round(self, entry: _Pending, requests: list[EmbedRequest]) -> list[_Answer | Exception]:
        """The answers (or errors) of a document's `requests`, many in flight; raises when the run is stopping."""
        answers = await asyncio.gather(*(self._embed(entry, request) for request in requests), return_exceptions=True)
        self.tasks.raise_error()  # the run is stopping: its error, not this document's
        for answer in answers:
            if isinstance(answer, _Stop) or (isinstance(answer, BaseException) and not isinstance(answer, Exception)):
                raise answer
        return answers  # type: ignore[return-value]  # only Exceptions are left

    def _embed(self, entry: _Pending, request: EmbedRequest) -> Awaitable[_Answer]:
        """The `/embed` answer to `request`; with another endpoint, the vector of its prompt through that endpoint
        (many documents' texts per call where it takes many: submitted at once, see `PromptBatcher.submit`)."""
        if self.batcher is not None and isinstance(request.prompt, str):
            return self.batcher.submit(request.prompt, entry.position)
        return self._embed_call(request)

    async def _embed_call(self, request: EmbedRequest) -> EmbedResponse:
        answer = await self._send(request)
        assert isinstance(answer, EmbedResponse)
        return answer

    async def _send(self, request: ApiRequest) -> ApiAnswer:
        """One embedding call within the run's concurrency; an error every further call would share stops the run."""
        async with self.embed_slots:
            self.tasks.raise_error()  # the run is stopping: no more /embed calls
            if self.stop is not None:
                raise self.stop
            self.report.embed_calls += 1
            try:
                return await self.calls.call(request)
            except AlephEmbedError as error:
                if not _stops_the_run(error):
                    raise
                self.stop = self.stop or _Stop(error)
                raise self.stop from error

    async def _explain(self, error: AlephEmbedError) -> AlephEmbedError:
        """Why the run stops, in the CLI's terms: every further call would fail the same way."""
        if isinstance(error, AuthenticationError):
            return ConfigurationError(f"the /embed host refused the token ({error}): pass --token or set {ENV_TOKEN}")
        if isinstance(error, APIStatusError) and error.status_code == 403:
            return ConfigurationError(
                f"the /embed host forbids this token that use ({error}): pass another --token or set {ENV_TOKEN}"
            )
        if isinstance(error, UnknownModelError):
            model = self.ingestor.settings.model
            return ConfigurationError(f"model {model!r} is unknown to the /embed host ({error}): pass --model NAME"
                                      f"{await self._served_models()}")
        if isinstance(error, QuotaExceededError):
            return AlephEmbedError(f"the /embed host says the account has no credits left ({error})")
        if isinstance(error, TransportError):
            return AlephEmbedError(f"the /embed host stopped answering ({error})")
        return error

    async def _served_models(self) -> str:
        """`; the host serves: ...`, or nothing when the host does not say."""
        embedder = self.ingestor.embedder
        try:
            served = await embedder.models_available() if isinstance(embedder, AsyncEmbedClient) else \
                await asyncio.to_thread(embedder.models_available)
        except AlephEmbedError:
            return ""
        return f"; the host serves: {', '.join(sorted(info.name for info in served))}"

    def _fail(self, entry: _Pending, reason: str) -> None:
        if not entry.failed:
            entry.failed = True
            document = entry.document
            self.report.failed.append(FailedDocument(document.id, entry.point_id, reason, entry.source, document))

    def _flush(self, *, everything: bool = False) -> None:
        """Upsert batches of up to `batch_size` points and `batch_bytes` bytes, not waiting for Qdrant to apply
        them, while more than one batch is buffered. `everything` (once every other upsert has returned) sends the
        rest and waits: a shard applies its updates in order, so then every point of the run is applied."""
        ingestor = self.ingestor
        while self.buffer:
            count, total = 0, 0
            for size in self.buffer_bytes[: ingestor.batch_size]:
                if count and total + size > ingestor.batch_bytes:
                    break
                count, total = count + 1, total + size
            if count == len(self.buffer) and not everything:
                return
            batch, self.buffer = self.buffer[:count], self.buffer[count:]
            del self.buffer_bytes[:count]
            self.busy += 1  # until the upsert is done (see _upsert)
            self.tasks.spawn(self._upsert(batch, wait=everything or self.wait_each))

    async def _upsert(self, batch: list[tuple[models.PointStruct, _Pending]], *, wait: bool) -> None:
        """Upsert a batch (deterministic ids: retries and re-runs never double); a batch Qdrant refuses is sent again
        point by point, so that only the refused points' documents fail."""
        try:
            refused = await self._upsert_points([point for point, _ in batch], wait)
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

    async def _upsert_points(self, points: list[models.PointStruct], wait: bool) -> dict[int, QdrantRejectedError]:
        """The refused points by index in `points`."""
        name = self.ingestor.collection
        async with self.upsert_slots:
            try:
                await self.calls.upsert(name, points, wait=wait)
                return {}
            except QdrantRejectedError as error:
                if len(points) == 1:
                    return {0: error}
            refused = {}
            for index, point in enumerate(points):
                try:
                    await self.calls.upsert(name, [point], wait=wait)
                except QdrantRejectedError as error:
                    refused[index] = error
            return refused

    def _settle(self, entry: _Pending) -> None:
        """The document is done with (stored, failed, or the run stops): its window slot is free again."""
        if not entry.settled:
            entry.settled = True
            self.holding.pop(entry.position, None)
            self.window.release()
            self._poke()

    async def _ensure_collection(self, size: int) -> None:
        """Create the collection on the first vector (its size is now known), or check that the existing one fits;
        record the settings on it. `vector_size` is set once it is ready."""
        if self.vector_size is not None:
            return
        with self._busy():
            async with self.collection_lock:
                if self.vector_size is not None:
                    return
                ingestor, calls, name = self.ingestor, self.calls, self.ingestor.collection
                assert self.recorded is not None
                metadata = {SETTINGS_KEY: self.recorded.model_dump(mode="json")}
                if not await calls.collection_exists(name):
                    await calls.create_collection(name, **ingestor.plan.create_arguments(size), metadata=metadata)
                info = await calls.get_collection(name)
                ingestor.plan.check(name, info, size)
                params = info.config.params
                self.wait_each = (params.shard_number or 1) > 1 or (params.replication_factor or 1) > 1
                if RecordedSettings.of(info) is None:
                    await calls.update_metadata(name, metadata)
                for field_name, schema in ingestor.plan.options.payload_indexes.items():
                    await calls.create_payload_index(name, field_name, schema)
                self.vector_size = size

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.report)


class _Stop(Exception):
    """Raised inside the run when it must stop (not a document's failure); `error` says why."""

    def __init__(self, error: AlephEmbedError) -> None:
        super().__init__(str(error))
        self.error = error


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


def _stops_the_run(error: AlephEmbedError) -> bool:
    """Whether every further embedding call would fail the same way (token, model, credits, host gone)."""
    forbidden = isinstance(error, APIStatusError) and error.status_code == 403
    return forbidden or isinstance(error, (AuthenticationError, UnknownModelError, QuotaExceededError, TransportError))


def _kind(document: SourceDocument) -> TextKind:
    """How to read a document's structure, by the suffix of its source or id (HTML is read as Markdown headings)."""
    name = document.source or (document.id if isinstance(document.id, str) else "")
    return "markdown" if name.lower().endswith((".html", ".htm")) else Chunker.kind_of(name)


def _checked_vector(plan: VectorPlan, response: _Answer) -> tuple[models.VectorStruct, int]:
    """The point's vector(s) from an answer and their size, checked (one size) before Qdrant sees them; the client
    has refused non-finite values already (`InvalidResponseError`)."""
    vector, size = plan.vectors(response)
    if isinstance(vector, dict) and any(len(values) != size for values in vector.values()):  # type: ignore[arg-type]
        raise ValueError(f"the /embed answer holds vectors of different sizes (expected {size})")
    return vector, size


def _point_bytes(point: models.PointStruct, vector_size: int) -> int:
    """About what a point weighs in an upsert: up to 20 bytes a float as JSON, the payload as JSON."""
    vectors = len(point.vector) if isinstance(point.vector, dict) else 1
    return 20 * vector_size * vectors + len(json.dumps(point.payload, ensure_ascii=False))


def _batches(items: Iterable[_Pending], size: int) -> Iterator[list[_Pending]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
