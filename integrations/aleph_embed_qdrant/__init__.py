"""Ingest documents into Qdrant through Aleph Alpha's `/embed` (extra `aleph-embed[qdrant]`)."""

from .collection import CollectionMismatchError, CollectionOptions, VectorSpec
from .documents import SourceDocument, read_paths
from .ingest import FailedDocument, IngestReport, QdrantIngestor, point_id
from .layout import HASH_KEY, LAYOUTS, Layout, payload_text

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
