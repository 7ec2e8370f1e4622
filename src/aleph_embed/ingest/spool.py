"""The input read once, ahead, into a temporary file: items checked, each id's last occurrence known."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO

from aleph_embed import ConfigurationError
from aleph_embed.config import DEFAULT_MAX_DOCUMENT_CHARS
from aleph_embed.jsonl import MAX_JSON_DEPTH, too_deep

from .documents import ReadFailure, SourceDocument, to_source_document
from .identity import point_id
from .readers import over_the_cap
from .report import FailedDocument, IngestReport


@dataclass
class Pending:
    """A document of the input: where it stands in the run."""

    position: int
    document: SourceDocument
    point_id: str
    content_hash: str
    stored_chunks: int = 0  # points of its stored version (surplus ones are deleted)
    remaining: int = 0  # its points not yet written
    failed: bool = False
    settled: bool = False

    @property
    def source(self) -> str:
        return self.document.source or f"item {self.position}"


class Spool:
    """The input read once, ahead: items checked and written to a temporary file, the position of each id's last
    occurrence kept, so that the run stores the last one (deterministic) with memory bounded by the ids. Unusable
    items are failed documents of `report`."""

    def __init__(
        self, report: IngestReport, content_hash: Callable[[SourceDocument], str], *, id_field: str = "id",
        text_field: str = "text", max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
    ) -> None:
        self.report = report
        self.max_chars = max_chars
        self.content_hash = content_hash
        self.id_field = id_field
        self.text_field = text_field
        self.file: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")
        self.last: dict[str, int] = {}

    async def fill(self, documents: Iterable[object]) -> None:
        for position, item in enumerate(documents):
            self.report.documents += 1
            pending = self._check(position, item)
            if pending is not None:
                self.last[pending.point_id] = position
                document = pending.document
                record = [position, document.id, document.text, dict(document.metadata), document.source,
                          pending.point_id, pending.content_hash, document.path]
                self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
            if position % 256 == 255:
                await asyncio.sleep(0)  # let a Ctrl-C through
        self.file.seek(0)

    def _check(self, position: int, item: object) -> Pending | None:
        if isinstance(item, ReadFailure):
            self.report.failed.append(FailedDocument(item.id, None, item.reason, item.source, path=item.path))
            return None
        document = None
        try:
            document = to_source_document(item, id_field=self.id_field, text_field=self.text_field)
            if not isinstance(document.metadata, Mapping):
                raise ValueError(f"metadata must be a JSON object, not {type(document.metadata).__name__}")
            if len(document.text) > self.max_chars:
                raise ValueError(over_the_cap(self.max_chars))
            if too_deep(document.metadata):
                raise ValueError(f"metadata nested deeper than {MAX_JSON_DEPTH} levels")
            json.dumps([document.text, document.metadata, document.id], ensure_ascii=False, allow_nan=False).encode()
            return Pending(position, document, point_id(document), self.content_hash(document))
        except (ConfigurationError, TypeError, ValueError) as error:  # UnicodeEncodeError: a lone surrogate
            source = (document.source if document else None) or f"item {position}"
            reason = f"unusable document: {type(error).__name__}: {error}"
            self.report.failed.append(FailedDocument(document.id if document else None, None, reason, source, document,
                                                     document.path if document else None))
            return None

    def entries(self) -> Iterator[Pending]:
        """The documents to store, in input order; earlier occurrences of an id are counted as duplicates."""
        for line in self.file:
            position, id_, text, metadata, source, point, content_hash, path = json.loads(line)
            if self.last[point] != position:
                self.report.duplicates += 1
                continue
            # The id and hash of the document as given: metadata back from JSON may differ (integer keys are strings).
            yield Pending(position, SourceDocument(text, id_, metadata, source, path), point, content_hash)

    def close(self) -> None:
        self.file.close()
