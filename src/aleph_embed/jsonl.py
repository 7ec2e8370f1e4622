"""JSON Lines input: one object per non-empty line, errors naming the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from .errors import ConfigurationError


def parsed_lines(lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, object) for each non-empty line, or (line number, why it is not a JSON object)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
        except UnicodeDecodeError as error:
            yield number, f"not UTF-8 (byte 0x{error.object[error.start]:02x} at column {error.start + 1})"
            continue
        except json.JSONDecodeError as error:
            yield number, f"not JSON ({error.msg} at column {error.colno})"
            continue
        yield number, item if isinstance(item, dict) else f"expected a JSON object, got {type(item).__name__}"


def json_objects(stream: TextIO, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; `ConfigurationError` naming `name:line` otherwise."""
    for number, item in parsed_lines(stream):
        if isinstance(item, str):
            raise ConfigurationError(f"{name}:{number}: {item}")
        yield number, item
