"""Store-agnostic ingestion: documents (str, dict, frameworks' documents, files) -> embeddings -> a vector store.

```python
from aleph_embed import EmbedClient, EmbeddingSettings
from aleph_embed.ingest import Ingestor, MemorySink

with EmbedClient() as client:  # AA_HOST, AA_TOKEN
    sink = MemorySink()
    report = Ingestor(embedder=client, settings=EmbeddingSettings(model="luminous-base"), sink=sink).ingest(texts)
    vectors = {point.id: point.vector for point in sink.points.values()}
```

`Ingestor` (engine) reads, identifies (`point_id`), skips unchanged documents, chunks and embeds, and writes through a
`VectorSink` (`sink`): `MemorySink` here, `aleph_embed_qdrant.QdrantSink` for Qdrant. Documents and files are read by
`documents` and `readers`; `failures` keeps the CLI's failures file, `progress` draws its progress. Imports no vector
store's client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aleph_embed.lazy import lazy_names

if TYPE_CHECKING:
    from .documents import ReadFailure, SourceDocument, read_paths
    from .engine import Ingestor
    from .errors import (
        CollectionMismatchError,
        IngestConfigurationError,
        IngestInterrupted,
        IngestStopped,
        StoreRejectedError,
    )
    from .identity import chunk_point_id, point_id
    from .memory import MemorySink
    from .report import FailedDocument, IngestProgressCallback, IngestReport
    from .sink import Point, SparseVector, StoredPoint, VectorSink
    from .vectors import VectorSpec

_MODULES = {
    ".documents": ("ReadFailure", "SourceDocument", "read_paths"),
    ".engine": ("Ingestor",),
    ".errors": ("CollectionMismatchError", "IngestConfigurationError", "IngestInterrupted", "IngestStopped",
               "StoreRejectedError"),
    ".identity": ("chunk_point_id", "point_id"),
    ".memory": ("MemorySink",),
    ".report": ("FailedDocument", "IngestProgressCallback", "IngestReport"),
    ".sink": ("Point", "SparseVector", "StoredPoint", "VectorSink"),
    ".vectors": ("VectorSpec",),
}
"""The module of each public name: imported on first use, so that a reader of `documents` (the CLI) does not load
the engine."""


__getattr__, __dir__ = lazy_names(__name__, _MODULES, globals())


__all__ = [
    "CollectionMismatchError",
    "FailedDocument",
    "IngestConfigurationError",
    "IngestInterrupted",
    "IngestProgressCallback",
    "IngestReport",
    "IngestStopped",
    "Ingestor",
    "MemorySink",
    "Point",
    "ReadFailure",
    "SourceDocument",
    "SparseVector",
    "StoredPoint",
    "StoreRejectedError",
    "VectorSink",
    "VectorSpec",
    "chunk_point_id",
    "point_id",
    "read_paths",
]
