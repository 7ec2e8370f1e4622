"""OpenDocument (.odt text, .odp presentation, .ods spreadsheet) as Markdown, read with the standard library's XML
parser from the archive's `content.xml` (odfpy, the one library for all three, chokes on documents pandoc writes,
prints whole style sheets to stdout, and builds a DOM of everything).

Text: headings (`text:h` with its outline level) as headings, paragraphs, list items, tables. Presentation: a
section per slide headed by its title frame (else its name), then its other frames and its speaker notes.
Spreadsheet: a section per sheet, rows whole in blocks that repeat the header row (as for Excel).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

from aleph_embed.config import DEFAULT_MAX_DOCUMENT_CHARS

from .limits import TextBudget, UnreadableFile, checked_zip
from .markdown import escaped, heading, table_blocks, trimmed

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
}
_KINDS = {".odt": "OpenDocument text", ".odp": "OpenDocument presentation", ".ods": "OpenDocument spreadsheet"}
_MAX_REPEAT = 1000
"""A repeated cell or row (`number-columns-repeated`) counts at most this many times: a sheet's empty tail is
often written as one cell repeated 16,000 times."""


def _tag(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def read_opendocument(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """An .odt, .odp or .ods file as Markdown."""
    kind = _KINDS.get(path.suffix.lower(), "OpenDocument file")
    with checked_zip(path, kind) as archive:
        try:
            root = ElementTree.fromstring(archive.read("content.xml"))
        except KeyError:
            raise UnreadableFile(f"not a readable {kind}: no content.xml") from None
        except (ElementTree.ParseError, OSError, EOFError) as error:
            raise UnreadableFile(f"not a readable {kind} ({error})") from None
    body = root.find("office:body", _NS)
    if body is None:
        raise UnreadableFile(f"not a readable {kind}: no document body")
    budget = TextBudget(max_chars)
    blocks = [budget.take(block) for block in _body_blocks(body)]
    return "\n\n".join(blocks) + "\n"


def _body_blocks(body: ElementTree.Element) -> Iterator[str]:
    for part in body:
        if part.tag == _tag("office:presentation"):
            for number, page in enumerate(part.iter(_tag("draw:page")), 1):
                yield _slide(page, number)
        elif part.tag == _tag("office:spreadsheet"):
            for table in part.iter(_tag("table:table")):
                yield from _sheet(table)
        else:
            yield from _flow(part)


def _flow(element: ElementTree.Element) -> Iterator[str]:
    """Headings, paragraphs, list items and tables of a text, in order."""
    for child in element:
        if child.tag == _tag("text:h"):
            level = int(child.get(_tag("text:outline-level"), "1") or 1)
            if title := _text(child).strip():
                yield heading(level, title)
        elif child.tag == _tag("text:p"):
            if text := _text(child).strip():
                yield escaped(text)
        elif child.tag == _tag("text:list"):
            for item in child.iter(_tag("text:list-item")):
                texts = [_text(p).strip() for p in item if p.tag in (_tag("text:p"), _tag("text:h"))]
                if text := " ".join(t for t in texts if t):
                    yield "- " + escaped(text)
        elif child.tag == _tag("table:table"):
            yield from table_blocks(_rows(child))
        elif child.tag in (_tag("text:section"), _tag("office:text"), _tag("text:soft-page-break")):
            yield from _flow(child)


def _slide(page: ElementTree.Element, number: int) -> str:
    title = ""
    parts: list[str] = []
    for frame in page.findall("draw:frame", _NS):
        text = "\n".join(_text(p).strip() for p in frame.iter(_tag("text:p")) if _text(p).strip())
        if not text:
            continue
        if not title and frame.get(_tag("presentation:class")) == "title":
            title = text
        else:
            parts.append(escaped(text))
    notes = page.find("presentation:notes", _NS)
    if notes is not None:
        text = " ".join(_text(p).strip() for p in notes.iter(_tag("text:p")) if _text(p).strip())
        if text:
            parts.append("Notes: " + escaped(text))
    name = title or page.get(_tag("draw:name")) or f"Slide {number}"
    return "\n\n".join([heading(1, name), *parts])


def _sheet(table: ElementTree.Element) -> Iterator[str]:
    blocks = list(table_blocks(_rows(table)))
    if blocks:
        yield "\n\n".join([heading(1, table.get(_tag("table:name")) or "Sheet"), *blocks])


def _rows(table: ElementTree.Element) -> Iterator[list[str]]:
    for row in table.iter(_tag("table:table-row")):
        cells: list[str] = []
        for cell in row:
            if cell.tag not in (_tag("table:table-cell"), _tag("table:covered-table-cell")):
                continue
            text = " ".join(_text(p).strip() for p in cell.findall("text:p", _NS))
            repeat = min(int(cell.get(_tag("table:number-columns-repeated"), "1") or 1), _MAX_REPEAT)
            cells.extend([text] * (repeat if text else min(repeat, 1)))
        if values := trimmed(cells):
            repeat = min(int(row.get(_tag("table:number-rows-repeated"), "1") or 1), _MAX_REPEAT)
            yield from [values] * repeat


def _text(element: ElementTree.Element) -> str:
    """An element's text with OpenDocument's spaces (`text:s`), tabs and line breaks."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == _tag("text:s"):
            parts.append(" " * min(int(child.get(_tag("text:c"), "1") or 1), 100))
        elif child.tag == _tag("text:tab"):
            parts.append("\t")
        elif child.tag == _tag("text:line-break"):
            parts.append("\n")
        elif child.tag != _tag("office:annotation"):
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
