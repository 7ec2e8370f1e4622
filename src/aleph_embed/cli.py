"""The `aleph-embed` command. Its subcommands come from the entry points of the group `aleph_embed.commands`
(see `aleph_embed.cli_support`); no command is imported here by name."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from ._version import __version__

COMMAND_GROUP = "aleph_embed.commands"
VERSION = f"aleph-embed {__version__}"


def usage_errors() -> tuple[type[Exception], ...]:
    """Errors that say the command was given something unusable: exit code 2, like argparse's own. (Imported when
    a command runs: `--version` loads neither pydantic nor httpx.)"""
    from pydantic import ValidationError

    from .errors import ConfigurationError, EmptyTextError

    return (ConfigurationError, EmptyTextError, ValidationError)


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import entry_points

    parser = argparse.ArgumentParser(prog="aleph-embed", description="Aleph Alpha embeddings for RAG.")
    parser.add_argument("--version", action="version", version=VERSION)
    from .cli_support import CommandParser

    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for entry_point in sorted(entry_points(group=COMMAND_GROUP), key=lambda entry: entry.name):
        entry_point.load()(commands)
    return parser


def describe(error: BaseException) -> str:
    """One line for a CLI user, in the CLI's terms (an auth failure first, however deep it sits)."""
    from pydantic import ValidationError

    from .cli_support import refused_token

    refused = refused_token(error)
    if refused is not None:
        return refused
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors())
    if isinstance(error, usage_errors()):
        return str(error)
    return f"{type(error).__name__}: {error}"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == ["--version"]:  # answered before the command groups load them and their imports
        print(VERSION)
        return 0
    args = build_parser().parse_args(arguments)
    from .cli_support import printable
    from .errors import AlephEmbedError

    main_thread = threading.current_thread() is threading.main_thread()
    # A `kill` or a stopping service ends a command as Ctrl-C does (its summary, its exit code 130).
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return int(args.run(args) or 0)
    except usage_errors() as error:
        print(f"aleph-embed: {printable(describe(error))}", file=sys.stderr)
        return 2
    except AlephEmbedError as error:
        print(f"aleph-embed: {printable(describe(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aleph-embed: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM as Ctrl-C: SIGINT's handler of the moment (asyncio's cancels the run's task) does the rest."""
    signal.raise_signal(signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
