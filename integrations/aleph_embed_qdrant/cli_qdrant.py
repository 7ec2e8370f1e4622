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

from aleph_embed import ConfigurationError
from aleph_embed.config import ENV_COLLECTION, data_dir, resolve_collection

if TYPE_CHECKING:  # qdrant-client loads when a command runs, not when the CLI starts
    from qdrant_client import QdrantClient


def default_store() -> Path:
    """The embedded store of the CLI when no --qdrant-url/--qdrant-path is given: in the user data directory, the
    same whatever the current directory."""
    return data_dir() / "qdrant"


def _add_qdrant_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("qdrant")
    collection = resolve_collection(None)
    group.add_argument("--collection", default=collection, required=collection is None,
                       help=f"Qdrant collection name (default: {ENV_COLLECTION})")
    add_store_arguments(group)


def add_store_arguments(group: Any) -> None:
    """`--qdrant-url` or `--qdrant-path`, for `_qdrant`."""
    where = group.add_mutually_exclusive_group()
    where.add_argument("--qdrant-url", default=os.environ.get("QDRANT_URL"),
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
    from qdrant_client import QdrantClient

    if args.qdrant_url:
        client = QdrantClient(
            url=args.qdrant_url, api_key=os.environ.get("QDRANT_API_KEY"), check_compatibility=False,
            prefer_grpc=args.prefer_grpc, grpc_port=args.grpc_port,
        )
        try:
            client.get_collections()
        except Exception as error:  # qdrant-client raises transport and HTTP errors of several kinds
            client.close()
            raise ConfigurationError(
                f"cannot use Qdrant at {args.qdrant_url} ({error}); start it, fix --qdrant-url / QDRANT_API_KEY, "
                "or use the embedded store with --qdrant-path DIR"
            ) from None
    else:
        path = args.qdrant_path or default_store()
        if args.qdrant_path is None and not path.exists():
            print(f"aleph-embed: no --qdrant-url or --qdrant-path; creating the embedded store in {path}", file=sys.stderr)
        path.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(path))
        except RuntimeError as error:  # another process holds the store
            raise ConfigurationError(f"cannot open the embedded store in {path} ({error})") from None
    try:
        yield client
    finally:
        client.close()
