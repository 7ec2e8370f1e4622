"""Office Open XML: Word (.docx) through python-docx, PowerPoint (.pptx) through python-pptx, Excel (.xlsx, .xlsm)
through openpyxl (read-only, streamed row by row), each as Markdown.

Word: paragraphs and tables in document order, the `Title` paragraph and `Heading N` ones (one level under it) as
headings, list paragraphs as items.
PowerPoint: a section per slide headed by its title (`Slide N` without one), its shapes' text and tables, then its
speaker notes. Excel: a section per sheet (its name the heading), rows whole, in blocks that repeat the header row
(the sheet's first non-empty row); cell values as computed when last saved, never the formulas.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from aleph_embed.config import DEFAULT_MAX_DOCUMENT_CHARS

from .limits import TextBudget, UnreadableFile, checked_zip, library
from .markdown import escaped, heading, table_blocks, trimmed


def read_docx(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """A Word document as Markdown."""
    docx = library("docx", "python-docx")
    checked_zip(path, "Word document").close()
    document = _opened(lambda: docx.Document(str(path)), "Word document")
    budget = TextBudget(max_chars)
    blocks: list[str] = []
    titled = False
    for item in document.iter_inner_content():
        if isinstance(item, docx.table.Table):
            blocks.extend(table_blocks(_word_rows(item)))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = item.style.name if item.style is not None else ""
        if style == "Title":
            titled = True
            blocks.append(heading(1, text))
        elif style.startswith("Heading"):  # under the document's title when it has one
            level = int(style.rsplit(" ", 1)[-1]) if style[-1:].isdigit() else 1
            blocks.append(heading(level + titled, text))
        elif style.startswith("List") or item._p.pPr is not None and item._p.pPr.numPr is not None:
            blocks.append("- " + escaped(text))
        else:
            blocks.append(escaped(text))
        budget.take(blocks[-1])
    return "\n\n".join(blocks) + "\n"


def read_pptx(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """A presentation as Markdown: a section per slide, speaker notes included."""
    pptx = library("pptx", "python-pptx")
    checked_zip(path, "PowerPoint presentation").close()
    presentation = _opened(lambda: pptx.Presentation(str(path)), "PowerPoint presentation")
    budget = TextBudget(max_chars)
    sections = []
    for number, slide in enumerate(presentation.slides, 1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None and title_shape.has_text_frame else ""
        parts = [heading(1, title or f"Slide {number}")]
        title_id = title_shape.shape_id if title_shape is not None else None
        for shape in _shapes(slide.shapes):
            if shape.shape_id == title_id:
                continue
            if getattr(shape, "has_text_frame", False) and shape.text_frame.text.strip():
                parts.append(escaped(shape.text_frame.text.strip()))
            elif getattr(shape, "has_table", False):
                rows = ([cell.text for cell in row.cells] for row in shape.table.rows)
                parts.extend(table_blocks(rows))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                parts.append("Notes: " + escaped(notes))
        sections.append(budget.take("\n\n".join(parts)))
    return "\n\n".join(sections) + "\n"


def read_xlsx(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """A workbook as Markdown: a section per sheet, rows whole, the header row atop each block of rows."""
    openpyxl = library("openpyxl", "openpyxl")
    checked_zip(path, "Excel workbook").close()
    book = _opened(lambda: openpyxl.load_workbook(str(path), read_only=True, data_only=True), "Excel workbook")
    budget = TextBudget(max_chars)
    sections = []
    try:
        for sheet in book.worksheets:
            rows = (row for row in (trimmed(values) for values in sheet.iter_rows(values_only=True)) if row)
            blocks = [budget.take(block) for block in table_blocks(rows)]
            if blocks:
                sections.append("\n\n".join([heading(1, sheet.title), *blocks]))
    finally:
        book.close()
    return "\n\n".join(sections) + "\n"


def _opened(open_: Any, kind: str) -> Any:
    """What a library opened; its errors on a broken file (many kinds) as `UnreadableFile`."""
    try:
        return open_()
    except UnreadableFile:
        raise
    except Exception as error:
        raise UnreadableFile(f"not a readable {kind} ({type(error).__name__}: {error})") from None


def _word_rows(table: Any) -> Iterator[list[str]]:
    for row in table.rows:
        yield [cell.text for cell in row.cells]


def _shapes(shapes: Iterable[Any]) -> Iterator[Any]:
    """Shapes in order, those of groups included."""
    for shape in shapes:
        if getattr(shape, "shapes", None) is not None:
            yield from _shapes(shape.shapes)
        else:
            yield shape
