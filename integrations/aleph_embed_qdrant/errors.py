"""The Qdrant integration's errors: a collection that does not fit, Qdrant failing, and an ingest that stopped.

An ingest that must stop (Qdrant gone past the deadline, Ctrl-C, a configuration error) raises an `IngestStopped`
carrying the partial `IngestReport`: what was stored, skipped, failed and not reached, and the failures so far.
Re-running the same input resumes: stored documents are skipped without `/embed` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aleph_embed import AlephEmbedError, ConfigurationError

if TYPE_CHECKING:
    from aleph_embed.ingest.report import IngestReport


class CollectionMismatchError(ConfigurationError):
    """An existing collection does not fit this ingest (vectors, or recorded settings); the message says what to
    change (e.g. the same settings, another collection, or `recreate=True` / `--recreate`)."""


class QdrantError(AlephEmbedError):
    """Qdrant did not do what was asked."""


class QdrantUnavailableError(QdrantError):
    """Qdrant did not answer (or kept answering with transient failures) until the deadline."""


class QdrantRejectedError(QdrantError):
    """Qdrant refused the request (a 4xx, or the embedded store's validation); retrying the same request won't help."""


class IngestStopped(AlephEmbedError):
    """The ingest stopped before the end of its input. `report` is what it did until then; re-run to resume."""

    def __init__(self, reason: str, report: IngestReport) -> None:
        super().__init__(f"{reason}. Stopped: {report.summary()}; re-run to resume")
        self.reason = reason
        self.report = report


class IngestConfigurationError(IngestStopped, ConfigurationError):
    """The ingest stopped on a configuration error (token, model, collection settings): every further call would
    fail the same way. The CLI exits with code 2."""


class IngestInterrupted(IngestStopped):
    """The ingest was interrupted (Ctrl-C, or its task cancelled)."""
