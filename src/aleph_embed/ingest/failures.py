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
from .paged import PAGE_STARTS_KEY
from .report import FailedDocument

Key = tuple[Union[str, DocumentId, None], ...]
Record = dict[str, Any]


class FailuresFile:
    """The failures file at `path`; file documents' paths are resolved against `root` (the reader's)."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path = path
        self.root = root
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

    def write(self, failed: Iterable[FailedDocument], unreadable: Iterable[ReadFailure], *, completed: bool) -> int:
        """Write this run's failures after the earlier ones still failing (all of them unless the run `completed`);
        remove the file when there are none. Returns the number of lines."""
        current = [self._unreadable(item) for item in unreadable] + [self._failed(item) for item in failed]
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

    def _unreadable(self, item: ReadFailure) -> Record:
        record: Record = {"id": item.id, "source": item.source, "reason": item.reason}
        if item.path is not None:
            record.update({PATH_FIELD: item.path, WRITTEN_BY_FIELD: WRITTEN_BY})
        return record

    def _failed(self, item: FailedDocument) -> Record:
        record: Record = {"id": item.id, "source": item.source, "reason": item.reason}
        document = item.document
        if document is None:
            return record
        if item.id is None:
            record["point_id"] = item.point_id
        path = self._file_of(document)
        if path is not None:
            record.update({PATH_FIELD: path, WRITTEN_BY_FIELD: WRITTEN_BY})
        else:
            record.update(text=document.text, metadata=document.metadata)
        return record

    def _file_of(self, document: SourceDocument) -> str | None:
        """The path of a document read from a file (as `FileReader.read_file` makes them), None for others."""
        metadata = {key: value for key, value in document.metadata.items() if key != PAGE_STARTS_KEY}
        if not isinstance(document.id, str) or document.source != document.id or metadata != {"source": document.id}:
            return None
        earlier = self.earlier.get(_key(document.id, None, document.source), {}).get(PATH_FIELD)
        return str(earlier) if earlier else os.path.abspath(self.root / document.id)


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
