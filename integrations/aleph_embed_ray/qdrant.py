"""Qdrant for the Ray stages: a picklable factory of each worker's `QdrantSink`."""

from __future__ import annotations

from dataclasses import dataclass, field

from qdrant_client import QdrantClient

from aleph_embed_qdrant import CollectionOptions, QdrantSink
from aleph_embed_qdrant.layout import Layout


@dataclass(frozen=True)
class QdrantTarget:
    """`QdrantTarget(url, collection)()`: a `QdrantSink` on the Qdrant server at `url` (each worker opens its own
    client; `layout` and `options` as for `QdrantSink`). The embedded store is one process's: use a server."""

    url: str
    collection: str
    api_key: str | None = None
    prefer_grpc: bool = False
    grpc_port: int = 6334
    layout: Layout = "both"
    options: CollectionOptions = field(default_factory=CollectionOptions)

    def __call__(self, *, recreate: bool = False) -> QdrantSink:
        client = QdrantClient(url=self.url, api_key=self.api_key, prefer_grpc=self.prefer_grpc,
                              grpc_port=self.grpc_port, check_compatibility=False)
        return QdrantSink(client, self.collection, layout=self.layout, options=self.options, recreate=recreate)
