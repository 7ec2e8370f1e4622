"""The Qdrant integration's errors: Qdrant failing. The ingest's own (a collection that does not fit, a run that
stopped) live in `aleph_embed.ingest.errors` and are re-exported here."""

from __future__ import annotations

from aleph_embed import AlephEmbedError
from aleph_embed.ingest.errors import (
    CollectionMismatchError,
    IngestConfigurationError,
    IngestInterrupted,
    IngestStopped,
    StoreRejectedError,
)

__all__ = [
    "CollectionMismatchError",
    "IngestConfigurationError",
    "IngestInterrupted",
    "IngestStopped",
    "QdrantError",
    "QdrantRejectedError",
    "QdrantUnavailableError",
]


class QdrantError(AlephEmbedError):
    """Qdrant did not do what was asked."""


class QdrantUnavailableError(QdrantError):
    """Qdrant did not answer (or kept answering with transient failures) until the deadline."""


class QdrantRejectedError(QdrantError, StoreRejectedError):
    """Qdrant refused the request (a 4xx, or the embedded store's validation); retrying the same request won't help."""
