"""`aleph-embed serve`: the command line of the local server. Heavy imports happen only when it runs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError
from .config import ServerConfig, add_server_arguments

INSTALL_HINT = "pip install 'aleph-embed[server]'"


def run_serve(args: argparse.Namespace) -> int:
    """Start the server in the foreground until interrupted."""
    # torch's OpenMP threads (pooling, even when ONNX Runtime runs the model) sleep between parallel regions instead
    # of spinning: spinning took the CPU from ONNX Runtime's threads (its fp32 server 1.7x faster without it, torch's
    # no slower). Read when torch loads, so set before its import; a value the user set stays.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from .app import serve
    except ImportError as error:
        raise ConfigurationError(
            f"the local server needs {error.name or 'its dependencies'}, which is not installed: {INSTALL_HINT}"
        ) from None
    serve(ServerConfig.from_args(args))
    return 0


def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `serve` to the `aleph-embed` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run a local /embed-compatible server",
        description=f"Serve /embed, /models_available and /health with real embeddings (needs {INSTALL_HINT}).",
    )
    add_server_arguments(parser)
    parser.set_defaults(run=run_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m aleph_embed.server`: the same as `aleph-embed serve`."""
    parser = argparse.ArgumentParser(prog="python -m aleph_embed.server", description="Run a local /embed server.")
    add_server_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_serve(args)
    except ConfigurationError as error:
        print(f"aleph-embed serve: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
