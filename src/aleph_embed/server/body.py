"""Request bodies read as the real API (Rust serde) reads them: strict JSON, strict types, 400 for anything else."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import pydantic_core
from pydantic import BaseModel, ValidationError

from ..models import validate_strict
from .errors import ServerError

ModelT = TypeVar("ModelT", bound=BaseModel)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(body: bytes) -> Any:  # noqa: ANN401 - any JSON value
    """The JSON value of `body`; refuses bodies not in UTF-8 (no byte-order mark: `json.loads` would also take UTF-16
    and UTF-32, which the quick parse in `parse_body` does not read), duplicate keys, NaN/Infinity, numbers out of
    range and lone surrogates."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ServerError("invalid JSON: the body is not UTF-8") from None
    try:
        value = json.loads(
            text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite_float
        )
    except json.JSONDecodeError as error:
        raise ServerError(f"invalid JSON: {error}") from None
    except RecursionError:
        raise ServerError("invalid JSON: nested too deeply") from None
    except ValueError as error:  # the hooks' refusals, integers of too many digits
        raise ServerError(f"invalid JSON: {error}") from None
    if _SURROGATE_ESCAPE.search(body):  # a pair is fine, a lone surrogate is no Unicode character
        try:
            pydantic_core.from_json(body)
        except ValueError as error:
            raise ServerError(f"invalid JSON: {error} (a lone surrogate is not a character)") from None
    return value


def parse_body(model: type[ModelT], body: bytes, check: Callable[[Any], None] | None = None) -> ModelT:
    """`body` as `model`, types strict as in the real API (raises ServerError). `check(parsed JSON)` runs first, on a
    quick parse in C (size limits that must hold before the strict parse and the validator spend time on the body:
    ten thousand controls take the strict parse three times as long)."""
    if check is not None:
        try:
            rough = pydantic_core.from_json(body)
        except ValueError:
            pass  # not JSON: the strict parse says why
        else:
            check(rough)
    value = parse_json(body)
    try:
        return validate_strict(model, value)
    except ValidationError as error:
        raise ServerError(validation_message(error.errors())) from None


def validation_message(errors: Any) -> str:  # noqa: ANN401 - pydantic's or FastAPI's error list
    """One line per problem: where in the request, and what is wrong."""
    lines = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body") or "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines) or "invalid request"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        repeated = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(f"duplicate key {repeated!r}")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:40]} is out of range")
    return number
