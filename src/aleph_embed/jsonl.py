"""JSON Lines input: one object per non-empty line, errors naming the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

from .errors import ConfigurationError

MAX_JSON_DEPTH = 64
"""Objects and arrays nested deeper than this in a line (or a document's metadata) make it a failure: deeper ones
overflow Python's recursion while parsed or stored."""


def too_deep(value: object, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` nests mappings and lists more than `limit` levels deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (Mapping, list, tuple)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, Mapping) else item))
    return False


def parsed_lines(lines: Iterable[bytes | str]) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, object) for each non-empty line, or (line number, why it is not a JSON object or is nested
    deeper than `MAX_JSON_DEPTH`)."""
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
        except RecursionError:
            item = None
        if item is None or too_deep(item):
            yield number, f"nested deeper than {MAX_JSON_DEPTH} levels"
        else:
            yield number, item if isinstance(item, dict) else f"expected a JSON object, got {type(item).__name__}"


def json_objects(stream: TextIO, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; `ConfigurationError` naming `name:line` otherwise."""
    for number, item in parsed_lines(stream):
        if isinstance(item, str):
            raise ConfigurationError(f"{name}:{number}: {item}")
        yield number, item
