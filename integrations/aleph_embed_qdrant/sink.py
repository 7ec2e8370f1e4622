"""`QdrantSink`: the ingest's `VectorSink` for a Qdrant collection (its setup, recorded settings, payload layout,
retries, gRPC, waits)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from aleph_embed import ConfigurationError
from aleph_embed.config import DEFAULT_QDRANT_DEADLINE
from aleph_embed.ingest.documents import SourceDocument
from aleph_embed.ingest.bm25 import MODEL
from aleph_embed.ingest.sink import Point, StoredPoint
from aleph_embed.ingest.vectors import VectorPlan as CoreVectorPlan
from aleph_embed.retry import RetryPolicy

from ._calls import Calls
from .collection import SETTINGS_KEY, ChunkingSettings, CollectionOptions, RecordedSettings, VectorPlan
from .errors import CollectionMismatchError
from .layout import CHUNKS_KEY, HASH_KEY, LAYOUTS, Layout, build_payload

if TYPE_CHECKING:
    from aleph_embed.chunking import Chunk, Chunker


class QdrantSink:
    """Writes an ingest's points to the Qdrant collection `collection` (created on the first vector, Cosine by
    default, see `CollectionOptions`), recording the ingest's settings on it (`recorded_settings`).

    - `layout`: the payload shape: `both` (default; LangChain's and LlamaIndex's stores read it), `langchain` or
      `llamaindex` (see `aleph_embed_qdrant.layout`).
    - `recreate`: drop an existing collection first (needed when its recorded settings differ from the run's).
    - Writes do not wait for Qdrant to apply them, except the last one of a run (and every one on a collection of
      several shards or replicas): when the run returns, its points are searchable. A
      `QdrantClient(..., prefer_grpc=True)` writes over gRPC.
    - `qdrant_deadline`: seconds each Qdrant call retries while Qdrant is away (default 120); `threads`: the calls
      of a sync client in flight.
    """

    def __init__(
        self, qdrant: QdrantClient | AsyncQdrantClient, collection: str, *, layout: Layout = "both",
        options: CollectionOptions | None = None, recreate: bool = False,
        qdrant_deadline: float = DEFAULT_QDRANT_DEADLINE, threads: int = 8,
    ) -> None:
        if layout not in LAYOUTS:
            raise ConfigurationError(f"layout {layout!r}: use one of {', '.join(LAYOUTS)}")
        if not collection:
            raise ConfigurationError("collection: give the name of a Qdrant collection")
        self.qdrant = qdrant
        self.collection = collection
        self.layout: Layout = layout
        self.options = options or CollectionOptions()
        self.recreate = recreate
        self.retries = RetryPolicy(max_retries=None, deadline=qdrant_deadline)
        self.threads = threads
        self._calls: Calls | None = None
        self._documents: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._plan: VectorPlan | None = None
        self._recorded: RecordedSettings | None = None
        self._wait_each = False  # several shards or replicas: only waiting for each write orders them

    @property
    def calls(self) -> Calls:
        if self._calls is None:
            self._calls = Calls(self.qdrant, self.threads, self.retries)
        return self._calls

    def describe(self) -> Mapping[str, Any]:
        return {"layout": self.layout}

    def payload(
        self, point_id: str, document: SourceDocument, content_hash: str, chunk: Chunk | None, chunks: int
    ) -> dict[str, Any]:
        return build_payload(self.layout, point_id, document, content_hash, chunk, chunks)

    async def prepare(self, plan: CoreVectorPlan, chunker: Chunker | None, host: str) -> bool:
        """Drop the collection when asked to; refuse one recorded with other settings (`CollectionMismatchError`)."""
        calls, name = self.calls, self.collection
        self._plan = VectorPlan(plan.settings, plan.named, self.options, plan.bm25)
        chunking = None if chunker is None else ChunkingSettings(max_tokens=chunker.max_tokens, overlap=chunker.overlap)
        self._recorded = self._plan.recorded(self.layout, chunking, host)
        exists = await calls.collection_exists(name)
        if exists and self.recreate:
            await calls.delete_collection(name)
            exists = False
        if exists:
            recorded = RecordedSettings.of(await calls.get_collection(name))
            if recorded is not None and (differences := recorded.differences(self._recorded)):
                chunking_flags = " (chunking: --chunk-tokens, --chunk-overlap, --no-chunking)" if any(
                    difference.startswith("chunking:") for difference in differences) else ""
                raise CollectionMismatchError(
                    f"collection {name!r} was ingested with other settings ({'; '.join(differences)}): ingest with "
                    f"the same settings{chunking_flags}, into another collection, or pass recreate=True (CLI: "
                    "--recreate) to replace it"
                )
        return exists

    async def ensure(self, size: int) -> None:
        """Create the collection, or check that the existing one fits; record the settings on it."""
        calls, name, plan = self.calls, self.collection, self._plan
        assert plan is not None and self._recorded is not None, "prepare() first"
        metadata = {SETTINGS_KEY: self._recorded.model_dump(mode="json")}
        if not await calls.collection_exists(name):
            await calls.create_collection(name, **plan.create_arguments(size), metadata=metadata)
        info = await calls.get_collection(name)
        plan.check(name, info, size)
        params = info.config.params
        self._wait_each = (params.shard_number or 1) > 1 or (params.replication_factor or 1) > 1
        if RecordedSettings.of(info) is None:
            await calls.update_metadata(name, metadata)
        for field_name, schema in self.options.payload_indexes.items():
            await calls.create_payload_index(name, field_name, schema)

    async def stored(self, ids: Sequence[str]) -> dict[str, StoredPoint]:
        records = await self.calls.retrieve(self.collection, ids, with_payload=[HASH_KEY, CHUNKS_KEY])
        return {
            str(record.id): StoredPoint((record.payload or {}).get(HASH_KEY), int((record.payload or {}).get(CHUNKS_KEY) or 1))
            for record in records
        }

    async def delete(self, ids: Sequence[str]) -> None:
        await self.calls.delete(self.collection, models.PointIdsList(points=list(ids)))

    async def write(self, points: Sequence[Point], *, last: bool) -> None:
        """Upsert `points`; waits for Qdrant to apply them only for the last write (or on several shards/replicas):
        a shard applies its updates in order, so then every point of the run is applied."""
        structs = [models.PointStruct(id=point.id, vector=self._vector_struct(point), payload=point.payload)
                   for point in points]
        if not any(point.sparse for point in points) or self.calls.local:
            await self.calls.upsert(self.collection, structs, wait=last or self._wait_each)
            return
        async with self._documents_lock():  # qdrant-client resolves `models.Document`s in shared, unlocked state
            await self.calls.upsert(self.collection, structs, wait=last or self._wait_each)

    def _documents_lock(self) -> asyncio.Lock:
        """One upsert carrying `qdrant/bm25` documents at a time: two at once made qdrant-client's `ModelEmbedder`
        pop from an emptied list (`IndexError`) in a run with 2 upserts in flight. One lock per event loop."""
        loop = asyncio.get_running_loop()
        if self._documents is None or self._documents[0] is not loop:
            self._documents = (loop, asyncio.Lock())
        return self._documents[1]

    def _vector_struct(self, point: Point) -> models.VectorStruct:
        """The point's vectors; its BM25 vector as a `qdrant/bm25` document for a server to compute (the same
        vector, see `aleph_embed.ingest.bm25`), as computed here for the embedded store."""
        if not point.sparse:
            return point.vector  # type: ignore[return-value]
        dense = point.vector if isinstance(point.vector, dict) else {"": point.vector}
        bm25 = self._plan.bm25 if self._plan is not None else None
        if bm25 is not None and not self.calls.local:
            options = bm25.server_options
            return {**dense, **{name: models.Document(text=point.text, model=MODEL, options=options)
                                for name in point.sparse}}
        return {**dense, **{name: models.SparseVector(indices=vector.indices, values=vector.values)
                            for name, vector in point.sparse.items()}}

    def close(self) -> None:
        if self._calls is not None:
            self._calls.close()
            self._calls = None
