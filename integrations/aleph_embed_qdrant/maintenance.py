"""Keeping a collection in step with its sources: the points of documents (every chunk of each), found by document
id or by the file they were read from, deleted; the collections of a Qdrant with their recorded settings and counts.

A file document is one whose id is a string equal to the `source` of its metadata (what `FileReader` stores), so
JSONL documents are never taken for files."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models

from ._calls import qdrant_call
from .collection import RecordedSettings, require_collection
from aleph_embed.ingest.documents import DocumentId, FileReader
from .layout import ID_KEY, metadata_fields

PAGE = 1_000
"""Points per scroll page and document ids per delete."""
_SOURCE_KEYS = metadata_fields("source")
_CHUNK_INDEX_KEYS = metadata_fields("chunk_index")


@dataclass(frozen=True)
class CollectionSummary:
    """A collection: its points, its documents (a chunked document has several points) and what its ingest
    recorded (None when no ingest did)."""

    name: str
    points: int
    documents: int
    settings: RecordedSettings | None


def file_documents(qdrant: QdrantClient, collection: str, selected: Callable[[str], bool]) -> Counter[str]:
    """The points of each file document whose id `selected` accepts, by document id."""
    found: Counter[str] = Counter()
    offset: models.ExtendedPointId | None = None
    while True:
        records, offset = qdrant_call(lambda: qdrant.scroll(
            collection, limit=PAGE, offset=offset, with_payload=[ID_KEY, *_SOURCE_KEYS], with_vectors=False,
        ))
        for record in records:
            payload = record.payload or {}
            document_id = payload.get(ID_KEY)
            if isinstance(document_id, str) and document_id in _sources(payload) and selected(document_id):
                found[document_id] += 1
        if offset is None:
            return found


def points_of(qdrant: QdrantClient, collection: str, ids: Sequence[DocumentId]) -> int:
    """How many points the documents with these ids have."""
    return sum(
        qdrant_call(lambda: qdrant.count(collection, count_filter=_ids_filter(batch), exact=True)).count
        for batch in _pages(ids)
    )


def delete_documents(qdrant: QdrantClient, collection: str, ids: Sequence[DocumentId]) -> None:
    """Delete every point (every chunk) of the documents with these ids."""
    for batch in _pages(ids):
        selector = models.FilterSelector(filter=_ids_filter(batch))
        qdrant_call(lambda: qdrant.delete(collection, points_selector=selector, wait=True))


def under(reader: FileReader, paths: Iterable[str | Path]) -> Callable[[str], bool]:
    """Whether a file document id lies under one of `paths` (folders or files, as `reader` gives them ids)."""
    prefixes = [reader.file_id(Path(path)) for path in paths]

    def selected(document_id: str) -> bool:
        return any(
            document_id == prefix or document_id.startswith(prefix.rstrip("/") + "/")
            or (prefix == "." and not os.path.isabs(document_id))
            for prefix in prefixes
        )

    return selected


def summaries(qdrant: QdrantClient) -> list[CollectionSummary]:
    """Every collection, by name."""
    names = sorted(c.name for c in qdrant_call(qdrant.get_collections).collections)
    return [summary(qdrant, name) for name in names]


def summary(qdrant: QdrantClient, collection: str) -> CollectionSummary:
    first_points = models.Filter(should=[
        *(models.FieldCondition(key=key, match=models.MatchValue(value=0)) for key in _CHUNK_INDEX_KEYS),
        models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key=key)) for key in _CHUNK_INDEX_KEYS]),
    ])
    return CollectionSummary(
        name=collection,
        points=qdrant_call(lambda: qdrant.count(collection, exact=True)).count,
        documents=qdrant_call(lambda: qdrant.count(collection, count_filter=first_points, exact=True)).count,
        settings=RecordedSettings.of(qdrant_call(lambda: qdrant.get_collection(collection))),
    )


def describe(settings: RecordedSettings | None) -> str:
    """One line: model, host kind, each vector's layer/pooling/normalisation, BM25, layout, chunking, the recorded
    search mode."""
    if settings is None:
        return "no recorded settings (not written by aleph-embed ingest)"
    vectors = ", ".join(
        f"{name or 'vector'}: layer {v.layer} {v.pooling}{' normalized' if v.normalize else ''}"
        for name, v in settings.vectors.items()
    )
    chunking = "whole documents" if settings.chunking is None else \
        f"chunks of {settings.chunking.max_tokens} tokens (overlap {settings.chunking.overlap})"
    sparse = "".join(f"; {name}: BM25 {v.language} k {v.k:g} b {v.b:g} avg_len {v.avg_len:g}"
                     for name, v in (settings.sparse or {}).items())
    search = f"; searched {settings.search['mode']}" if settings.search else ""
    return (f"model {settings.model} ({settings.host_kind} host); {vectors}{sparse}; layout {settings.layout}; "
            f"{chunking}{search}")


def _sources(payload: dict[str, Any]) -> list[object]:
    metadata = payload.get("metadata")
    return [payload.get("source"), metadata.get("source") if isinstance(metadata, dict) else None]


def _ids_filter(ids: Sequence[DocumentId]) -> models.Filter:
    texts = [i for i in ids if isinstance(i, str)]
    numbers = [i for i in ids if isinstance(i, int)]
    return models.Filter(should=[
        models.FieldCondition(key=ID_KEY, match=models.MatchAny(any=values))
        for values in (texts, numbers) if values
    ])


def _pages(ids: Sequence[DocumentId]) -> Iterable[Sequence[DocumentId]]:
    return (ids[start:start + PAGE] for start in range(0, len(ids), PAGE))
