"""JSON Lines input: one object per non-empty line, errors naming the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from .errors import ConfigurationError


def json_objects(stream: TextIO, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; `ConfigurationError` naming `name:line` otherwise."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"{name}:{number}: not JSON ({error.msg})") from None
        if not isinstance(item, dict):
            raise ConfigurationError(f"{name}:{number}: expected a JSON object")
        yield number, item
