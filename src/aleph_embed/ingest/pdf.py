"""PDF through pypdfium2 (PDFium, the PDF engine of Chromium): the text layer of each page, as Markdown whose only
headings are the PDF's outline (bookmarks), with where each page starts.

An outline entry becomes a heading (its depth its level) before the first line of its page that holds its title
(at the top of the page when none does). Lines of the text layer are never taken for headings: one that Markdown
would read as a heading, an underline or a fence is escaped with a backslash. A PDF without a text layer (a scan)
and an encrypted one raise `UnreadableFile` saying so; so does one over `max_chars` characters in all or
`MAX_PDF_PAGE_CHARS` on a page, as soon as a page's text shows it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from aleph_embed.config import DEFAULT_MAX_DOCUMENT_CHARS, MAX_PDF_PAGE_CHARS

from .limits import UnreadableFile, library, over_the_cap
from .markdown import escaped, heading
from .paged import PagedText

_MAX_OUTLINE_DEPTH = 6
_PDFIUM_MARKS = {0x02: None, 0xFFFE: None}  # PDFium's marks of a word hyphenated at a line's end: the word joined


def read_pdf_pages(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> PagedText:
    """The pages of a PDF as Markdown headed by its outline."""
    pdfium = library("pypdfium2", "pypdfium2")
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise UnreadableFile("encrypted PDF (a password is needed); decrypt it first (e.g. `qpdf --decrypt`)") from None
        raise UnreadableFile(f"not a readable PDF ({error})") from None
    try:
        return _paged(document, max_chars)
    finally:
        document.close()


def _paged(document: Any, max_chars: int) -> PagedText:
    headings = _outline(document)
    parts: list[str] = []
    starts: list[int] = []
    length = 0
    has_text = False
    for index, text in enumerate(capped_pages(_page_texts(document), max_chars)):
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        has_text = has_text or any(line.strip() for line in lines)
        markdown = _page_markdown(lines, headings.get(index, []))
        starts.append(length)
        parts.append(markdown)
        length += len(markdown) + 2
    if not has_text:
        raise UnreadableFile("no text layer (a scanned PDF?): OCR is not supported; run OCR on it first (e.g. ocrmypdf)")
    return PagedText("\n\n".join(parts), tuple(starts))


def _page_texts(document: Any) -> Iterator[str]:
    """Each page's text layer, as PDFium gives it (its hyphenation marks dropped)."""
    for index in range(len(document)):
        page = document[index]
        textpage = page.get_textpage()
        try:
            yield textpage.get_text_bounded().translate(_PDFIUM_MARKS)
        finally:
            textpage.close()
            page.close()


def capped_pages(pages: Iterable[str], max_chars: int, page_chars: int = MAX_PDF_PAGE_CHARS) -> list[str]:
    """The pages' texts as they are extracted; `UnreadableFile` as soon as one page holds over `page_chars` or all so
    far over `max_chars`."""
    texts, total = [], 0
    for number, text in enumerate(pages, start=1):
        total += len(text)
        if len(text) > page_chars:
            raise UnreadableFile(f"PDF page {number} holds over {page_chars:,} characters, the cap a page")
        if total > max_chars:
            raise UnreadableFile(f"{over_the_cap(max_chars)} by page {number}")
        texts.append(text)
    return texts


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
