"""Ingest documents into Qdrant through Aleph Alpha's `/embed` (extra `aleph-embed[qdrant]`).

```python
from qdrant_client import QdrantClient
from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed_qdrant import QdrantIngestor

with EmbedClient() as client:  # AA_HOST, AA_TOKEN
    ingestor = QdrantIngestor(embedder=client, settings=EmbeddingSettings(model="luminous-base"),
                              qdrant=QdrantClient(url="http://localhost:6333"), collection="docs")
    report = ingestor.ingest({"id": ..., "text": ..., "metadata": {...}} for ... in ...)  # streamed
    print(report.summary(), report.failed)
```

Re-running skips unchanged documents without calling `/embed`. The payload is what `langchain_qdrant.QdrantVectorStore`
reads (pass `distance=Distance.DOT` for normalised vectors), or LlamaIndex's with `layout="llamaindex"`.
From the shell: `aleph-embed ingest PATH... --collection NAME` and `aleph-embed search QUERY --collection NAME`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .documents import SourceDocument, read_paths
from .layout import HASH_KEY, LAYOUTS, Layout, payload_text

if TYPE_CHECKING:
    from .collection import CollectionMismatchError, CollectionOptions, VectorSpec
    from .ingest import FailedDocument, IngestReport, QdrantIngestor, point_id

# Names whose modules import qdrant-client load on first use, so the `aleph-embed` CLI starts without it.
_LAZY = {
    "CollectionMismatchError": "collection",
    "CollectionOptions": "collection",
    "VectorSpec": "collection",
    "FailedDocument": "ingest",
    "IngestReport": "ingest",
    "QdrantIngestor": "ingest",
    "point_id": "ingest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CollectionMismatchError",
    "CollectionOptions",
    "FailedDocument",
    "HASH_KEY",
    "IngestReport",
    "LAYOUTS",
    "Layout",
    "QdrantIngestor",
    "SourceDocument",
    "VectorSpec",
    "payload_text",
    "point_id",
    "read_paths",
]
