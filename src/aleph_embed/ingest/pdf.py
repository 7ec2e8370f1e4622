"""PDF through pypdfium2 (PDFium, the PDF engine of Chromium): the text layer of each page, as Markdown whose only
headings are the PDF's outline (bookmarks), with where each page starts.

An outline entry becomes a heading (its depth its level) before the first line of its page that holds its title
(at the top of the page when none does). Lines of the text layer are never taken for headings: one that Markdown
would read as a heading, an underline or a fence is escaped with a backslash. A PDF without a text layer (a scan)
and an encrypted one raise `UnreadableFile` saying so.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .limits import UnreadableFile, library, text_limit
from .markdown import escaped, heading
from .paged import PagedText


_MAX_OUTLINE_DEPTH = 6
_PDFIUM_MARKS = {0x02: None, 0xFFFE: None}  # PDFium's marks of a word hyphenated at a line's end: the word joined


def read_pdf_pages(path: Path) -> PagedText:
    """The pages of a PDF as Markdown headed by its outline."""
    pdfium = library("pypdfium2", "pypdfium2")
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise UnreadableFile("encrypted PDF (a password is needed); decrypt it first (e.g. `qpdf --decrypt`)") from None
        raise UnreadableFile(f"not a readable PDF ({error})") from None
    try:
        return _paged(document)
    finally:
        document.close()


def _paged(document: Any) -> PagedText:
    headings = _outline(document)
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    limit = text_limit()
    has_text = False
    for index in range(len(document)):
        page = document[index]
        textpage = page.get_textpage()
        try:
            text = textpage.get_text_bounded().translate(_PDFIUM_MARKS)
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        finally:
            textpage.close()
            page.close()
        has_text = has_text or any(line.strip() for line in lines)
        text = _page_markdown(lines, headings.get(index, []))
        starts.append(length)
        parts.append(text)
        length += len(text) + 2
        if length > limit:
            raise UnreadableFile(f"over {limit:,} characters of text by page {index + 1} (raise --max-text-chars)")
    if not has_text:
        raise UnreadableFile("no text layer (a scanned PDF?): OCR is not supported; run OCR on it first (e.g. ocrmypdf)")
    return PagedText("\n\n".join(parts), tuple(starts))


def _outline(document: Any) -> dict[int, list[tuple[int, str]]]:
    """Outline entries by 0-based page: (level, title), in the outline's order."""
    headings: dict[int, list[tuple[int, str]]] = defaultdict(list)
    try:
        for item in document.get_toc(max_depth=_MAX_OUTLINE_DEPTH):
            destination = item.get_dest()
            index = destination.get_index() if destination is not None else None
            title = " ".join(item.get_title().split())
            if index is not None and title:
                headings[index].append((item.level + 1, title))
    except Exception:  # a broken outline loses the headings, not the text
        return {}
    return headings


def _page_markdown(lines: list[str], headings: list[tuple[int, str]]) -> str:
    """A page's lines, escaped, with its outline headings before the lines that hold their titles."""
    out = [escaped(line.rstrip()) for line in lines]
    at: dict[int, list[str]] = defaultdict(list)
    searched_from = 0
    for level, title in headings:
        found = next((i for i in range(searched_from, len(out)) if _holds(out[i], title)), None)
        if found is not None:
            searched_from = found + 1
        at[searched_from - 1 if found is not None else 0].append(heading(level, title))
    result: list[str] = []
    for i, line in enumerate(out):
        if i in at:
            result.extend(["", *at[i], ""])
        result.append(line)
    return "\n".join(result).strip("\n")


def _holds(line: str, title: str) -> bool:
    """Whether a line is the title's (a numbering or a page number around it allowed)."""
    line = " ".join(line.split()).casefold()
    return title.casefold() in line and len(line) <= len(title) + 12
