"""The `aleph-embed` command: serve, embed, ingest, search."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import POOLINGS
from .client import EmbedClient
from .errors import AlephEmbedError
from .texts import EmbeddingSettings


def add_embedding_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that embeds shares: where /embed is and what to ask of it."""
    group = parser.add_argument_group("embedding")
    group.add_argument("--host", help="base URL of /embed (default: AA_HOST, else a local server started for you)")
    group.add_argument("--token", help="API token (default: AA_TOKEN)")
    group.add_argument("--model", help="model name (default: the local server's model)")
    group.add_argument("--layer", type=int, default=-1, help="layer index, negative from the end (default: -1)")
    group.add_argument("--pooling", choices=POOLINGS, default="mean", help="pooling (default: mean)")
    group.add_argument("--normalize", dest="normalize", action="store_true", default=True, help="L2-normalise (default)")
    group.add_argument("--no-normalize", dest="normalize", action="store_false", help="do not L2-normalise")
    group.add_argument("--hosting", choices=["aleph-alpha"], default=None, help="restrict processing to Aleph Alpha's datacenters")
    group.add_argument("--nice", action="store_true", help="let other requests go first")


def _embed_command(args: argparse.Namespace) -> int:
    from .local import embedding_endpoint

    with embedding_endpoint(args.host, args.token, args.model) as (host, token, model):
        settings = EmbeddingSettings(
            model=model, layer=args.layer, pooling=args.pooling, normalize=args.normalize,
            hosting=args.hosting, nice=args.nice,
        )
        with EmbedClient(host, token) as client:
            (vector,) = client.embed_texts([args.text], settings)
    print(json.dumps(vector) if args.json else " ".join(f"{value:.6f}" for value in vector))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aleph-embed", description="Aleph Alpha /embed for RAG.")
    commands = parser.add_subparsers(dest="command", required=True)

    embed = commands.add_parser("embed", help="print the vector of one text")
    embed.add_argument("text")
    embed.add_argument("--json", action="store_true", help="print a JSON list")
    add_embedding_arguments(embed)
    embed.set_defaults(run=_embed_command)

    try:
        from .server.cli import add_serve_command
    except ImportError:
        pass
    else:
        add_serve_command(commands)
    try:
        from aleph_embed_qdrant.cli import add_qdrant_commands
    except ImportError:
        pass
    else:
        add_qdrant_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except AlephEmbedError as error:
        print(f"aleph-embed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
