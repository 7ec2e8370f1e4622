"""`MemorySink`: points kept in a dict, for tests and for vectors without a store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .documents import SourceDocument
from .errors import CollectionMismatchError
from .paged import stored_metadata
from .sink import Point, StoredPoint

if TYPE_CHECKING:
    from aleph_embed.chunking import Chunk, Chunker

    from .vectors import VectorPlan

HASH_KEY = "content_hash"
CHUNKS_KEY = "chunks"


class MemorySink:
    """A `VectorSink` in memory: `points` maps each point id to the `Point` written. Its payload: `text` (the
    chunk's, or the document's), `metadata` (a chunk's adds `chunk_index`, `chunk_start`, `chunk_end`, `headings`),
    `document_id`, `content_hash`, `chunks`. Reused across runs, it skips unchanged documents like a store."""

    def __init__(self) -> None:
        self.points: dict[str, Point] = {}
        self.size: int | None = None

    def describe(self) -> Mapping[str, Any]:
        return {"sink": "memory"}

    def payload(
        self, point_id: str, document: SourceDocument, content_hash: str, chunk: Chunk | None, chunks: int
    ) -> dict[str, Any]:
        metadata = stored_metadata(document.metadata, *((chunk.start, chunk.end) if chunk is not None else (None, None)))
        if chunk is not None:
            metadata.update(chunk_index=chunk.index, chunk_start=chunk.start, chunk_end=chunk.end,
                            headings=list(chunk.headings))
        text = document.text if chunk is None else chunk.text
        return {"text": text, "metadata": metadata, "document_id": document.id, HASH_KEY: content_hash,
                CHUNKS_KEY: chunks}

    async def prepare(self, plan: VectorPlan, chunker: Chunker | None, host: str) -> bool:
        return bool(self.points)

    async def ensure(self, size: int) -> None:
        if self.size is not None and self.size != size:
            raise CollectionMismatchError(f"this MemorySink holds vectors of size {self.size}, not {size}")
        self.size = size

    async def stored(self, ids: Sequence[str]) -> dict[str, StoredPoint]:
        return {
            point_id: StoredPoint(point.payload.get(HASH_KEY), int(point.payload.get(CHUNKS_KEY) or 1))
            for point_id in ids if (point := self.points.get(point_id)) is not None
        }

    async def delete(self, ids: Sequence[str]) -> None:
        for point_id in ids:
            self.points.pop(point_id, None)

    async def write(self, points: Sequence[Point], *, last: bool) -> None:
        self.points.update((point.id, point) for point in points)

    def close(self) -> None:
        pass
