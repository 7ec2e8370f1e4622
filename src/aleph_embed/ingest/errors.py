"""The ingest's errors: a store that does not fit or refuses points, and a run that stopped.

An ingest that must stop (the store gone past its deadline, Ctrl-C, a configuration error) raises an `IngestStopped`
carrying the partial `IngestReport`: what was stored, skipped, failed and not reached, and the failures so far.
Re-running the same input resumes: stored documents are skipped without `/embed` calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aleph_embed import AlephEmbedError, ConfigurationError

if TYPE_CHECKING:
    from .report import IngestReport


class CollectionMismatchError(ConfigurationError):
    """An existing collection does not fit this ingest (vectors, or recorded settings); the message says what to
    change (e.g. the same settings, another collection, or `recreate=True` / `--recreate`)."""


class StoreRejectedError(AlephEmbedError):
    """The vector store refused the request; retrying the same request won't help (a sink's `write` raises it for
    points it refuses: the ingest then sends them one by one, so that only the refused points' documents fail)."""


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
