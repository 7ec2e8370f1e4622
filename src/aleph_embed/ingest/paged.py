"""Text with its pages: what a reader of a paged format (PDF) returns, and the pages a span of it covers.

The page starts travel in a document's metadata under `PAGE_STARTS_KEY` (character offsets, one per page, the first
0); a store turns them into each chunk's `page` (first page, 1-based) and `pages` (every page the chunk spans) and
does not store the offsets themselves.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PAGE_STARTS_KEY = "page_starts"


@dataclass(frozen=True)
class PagedText:
    """A document's text (Markdown) and where each of its pages starts in it."""

    text: str
    page_starts: tuple[int, ...]


def pages_of(page_starts: Sequence[int], start: int, end: int) -> list[int]:
    """The 1-based pages that `text[start:end]` touches (the page of `start` when the span is empty)."""
    first = max(bisect.bisect_right(page_starts, start), 1)
    last = max(bisect.bisect_left(page_starts, end), first)
    return list(range(first, last + 1))


def page_fields(metadata: Mapping[str, Any], start: int | None, end: int | None) -> dict[str, Any]:
    """`page` and `pages` of a span of a paged document (the whole document when `start` is None); empty when the
    metadata holds no page starts."""
    starts = metadata.get(PAGE_STARTS_KEY)
    if not isinstance(starts, list) or not starts:
        return {}
    pages = list(range(1, len(starts) + 1)) if start is None or end is None else pages_of(starts, start, end)
    return {"page": pages[0], "pages": pages}


def stored_metadata(metadata: Mapping[str, Any], start: int | None, end: int | None) -> dict[str, Any]:
    """A document's metadata as a sink stores it for a span (`None`: the whole document): its page starts replaced
    by the span's `page` and `pages`."""
    stored = {key: value for key, value in metadata.items() if key != PAGE_STARTS_KEY}
    stored.update(page_fields(metadata, start, end))
    return stored


def describe_pages(metadata: Mapping[str, Any]) -> str:
    """` p. 14` or ` pp. 14-15` for a point with pages, else empty."""
    pages = metadata.get("pages")
    if not isinstance(pages, list) or not pages:
        return ""
    return f" p. {pages[0]}" if len(pages) == 1 else f" pp. {pages[0]}-{pages[-1]}"
