"""What an ingest run did: its report, and the documents that failed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .documents import DocumentId, SourceDocument, plural

__all__ = ["FailedDocument", "IngestProgressCallback", "IngestReport"]


@dataclass(frozen=True)
class FailedDocument:
    """A document that is not (completely) in Qdrant after this run, and why. `source` says where it came from (a
    file, `file.jsonl:LINE`, or `item N` of the input); `document` is what was read, None when nothing could be;
    `path` the file it is (or was to be) read from, None for others."""

    id: DocumentId | None
    point_id: str | None
    reason: str
    source: str
    document: SourceDocument | None = None
    path: str | None = None


@dataclass
class IngestReport:
    """What a run did. Once it has finished, `documents` (items read) = `ingested` + `skipped` (unchanged) +
    `duplicates` (superseded by a later item with the same id) + `empty` (empty texts skipped, with
    `empty_text='skip'`) + len(`failed`); a run that stopped early also has
    `not_reached` documents. `points` counts the points stored (one per chunk), `embed_calls` the `/embed` calls
    made (an unchanged document costs none; the client's retries are not counted). `overloads` counts the answers
    that the server was full (503 `QUEUE_FULL`, 429: each retried), `lowest_concurrency` the fewest calls in flight
    the run went down to because of them (None: never lowered; see `aleph_embed.bulk.LoadWindow`)."""

    documents: int = 0
    ingested: int = 0
    skipped: int = 0
    duplicates: int = 0
    empty: int = 0
    failed: list[FailedDocument] = field(default_factory=list)
    points: int = 0
    embed_calls: int = 0
    overloads: int = 0
    lowest_concurrency: int | None = None
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        """Documents dealt with: ingested, skipped unchanged, duplicates, empty, failed."""
        return self.ingested + self.skipped + self.duplicates + self.empty + len(self.failed)

    @property
    def not_reached(self) -> int:
        return self.documents - self.done

    def summary(self) -> str:
        extra = "".join(
            f", {count} {label}" for count, label in ((self.duplicates, "duplicates"), (self.empty, "empty skipped"), (self.not_reached, "not reached"))
            if count
        )
        load = f"; the server was full {self.overloads} times" if self.overloads else ""
        if self.lowest_concurrency is not None:
            load += f", calls in flight went down to {self.lowest_concurrency}"
        return (
            f"{self.ingested} ingested, {self.skipped} skipped unchanged, {len(self.failed)} failed{extra} "
            f"of {plural(self.documents, 'document')} in {self.elapsed:.1f}s{load}"
        )


IngestProgressCallback = Callable[[IngestReport], None]
"""`on_progress(report)` of an ingest, called as documents are stored, skipped or failed."""
