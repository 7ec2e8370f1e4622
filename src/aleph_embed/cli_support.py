"""What every `aleph-embed` command shares, for the core's commands and the integrations' alike.

A leaf module: commands import it, it imports no command. A command group is a function `register(subparsers)`
named by an entry point of the group `aleph_embed.commands` (see `aleph_embed.cli`); it adds its subcommands, each
with `set_defaults(run=function)`, where `function(args) -> int` is the exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

from ._config import ENV_HOST, ENV_MODEL, ENV_TOKEN
from .errors import AuthenticationError, BatchEmbedError, MissingExtraError

if TYPE_CHECKING:
    from .texts import EmbeddingSettings

Command = Callable[[argparse.Namespace], int]
CLI_DEFAULTS: dict[str, Any] = {"endpoint": "auto"}
"""The commands' defaults where they differ from `EmbeddingOptions`': each model through the endpoint it is meant
for (read from the host's /model-settings; the ingest records the endpoint chosen on its collection)."""


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: arguments whose making is costly (`defer`) are added when the subcommand is chosen or
    its help shown, so that `aleph-embed --help` imports none of what they need."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deferred: list[Callable[[argparse.ArgumentParser], None]] = []

    def defer(self, add: Callable[[argparse.ArgumentParser], None]) -> None:
        self._deferred.append(add)

    def complete(self) -> None:
        while self._deferred:
            self._deferred.pop(0)(self)

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        self.complete()
        return super().parse_known_args(*args, **kwargs)

    def format_help(self) -> str:
        self.complete()
        return super().format_help()

    def format_usage(self) -> str:
        self.complete()
        return super().format_usage()


def needs_extra(extra: str, *modules: str) -> Callable[[Command], Command]:
    """Decorate a command so that it checks its extra before it runs."""

    def decorate(command: Command) -> Command:
        def run(args: argparse.Namespace) -> int:
            MissingExtraError.check(f"aleph-embed {args.command}", extra, *modules)
            return command(args)

        run.__doc__ = command.__doc__
        return run

    return decorate


def add_embedding_arguments(parser: argparse.ArgumentParser) -> None:
    """Where `/embed` is (`--host`, `--token`, `--model`) and one flag per `EmbeddingOptions` field (on a
    `CommandParser`, once its command is chosen: they import pydantic's models)."""
    if isinstance(parser, CommandParser):
        parser.defer(_add_embedding_arguments)
    else:
        _add_embedding_arguments(parser)


def _add_embedding_arguments(parser: argparse.ArgumentParser) -> None:
    from .texts import EmbeddingOptions

    group = parser.add_argument_group("embedding")
    group.add_argument("--host", help=f"base URL of the API (default: {ENV_HOST}, else a local server started for you)")
    group.add_argument("--token", help=f"API token (default: {ENV_TOKEN})")
    group.add_argument("--model", help=f"model name (default: {ENV_MODEL}, else the local server's model)")
    for name, info in EmbeddingOptions.model_fields.items():
        group.add_argument(option_flag(name), dest=name, default=None, help=_help(name, info), **_argument_kind(info.annotation))


def option_flag(name: str) -> str:
    """The CLI flag of an `EmbeddingOptions` field."""
    return "--" + name.replace("_", "-")


def _help(name: str, info: Any) -> str:
    description = (info.description or "").replace("%", "%%")
    return f"{description} (default: {CLI_DEFAULTS.get(name, info.default)})"


def _argument_kind(annotation: Any) -> dict[str, Any]:
    """argparse's `type`/`choices`/`action` for a field's annotation (optional types unwrapped)."""
    if get_origin(annotation) in (Union, UnionType):
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        return {"choices": choices, "type": type(choices[0])}  # e.g. int for Literal[128]
    return {"type": annotation}


def options_table() -> str:
    """The README's table of the embedding options, made from their one declaration (`EmbeddingOptions`)."""
    from .texts import EmbeddingOptions

    rows = ["| option | CLI flag | default | what it does |", "|---|---|---|---|"]
    for name, info in EmbeddingOptions.model_fields.items():
        choices = _argument_kind(info.annotation).get("choices")
        values = f" One of {', '.join(f'`{choice}`' for choice in choices)}." if choices else ""
        rows.append(f"| `{name}` | `{option_flag(name)}` | `{info.default}` | {info.description}{values} |")
    return "\n".join(rows)


def given_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `EmbeddingOptions` the user gave on the command line."""
    from .texts import EmbeddingOptions

    return {name: getattr(args, name) for name in EmbeddingOptions.model_fields if getattr(args, name, None) is not None}


def settings_from_args(args: argparse.Namespace, model: str) -> EmbeddingSettings:
    """The one place CLI arguments become `EmbeddingSettings`: every option the user gave, the commands' defaults
    (`CLI_DEFAULTS`: endpoint `auto`) for the rest."""
    from .texts import EmbeddingSettings

    return EmbeddingSettings(model=model, **{**CLI_DEFAULTS, **given_options(args)})


@contextmanager
def embedding_endpoint(args: argparse.Namespace, model: str | None = None) -> Iterator[tuple[str, str | None, str]]:
    """`aleph_embed.local.embedding_endpoint` for `--host/--token/--model` (each else from the environment; the model
    else `model`, e.g. the one a collection records), with the shared local server when there is no host."""
    from . import local  # when a command runs, not when the CLI starts

    with local.embedding_endpoint(args.host, args.token, args.model or model, model_option="--model",
                                  shared=True) as endpoint:
        yield endpoint


class _OneLine(logging.Handler):
    """Each record as one `aleph-embed: SOURCE: message` line on the stderr of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        source = "warning" if record.name == "py.warnings" else record.name.split(".")[0]
        print(printable(f"aleph-embed: {source}: {record.getMessage()}"), file=sys.stderr)


def one_line_warnings() -> None:
    """Libraries' log records (warning and up) and Python warnings as one prefixed line each on stderr (pypdf's
    "EOF marker not found", ...), instead of their raw, multi-line form."""
    root = logging.getLogger()
    if not any(isinstance(handler, _OneLine) for handler in root.handlers):
        root.addHandler(_OneLine(logging.WARNING))
    warnings.formatwarning = lambda message, category, *_, **__: f"{category.__name__}: {message}"
    logging.captureWarnings(False)  # a capture started earlier may hold a stale `showwarning` (a test's recorder)
    logging.captureWarnings(True)
    captured = logging.getLogger("py.warnings")  # a library's logging set-up may have disabled or detached it
    captured.disabled, captured.propagate = False, True


def refused_token(error: BaseException | None) -> str | None:
    """The CLI's message when `error` is (or holds, or was caused by) the host refusing the token, else None."""
    while error is not None:
        if isinstance(error, BatchEmbedError):
            error = next((e for e in error.errors.values() if isinstance(e, AuthenticationError)), error)
        if isinstance(error, AuthenticationError):
            return f"the host refused the token ({error}): pass --token or set {ENV_TOKEN}"
        error = error.__cause__
    return None


def _escapes(keep: str) -> dict[int, str]:
    special = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    controls = [*range(0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                *range(0x2066, 0x206A), 0x2028, 0x2029]  # C0, DEL, C1, bidi marks and overrides, line separators
    return {code: special.get(chr(code), f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
            for code in controls if chr(code) not in keep}


_ONE_LINE, _LINES = _escapes(""), _escapes("\n")


def printable(text: object, *, lines: bool = False) -> str:
    """`text` safe to show on a terminal: every control character (C0, DEL, C1: escape sequences, OSC 8 links
    included), bidirectional override and line separator written visibly as `\\xNN` / `\\uNNNN` (`\\n`, `\\r`,
    `\\t`), so one field stays on its line; `lines`: newlines kept (a multi-line text of ours). The one place
    human-readable output makes untrusted strings (texts, headings, metadata, file names, error messages) harmless;
    `--json` output stays exact."""
    return str(text).translate(_LINES if lines else _ONE_LINE)
