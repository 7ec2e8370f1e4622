"""What can be ingested: strings, dicts, LangChain Documents, LlamaIndex nodes, and files on disk (streamed)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aleph_embed import ConfigurationError
from aleph_embed.jsonl import json_objects

TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class SourceDocument:
    """One document as the ingestor sees it. `id` None means: identify it by its text."""

    text: str
    id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def to_source_document(item: object, *, id_field: str = "id", text_field: str = "text") -> SourceDocument:
    """Normalise one input item; frameworks' objects are duck-typed, never imported."""
    if isinstance(item, SourceDocument):
        return item
    if isinstance(item, str):
        return SourceDocument(text=item)
    if isinstance(item, Mapping):
        if not isinstance(item.get(text_field), str):
            raise ConfigurationError(
                f"document {_describe(item, id_field)} has no string field {text_field!r}; "
                "pass text_field=... (CLI: --text-field) naming the field that holds the text"
            )
        return SourceDocument(text=item[text_field], id=_id(item.get(id_field)), metadata=item.get("metadata") or {})
    metadata = dict(getattr(item, "metadata", None) or {})
    if hasattr(item, "page_content"):  # langchain_core.documents.Document
        return SourceDocument(text=item.page_content, id=_id(getattr(item, "id", None)), metadata=metadata)
    if hasattr(item, "get_content") and hasattr(item, "node_id"):  # llama_index.core.schema.BaseNode
        return SourceDocument(text=item.get_content(), id=_id(item.node_id), metadata=metadata)
    raise ConfigurationError(
        f"cannot ingest a {type(item).__name__}: pass str, dict (id, text, metadata), "
        "a LangChain Document or a LlamaIndex node"
    )


def read_paths(paths: Iterable[str | Path], *, id_field: str = "id", text_field: str = "text") -> Iterator[SourceDocument]:
    """Stream documents from directories of .txt/.md files, .jsonl files, or `-` (JSONL on stdin)."""
    for path in paths:
        if str(path) == "-":
            yield from read_jsonl(sys.stdin, "<stdin>", id_field=id_field, text_field=text_field)
            continue
        path = Path(path)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES and p.is_file()):
                relative = file.relative_to(path).as_posix()
                yield SourceDocument(text=file.read_text(encoding="utf-8"), id=relative, metadata={"source": relative})
        elif path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as stream:
                yield from read_jsonl(stream, str(path), id_field=id_field, text_field=text_field)
        elif path.suffix in TEXT_SUFFIXES and path.is_file():
            yield SourceDocument(text=path.read_text(encoding="utf-8"), id=path.name, metadata={"source": path.name})
        else:
            raise ConfigurationError(f"{path}: expected a directory of .txt/.md files, a .jsonl file, or - for stdin")


def read_jsonl(stream: TextIO, name: str, *, id_field: str = "id", text_field: str = "text") -> Iterator[SourceDocument]:
    """One document per non-empty line of a JSONL stream."""
    for number, item in json_objects(stream, name):
        try:
            yield to_source_document(item, id_field=id_field, text_field=text_field)
        except ConfigurationError as error:
            raise ConfigurationError(f"{name}:{number}: {error}") from None


def _id(value: object) -> str | None:
    return None if value is None else str(value)


def _describe(item: Mapping[str, Any], id_field: str) -> str:
    return repr(item[id_field]) if id_field in item else f"with fields {sorted(item)[:5]}"
