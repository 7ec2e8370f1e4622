"""Store-agnostic ingestion: documents and files read (`documents`, `readers`), their point ids (`identity`), the
run's report (`report`), failures file (`failures`) and progress (`progress`), and the prompt batcher (`batching`).
Imports no vector store's client."""

from __future__ import annotations

from .documents import ReadFailure, SourceDocument, read_paths
from .identity import chunk_point_id, point_id
from .report import FailedDocument, IngestProgressCallback, IngestReport

__all__ = [
    "FailedDocument",
    "IngestProgressCallback",
    "IngestReport",
    "ReadFailure",
    "SourceDocument",
    "chunk_point_id",
    "point_id",
    "read_paths",
]
