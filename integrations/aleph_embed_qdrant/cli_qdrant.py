"""The Qdrant options every command shares (`--collection`, `--qdrant-url` / `--qdrant-path`, gRPC) and the client
they open; `cli` and `cli_store` both build on it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aleph_embed.config import ENV_COLLECTION, resolve_collection

from .connect import ENV_QDRANT_URL, connect, default_store

if TYPE_CHECKING:  # qdrant-client loads when a command runs, not when the CLI starts
    from qdrant_client import QdrantClient


def _add_qdrant_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("qdrant")
    collection = resolve_collection(None)
    group.add_argument("--collection", default=collection, required=collection is None,
                       help=f"Qdrant collection name (default: {ENV_COLLECTION})")
    add_store_arguments(group)


def add_store_arguments(group: Any) -> None:
    """`--qdrant-url` or `--qdrant-path`, for `_qdrant`."""
    where = group.add_mutually_exclusive_group()
    where.add_argument("--qdrant-url", default=os.environ.get(ENV_QDRANT_URL),
                       help="Qdrant server URL (default: QDRANT_URL; API key from QDRANT_API_KEY)")
    where.add_argument("--qdrant-path", type=Path,
                       help=f"embedded local store directory (default: {_home(default_store())})")
    add_grpc_arguments(group)


def add_grpc_arguments(group: Any) -> None:
    """`--prefer-grpc` and `--grpc-port`, for `_qdrant` on a Qdrant server."""
    group.add_argument("--prefer-grpc", action="store_true",
                       help="talk to the Qdrant server over gRPC (faster upserts; its port: --grpc-port)")
    group.add_argument("--grpc-port", type=int, default=6334, help="the Qdrant server's gRPC port (default: 6334)")


def _home(path: Path) -> str:
    """`path` with the home directory as ~ (for help texts)."""
    home = os.path.expanduser("~")
    return "~" + str(path)[len(home):] if str(path).startswith(home + os.sep) else str(path)


@contextmanager
def _qdrant(args: argparse.Namespace) -> Iterator[QdrantClient]:
    if not args.qdrant_url and args.qdrant_path is None and not default_store().exists():
        print(f"aleph-embed: no --qdrant-url or --qdrant-path; creating the embedded store in {default_store()}",
              file=sys.stderr)
    client = connect(args.qdrant_url, args.qdrant_path, prefer_grpc=args.prefer_grpc, grpc_port=args.grpc_port)
    try:
        yield client
    finally:
        client.close()
