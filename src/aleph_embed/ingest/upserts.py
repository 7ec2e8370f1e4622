"""The points waiting for a write, cut into batches by count and estimated bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import StoreRejectedError
from .sink import Point, VectorSink

_Owner = TypeVar("_Owner")


class UpsertBuffer(Generic[_Owner]):
    """Points (each with its owner, e.g. its document) in arrival order; `batches` takes batches of up to `batch_size`
    points and `batch_bytes` estimated bytes (one point alone may weigh more)."""

    def __init__(self, batch_size: int, batch_bytes: int) -> None:
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self._items: list[tuple[Point, _Owner]] = []
        self._sizes: list[int] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, points: list[Point], owner: _Owner, vector_size: int) -> None:
        self._items.extend((point, owner) for point in points)
        self._sizes.extend(point_bytes(point, vector_size) for point in points)

    def batches(self, *, everything: bool = False) -> Iterator[list[tuple[Point, _Owner]]]:
        """Full batches while more than one batch is buffered; with `everything`, the rest too."""
        while self._items:
            count, total = 0, 0
            for size in self._sizes[: self.batch_size]:
                if count and total + size > self.batch_bytes:
                    break
                count, total = count + 1, total + size
            if count == len(self._items) and not everything:
                return
            batch, self._items = self._items[:count], self._items[count:]
            del self._sizes[:count]
            yield batch


def point_bytes(point: Point, vector_size: int) -> int:
    """About what a point weighs in a write: up to 20 bytes a float as JSON, the payload as JSON (sparse vectors:
    an index and a value, 30 bytes)."""
    vectors = len(point.vector) if isinstance(point.vector, dict) else 1
    sparse = sum(len(vector.indices) for vector in point.sparse.values())
    return 20 * vector_size * vectors + 30 * sparse + len(json.dumps(point.payload, ensure_ascii=False))


async def write_points(sink: VectorSink, points: list[Point], *, last: bool) -> dict[int, StoreRejectedError]:
    """Write `points` through `sink` (deterministic ids: retries never double); a batch the store refuses is sent
    again point by point, so that only the refused points fail. The refused points by index in `points`."""
    try:
        await sink.write(points, last=last)
        return {}
    except StoreRejectedError as error:
        if len(points) == 1:
            return {0: error}
    refused = {}
    for index, point in enumerate(points):
        try:
            await sink.write([point], last=last)
        except StoreRejectedError as error:
            refused[index] = error
    return refused
