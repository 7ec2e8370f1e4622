"""The core's own command: `aleph-embed embed`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .cli_support import add_embedding_arguments, embedding_endpoint, settings_from_args


def register(subparsers: Any) -> None:
    """Add `embed` to the `aleph-embed` command."""
    embed = subparsers.add_parser("embed", help="print the vector of one text")
    embed.add_argument("text")
    embed.add_argument("--json", action="store_true", help="print a JSON list")
    add_embedding_arguments(embed)
    embed.set_defaults(run=_embed_command)


def _embed_command(args: argparse.Namespace) -> int:
    from .client import EmbedClient  # when the command runs, not when the CLI starts

    with embedding_endpoint(args) as (host, token, model):
        settings = settings_from_args(args, model)
        with EmbedClient(host, token) as client:
            (vector,) = client.embed_texts([args.text], settings)
    print(json.dumps(vector) if args.json else " ".join(f"{value:.6f}" for value in vector))
    return 0
