"""A document's deterministic point ids: re-runs and retries address the same points, never doubling them."""

from __future__ import annotations

import json
import uuid

from .documents import SourceDocument

__all__ = ["POINT_ID_NAMESPACE", "chunk_point_id", "point_id"]

POINT_ID_NAMESPACE = uuid.UUID("5d8f3c1e-6a2b-5e4f-9c3d-2a1b0e9f8d7c")


def point_id(document: SourceDocument) -> str:
    """The document's deterministic point id (its first chunk's): a UUIDv5 of the id, its type kept (`1` and `"1"`
    differ), or, without an id, of the text and the metadata (same text, other metadata: another document)."""
    if isinstance(document.id, int):
        key = f"int:{document.id}"
    elif document.id is not None:
        key = f"id:{document.id}"
    elif document.metadata:
        key = f"text:{document.text}\nmetadata:{_canonical(document.metadata)}"
    else:
        key = f"text:{document.text}"
    return str(uuid.uuid5(POINT_ID_NAMESPACE, key))


def chunk_point_id(document_point_id: str, index: int) -> str:
    """The point id of chunk `index` of a document: the document's own for chunk 0, so a document stored whole and
    its single chunk are the same point."""
    return document_point_id if index == 0 else str(uuid.uuid5(POINT_ID_NAMESPACE, f"{document_point_id}#{index}"))


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
