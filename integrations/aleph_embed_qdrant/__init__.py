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

from typing import TYPE_CHECKING

from aleph_embed.lazy import lazy_names

if TYPE_CHECKING:
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

    from .collection import CollectionOptions, RecordedSettings, recorded_settings
    from .connection import connect, default_store
    from .errors import (
        CollectionMismatchError,
        IngestConfigurationError,
        IngestInterrupted,
        IngestStopped,
        QdrantError,
        QdrantRejectedError,
        QdrantUnavailableError,
    )
    from .ingest import QdrantIngestor
    from .layout import HASH_KEY, LAYOUTS, Layout, payload_text
    from .modes import SearchMode
    from .query import CollectionBM25, collection_bm25
    from .retrieval import Hit, rerank_hits, search
    from .sink import QdrantSink

_MODULES = {
    "aleph_embed.ingest": ("FailedDocument", "IngestReport", "ReadFailure", "SourceDocument", "VectorSpec",
                           "chunk_point_id", "point_id", "read_paths"),
    ".errors": ("CollectionMismatchError", "IngestConfigurationError", "IngestInterrupted", "IngestStopped",
                "QdrantError", "QdrantRejectedError", "QdrantUnavailableError"),
    ".layout": ("HASH_KEY", "LAYOUTS", "Layout", "payload_text"),
    # these import qdrant-client
    ".collection": ("CollectionOptions", "RecordedSettings", "recorded_settings"),
    ".connection": ("connect", "default_store"),
    ".ingest": ("QdrantIngestor",),
    ".modes": ("SearchMode",),
    ".query": ("CollectionBM25", "collection_bm25"),
    ".retrieval": ("Hit", "rerank_hits", "search"),
    ".sink": ("QdrantSink",),
}
"""The module of each public name, imported on first use: the `aleph-embed` CLI starts without qdrant-client or the
ingest engine."""


__getattr__, __dir__ = lazy_names(__name__, _MODULES, globals())


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
