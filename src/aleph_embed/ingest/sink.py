"""Where an ingest writes: the `VectorSink` protocol over a neutral `Point`.

A sink is the store's side of a run; the engine (`Ingestor`) does the rest (reading, identity, embedding, batching,
retries of refused batches, the report). One module per store: `MemorySink` here, `aleph_embed_qdrant.QdrantSink`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .documents import SourceDocument
from .vectors import Vector, VectorPlan

if TYPE_CHECKING:
    from aleph_embed.chunking import Chunk, Chunker


@dataclass(frozen=True)
class SparseVector:
    """A sparse vector: the `values` at `indices` (e.g. BM25 term weights)."""

    indices: list[int]
    values: list[float]


@dataclass
class Point:
    """One stored unit (a document, or a chunk of one): its id, dense vector (or named vectors), optional sparse
    vectors by name, payload (as the sink built it, see `VectorSink.payload`) and the text its vectors were made
    from (a store that computes sparse vectors itself may use it instead of `sparse`). New kinds of vectors are new
    fields with defaults, so sinks that do not know them keep working."""

    id: str
    vector: Vector
    payload: dict[str, Any]
    sparse: dict[str, SparseVector] = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class StoredPoint:
    """What a sink knows of a stored point: the content hash it was made from (None: not an ingest's point) and how
    many points its document has."""

    content_hash: str | None
    chunks: int = 1


class VectorSink(Protocol):
    """A vector store an ingest writes to. Every call may be retried by the run's re-runs: writes are by id."""

    def describe(self) -> Mapping[str, Any]:
        """What the stored points depend on besides the embedding and chunking (e.g. the payload layout): part of
        every document's content hash."""
        ...

    def payload(
        self, point_id: str, document: SourceDocument, content_hash: str, chunk: Chunk | None, chunks: int
    ) -> dict[str, Any]:
        """The payload of one point (the whole document, or chunk `chunk` of its `chunks`); it must give back
        `content_hash` and `chunks` through `stored`."""
        ...

    async def prepare(self, plan: VectorPlan, chunker: Chunker | None, host: str) -> bool:
        """Before anything is read: drop the store when asked to, refuse one recorded with other settings
        (`CollectionMismatchError`); whether it exists (whether `stored` can find anything)."""
        ...

    async def ensure(self, size: int) -> None:
        """On the first vector (its size now known): create the store, or check that it fits; record the settings.
        Called once per run."""
        ...

    async def stored(self, ids: Sequence[str]) -> dict[str, StoredPoint]:
        """The stored points among `ids`."""
        ...

    async def delete(self, ids: Sequence[str]) -> None:
        """Delete these points (absent ones are no error)."""
        ...

    async def write(self, points: Sequence[Point], *, last: bool) -> None:
        """Store `points` (replacing those of the same ids). `last`: the run's final write: when it returns, every
        point of the run is searchable. Raises `StoreRejectedError` when the store refuses them."""
        ...

    def close(self) -> None:
        """Free what the run held (threads, connections it opened)."""
        ...
