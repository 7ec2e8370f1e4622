"""The stages' plain Arrow columns: documents in, points (and each block's report) out.

Documents: `id` (string, null: identified by text and metadata), `id_type` (`int` when the id is an integer written
in decimal, else null), `text`, `metadata` (a JSON object as a string; a struct column is taken as it is), `source`
(where it was read, null for rows of a dataset), `reason` and `path` (set on a row that could not be read).

Points: `id` (the point id), `document` (its document's point id), `vector` (list<double>; null for named vectors),
`named` and `sparse` (JSON, null when none), `text` (what the vectors were made from), `payload` (JSON), and `report` (JSON, null on point rows): one row per
embedded block with what the engine did with its documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from aleph_embed.ingest import FailedDocument, IngestReport, Point, SourceDocument, SparseVector, point_id
from aleph_embed.ingest.documents import DocumentId, ReadFailure

DOCUMENT_SCHEMA = pa.schema([
    ("id", pa.string()), ("id_type", pa.string()), ("text", pa.string()), ("metadata", pa.string()),
    ("source", pa.string()), ("reason", pa.string()), ("path", pa.string()),
])
POINT_SCHEMA = pa.schema([
    ("id", pa.string()), ("document", pa.string()), ("vector", pa.list_(pa.float64())), ("named", pa.string()),
    ("sparse", pa.string()), ("text", pa.string()), ("payload", pa.string()), ("report", pa.string()),
])


def document_rows(items: Iterable[SourceDocument | ReadFailure]) -> pa.Table:
    """Documents (or read failures) as a table of `DOCUMENT_SCHEMA`."""
    rows = []
    for item in items:
        if isinstance(item, ReadFailure):
            rows.append({**_id_columns(item.id), "source": item.source, "reason": item.reason, "path": item.path})
        else:
            rows.append({**_id_columns(item.id), "text": item.text, "source": item.source,
                         "metadata": json.dumps(dict(item.metadata), ensure_ascii=False)})
    return pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)


def read_documents(table: pa.Table) -> list[SourceDocument | ReadFailure]:
    """The rows of a documents table (any table with `text`; `id`, `metadata` and the others optional)."""
    items: list[SourceDocument | ReadFailure] = []
    for index, row in enumerate(table.to_pylist()):
        document_id = _document_id(row.get("id"), row.get("id_type"))
        if row.get("reason") is not None:
            items.append(ReadFailure(row.get("source") or str(document_id), row["reason"], document_id, row.get("path")))
            continue
        metadata = row.get("metadata")
        if isinstance(metadata, str):
            try:
                metadata = json.loads(metadata)
            except ValueError:
                pass  # the engine reports metadata that is not a JSON object as this document's failure
        source = row.get("source") or (f"row {document_id}" if document_id is not None else f"row {index}")
        items.append(SourceDocument(text=row.get("text"), id=document_id, metadata=metadata or {}, source=source))
    return items


def point_rows(points: Iterable[tuple[Point, str]], report: IngestReport, unreadable: list[ReadFailure],
               usage: dict[str, int], seen: list[SourceDocument] | None = None) -> pa.Table:
    """A block's points (each with its document's point id), then one row with its report and the client's `usage`
    for it ({"requests": n, "retries": n}; with `seen`: the identities of these documents, for a failures file)."""
    rows: list[dict[str, Any]] = []
    for point, document in points:
        named = isinstance(point.vector, Mapping)
        rows.append({
            "id": point.id, "document": document, "vector": None if named else point.vector,
            "named": json.dumps(point.vector) if named else None,
            "sparse": json.dumps({name: [vector.indices, vector.values] for name, vector in point.sparse.items()})
            if point.sparse else None,
            "text": point.text,
            "payload": json.dumps(point.payload, ensure_ascii=False),
        })
    record = {**_report_record(report, unreadable), "usage": usage}
    if seen is not None:
        record["seen"] = [[item.id, None if item.id is not None else point_id(item), item.source] for item in seen]
    rows.append({"report": json.dumps(record, ensure_ascii=False, default=str)})
    return pa.Table.from_pylist(rows, schema=POINT_SCHEMA)


def read_points(table: pa.Table) -> tuple[list[tuple[Point, str]], list[dict[str, Any]]]:
    """A points table's points (each with its document's point id) and its blocks' reports."""
    points, reports = [], []
    for row in table.to_pylist():
        if row["report"] is not None:
            reports.append(json.loads(row["report"]))
            continue
        sparse = {name: SparseVector(*value) for name, value in json.loads(row["sparse"]).items()} if row["sparse"] else {}
        vector = json.loads(row["named"]) if row["named"] is not None else row["vector"]
        points.append((Point(id=row["id"], vector=vector, payload=json.loads(row["payload"]), sparse=sparse,
                             text=row["text"] or ""),
                       row["document"]))
    return points, reports


def _report_record(report: IngestReport, unreadable: list[ReadFailure]) -> dict[str, Any]:
    return {
        "documents": report.documents, "ingested": report.ingested, "skipped": report.skipped,
        "duplicates": report.duplicates, "points": report.points, "embed_calls": report.embed_calls,
        "failed": [_failure_record(item) for item in report.failed],
        "unreadable": [[item.source, item.reason, item.id, item.path] for item in unreadable],
    }


def _failure_record(item: FailedDocument) -> dict[str, Any]:
    document = item.document
    return {"id": item.id, "point_id": item.point_id, "reason": item.reason, "source": item.source,
            "document": None if document is None else [document.text, document.id, dict(document.metadata),
                                                       document.source]}


def failed_document(record: Mapping[str, Any]) -> FailedDocument:
    """A `FailedDocument` of a block's report."""
    document = record["document"]
    return FailedDocument(record["id"], record["point_id"], record["reason"], record["source"],
                          None if document is None else SourceDocument(*document))


def read_failure(record: list[Any]) -> ReadFailure:
    return ReadFailure(*record)


def _id_columns(document_id: DocumentId | None) -> dict[str, str | None]:
    if isinstance(document_id, int):
        return {"id": str(document_id), "id_type": "int"}
    return {"id": document_id, "id_type": None}


def _document_id(value: Any, id_type: str | None) -> DocumentId | None:
    if value is None or isinstance(value, int):
        return value
    return int(value) if id_type == "int" else str(value)
