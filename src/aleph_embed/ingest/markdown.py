"""The Markdown that readers of structured formats write, so that the chunker keeps their structure: headings,
paragraphs, list items, and tables cut into blocks that each repeat the header row.

Text taken from a document is never read as Markdown structure by mistake: a line that Markdown would take for a
heading, a setext underline or a code fence is escaped with a backslash (`escaped`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_SYNTAX = re.compile(r" {0,3}(#|=+[ \t]*$|-+[ \t]*$|`{3}|~{3})")
TABLE_BLOCK_CHARS = 500
"""A table is written in blocks of rows of about this many characters, each headed by the header row: a block fits
a chunk of the default size, so every chunk of a sheet names its columns."""


def escaped(text: str) -> str:
    """`text` with each line that Markdown would read as structure escaped."""
    return "\n".join(f"\\{line}" if _SYNTAX.match(line) else line for line in text.split("\n"))


def heading(level: int, title: str) -> str:
    return f"{'#' * max(1, min(level, 6))} {' '.join(title.split())}"


def table_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(" ".join(cell.split()).replace("|", "\\|") for cell in cells) + " |"


def table_blocks(rows: Iterable[Sequence[str]], block_chars: int = TABLE_BLOCK_CHARS) -> Iterable[str]:
    """A table's rows (the first is the header) as Markdown blocks, rows whole, the header row atop each block."""
    header: str | None = None
    block: list[str] = []
    size = 0
    for cells in rows:
        row = table_row(cells)
        if header is None:
            header = row
            continue
        if block and size + len(row) > block_chars:
            yield "\n".join([header, *block])
            block, size = [], 0
        block.append(row)
        size += len(row) + 1
    if block or header is not None:
        yield "\n".join([header or "", *block])


def trimmed(cells: Sequence[object]) -> list[str]:
    """A row's cells as text, empty trailing cells dropped."""
    values = ["" if cell is None else str(cell) for cell in cells]
    while values and not values[-1].strip():
        values.pop()
    return values
