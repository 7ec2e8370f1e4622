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

Re-running skips unchanged documents without calling `/embed`. One bad document is a `FailedDocument` in the report,
never the end of the run; a run that must stop raises `IngestStopped` carrying its partial report. The collection
(Cosine distance) opens in `langchain_qdrant.QdrantVectorStore` and LlamaIndex's `QdrantVectorStore` with no extra
arguments, and records the ingest's settings (`recorded_settings(qdrant, collection)`).
From the shell: `aleph-embed ingest PATH... --collection NAME` and `aleph-embed search QUERY --collection NAME`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aleph_embed.ingest import (
    FailedDocument,
    IngestReport,
    ReadFailure,
    SourceDocument,
    VectorSpec,
    chunk_point_id,
    point_id,
    read_paths,
)

from .connect import connect, default_store
from .errors import (
    CollectionMismatchError,
    IngestConfigurationError,
    IngestInterrupted,
    IngestStopped,
    QdrantError,
    QdrantRejectedError,
    QdrantUnavailableError,
)
from .layout import HASH_KEY, LAYOUTS, Layout, payload_text

if TYPE_CHECKING:
    from .collection import CollectionOptions, RecordedSettings, recorded_settings
    from .modes import SearchMode
    from .query import CollectionBM25, collection_bm25
    from .ingest import QdrantIngestor
    from .retrieval import Hit, rerank_hits, search
    from .sink import QdrantSink

# Names whose modules import qdrant-client load on first use, so the `aleph-embed` CLI starts without it.
_LAZY = {
    "CollectionOptions": "collection",
    "RecordedSettings": "collection",
    "recorded_settings": "collection",
    "collection_bm25": "query",
    "CollectionBM25": "query",
    "SearchMode": "modes",
    "QdrantIngestor": "ingest",
    "QdrantSink": "sink",
    "Hit": "retrieval",
    "rerank_hits": "retrieval",
    "search": "retrieval",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CollectionBM25",
    "CollectionMismatchError",
    "CollectionOptions",
    "FailedDocument",
    "HASH_KEY",
    "Hit",
    "IngestConfigurationError",
    "IngestInterrupted",
    "IngestReport",
    "IngestStopped",
    "LAYOUTS",
    "Layout",
    "QdrantError",
    "QdrantIngestor",
    "QdrantRejectedError",
    "QdrantSink",
    "QdrantUnavailableError",
    "ReadFailure",
    "RecordedSettings",
    "SearchMode",
    "SourceDocument",
    "VectorSpec",
    "chunk_point_id",
    "collection_bm25",
    "connect",
    "default_store",
    "payload_text",
    "point_id",
    "read_paths",
    "recorded_settings",
    "rerank_hits",
    "search",
]
