"""`aleph-embed collections` and `aleph-embed delete`: what a Qdrant holds, and taking documents out of it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aleph_embed import ConfigurationError
from aleph_embed.cli_support import needs_extra, printable

from aleph_embed.ingest.documents import DocumentId, FileReader

from .cli_qdrant import _add_qdrant_arguments, _qdrant, add_store_arguments


def add_store_commands(subparsers: Any) -> None:
    """Add `collections` and `delete` to the `aleph-embed` command."""

    listing = subparsers.add_parser(
        "collections", help="list the collections with their recorded settings and counts",
        description="Every collection of the Qdrant: its documents and points (a chunked document has several) and "
        "the settings its ingest recorded (model, vectors, layout, chunking).",
    )
    add_store_arguments(listing.add_argument_group("qdrant"))
    listing.add_argument("--json", action="store_true", help="print one JSON object per collection")
    listing.set_defaults(run=_collections_command)

    delete = subparsers.add_parser(
        "delete", help="delete documents (every chunk of each) by id or by source file",
        description="Delete the points of documents: by document id, or by the file (or every file under the "
        "folder) they were read from. Exit code 1 when nothing matched.",
    )
    _add_qdrant_arguments(delete)
    which = delete.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", metavar="ID",
                       help="a document id (repeatable); an integer also matches the document with that integer id")
    which.add_argument("--source", action="append", dest="sources", type=Path, metavar="PATH",
                       help="a file or folder that was ingested (repeatable; ids relative to --root)")
    delete.add_argument("--root", type=Path, default=None,
                        help="the --root the files were ingested with (default: the folder the collection records, "
                        "else the current directory)")
    delete.set_defaults(run=_delete_command)


@needs_extra("qdrant", "qdrant_client")
def _collections_command(args: argparse.Namespace) -> int:
    from .maintenance import describe, summaries

    with _qdrant(args) as qdrant:
        found = summaries(qdrant)
    for item in found:
        if args.json:
            settings = item.settings.model_dump(mode="json") if item.settings else None
            print(json.dumps({"name": item.name, "documents": item.documents, "points": item.points,
                              "settings": settings}, ensure_ascii=False))
        else:
            print(printable(f"{item.name}: {item.documents} documents, {item.points} points; {describe(item.settings)}"))
    if not found and not args.json:
        print("aleph-embed: no collections here", file=sys.stderr)
    return 0


@needs_extra("qdrant", "qdrant_client")
def _delete_command(args: argparse.Namespace) -> int:
    from .collection import files_root, require_collection
    from .maintenance import delete_documents, file_documents, points_of, under

    with _qdrant(args) as qdrant:
        require_collection(qdrant, args.collection)
        if args.ids:
            ids = [typed for value in args.ids for typed in _typed_ids(value)]
            points = points_of(qdrant, args.collection, ids)
            what = f"id {', '.join(args.ids)}"
        else:
            reader = FileReader(files_root(qdrant, args.collection, args.root)[0])
            found = file_documents(qdrant, args.collection, under(reader, args.sources))
            ids, points = sorted(found), sum(found.values())
            what = f"source {', '.join(map(str, args.sources))}"
        if not points:
            print(f"aleph-embed: no documents with {what} in collection {args.collection!r}", file=sys.stderr)
            return 1
        delete_documents(qdrant, args.collection, ids)
    print(f"aleph-embed: deleted {points} points of the documents with {what} from {args.collection!r}")
    return 0


def _typed_ids(value: str) -> list[DocumentId]:
    if not value:
        raise ConfigurationError("--id: give a document id")
    return [value, int(value)] if value.lstrip("-").isdigit() else [value]
