"""The CLI's failures file: one JSON line per document not stored, with its source, its reason and what a retry
needs (its text and metadata, or its file's path). It accumulates across runs: a run adds its failures and drops
the earlier ones of documents it stored, so `aleph-embed ingest FAILURES.jsonl` retries exactly those documents
(a line with `path` reads the file again, a line with `text` is the document itself)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Union

from .documents import PATH_FIELD, WRITTEN_BY, WRITTEN_BY_FIELD, DocumentId, ReadFailure, SourceDocument
from .identity import point_id
from .report import FailedDocument

Key = tuple[Union[str, DocumentId, None], ...]
Record = dict[str, Any]


class FailuresFile:
    """The failures file at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.earlier: dict[Key, Record] = {_record_key(record): record for record in _records(path)}
        self.seen: set[Key] = set()

    def watch(self, items: Iterable[SourceDocument | ReadFailure]) -> Iterator[SourceDocument | ReadFailure]:
        """`items` as they are, noting the documents that had failed earlier (when the run completes, those that
        do not fail again are stored)."""
        for item in items:
            if isinstance(item, SourceDocument) and self.earlier:
                self.note(item.id, None if item.id is not None else point_id(item), item.source)
            yield item

    def note(self, document_id: DocumentId | None, point: str | None, source: str | None) -> None:
        """A document of this run (its id, else its point id, and its source), for documents read elsewhere (e.g.
        by Ray's workers); see `watch`."""
        keys = [_key(document_id, point, source), ("source", source)]
        self.seen.update(key for key in keys if key in self.earlier)

    def write(self, failed: Iterable[FailedDocument], *, completed: bool) -> int:
        """Write this run's failures (unreadable items included) after the earlier ones still failing (all of them
        unless the run `completed`); remove the file when there are none. Returns the number of lines."""
        current = [_record(item) for item in failed]
        replaced = {_record_key(record) for record in current} | (self.seen if completed else set())
        records = [record for key, record in self.earlier.items() if key not in replaced] + current
        if not records:
            self.path.unlink(missing_ok=True)
            return 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        with temporary.open("w", encoding="utf-8") as stream:
            for record in records:  # ASCII JSON: a lone surrogate in a text is written escaped, read back as it was
                stream.write(json.dumps(record, default=str) + "\n")
        os.replace(temporary, self.path)
        return len(records)


def _record(item: FailedDocument) -> Record:
    """A failure's line: what a retry needs, the file's path (read again, marked as ours) or the document's text and
    metadata."""
    record: Record = {"id": item.id, "source": item.source, "reason": item.reason}
    if item.document is not None and item.id is None:
        record["point_id"] = item.point_id
    if item.path is not None:
        record.update({PATH_FIELD: item.path, WRITTEN_BY_FIELD: WRITTEN_BY})
    elif item.document is not None:
        record.update(text=item.document.text, metadata=item.document.metadata)
    return record


def _records(path: Path) -> Iterator[Record]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("source"), str):
            yield record


def _record_key(record: Record) -> Key:
    return _key(record.get("id"), record.get("point_id"), record["source"])


def _key(document_id: DocumentId | None, point: str | None, source: str | None) -> Key:
    """A document's identity in the file: its id (type kept), else its point id, else where it was read."""
    if document_id is not None:
        return ("id", type(document_id).__name__, document_id)
    if point is not None:
        return ("point", point)
    return ("source", source or "")
