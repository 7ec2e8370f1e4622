"""The `aleph-embed` command. Its subcommands come from the entry points of the group `aleph_embed.commands`
(see `aleph_embed.cli_support`); no command is imported here by name."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from pydantic import ValidationError

from ._version import __version__
from .cli_support import printable
from .errors import AlephEmbedError, ConfigurationError, EmptyTextError

COMMAND_GROUP = "aleph_embed.commands"
USAGE_ERRORS = (ConfigurationError, EmptyTextError, ValidationError)
"""Errors that say the command was given something unusable: exit code 2, like argparse's own."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aleph-embed", description="Aleph Alpha embeddings for RAG.")
    parser.add_argument("--version", action="version", version=f"aleph-embed {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry_point in sorted(entry_points(group=COMMAND_GROUP), key=lambda entry: entry.name):
        entry_point.load()(commands)
    return parser


def describe(error: BaseException) -> str:
    """One line for a CLI user."""
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())
    if isinstance(error, USAGE_ERRORS):
        return str(error)
    return f"{type(error).__name__}: {error}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except USAGE_ERRORS as error:
        print(f"aleph-embed: {printable(describe(error))}", file=sys.stderr)
        return 2
    except AlephEmbedError as error:
        print(f"aleph-embed: {printable(describe(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aleph-embed: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
