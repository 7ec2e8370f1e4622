"""The text of one file by its format: plain text (.txt, .md/.markdown, .rst), HTML (.html/.htm) and PDF (.pdf).

HTML goes through Beautiful Soup (stdlib parser, the page's declared encoding honoured): scripts, styles and
navigation go, headings become Markdown headings so the chunker keeps the page's structure. PDF goes through pypdf
(the text layer of every page). A file that cannot be read raises `UnreadableFile` with a reason a user can act on.
Every reader takes `max_chars`: a file whose text would be longer is refused naming the cap, read no further than
needed to know (a PDF page by page, each page at most `MAX_PDF_PAGE_CHARS`).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from aleph_embed.config import DEFAULT_MAX_DOCUMENT_CHARS, MAX_PDF_PAGE_CHARS

BINARY_SNIFF_BYTES = 8192
"""How much of a file is looked at to tell binary from text (a NUL byte means binary, as git decides)."""


class UnreadableFile(Exception):
    """A file whose text cannot be had; the message says why."""


def over_the_cap(cap: int) -> str:
    """The reason a document is refused for its length."""
    return f"longer than the cap of {cap:,} characters a document (--max-document-chars, max_document_chars=)"


def is_binary(path: Path) -> bool:
    """Whether the file looks binary (a NUL byte near its start)."""
    with path.open("rb") as stream:
        return b"\0" in stream.read(BINARY_SNIFF_BYTES)


def read_plain(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """UTF-8 text (a byte-order mark is dropped)."""
    data = _bytes(path, max_chars)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            f"not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}); convert it, "
            "e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def _library(module: str, distribution: str) -> ModuleType:
    """The parsing library of a format; a missing one makes the file unreadable with what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnreadableFile(
            f"reading this format needs {distribution}: pip install 'aleph-embed[qdrant]' (or {distribution})"
        ) from None


_DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "nav", "head")
_BLOCK_TAGS = (
    "p", "div", "section", "article", "main", "aside", "header", "footer", "li", "ul", "ol", "dl", "dt", "dd",
    "table", "tr", "pre", "blockquote", "figure", "figcaption", "br", "hr", "form",
)


_HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
MAX_HTML_DEPTH = 512
"""Elements nested deeper make a page unreadable (browsers stop nesting at about this depth)."""


def read_html(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """The visible text of a page, headings as Markdown (`## Title`), one block per paragraph."""
    bs4 = _library("bs4", "beautifulsoup4")
    with warnings.catch_warnings():  # a short page can look like a file name to it
        warnings.simplefilter("ignore", bs4.MarkupResemblesLocatorWarning)
        soup = bs4.BeautifulSoup(_bytes(path, max_chars), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    text = _tidy("".join(_visible_strings(soup, bs4)))
    if title and not text.lstrip().startswith("# "):
        text = f"# {title}\n\n{text}"
    return text


def _visible_strings(root: Any, bs4: ModuleType) -> Iterator[str]:
    """The text under `root` in one walk of the tree (the tree left as it is): scripts, styles and navigation
    left out, block elements on lines of their own, headings as Markdown; `UnreadableFile` past `MAX_HTML_DEPTH`."""
    levels = [iter(root.contents)]
    closing = [""]  # what leaving each level adds
    while levels:
        node = next(levels[-1], None)
        if node is None:
            levels.pop()
            yield closing.pop()
        elif isinstance(node, bs4.Tag):
            if node.name in _DROPPED_TAGS:
                continue
            if len(levels) > MAX_HTML_DEPTH:
                raise UnreadableFile(f"elements nested deeper than {MAX_HTML_DEPTH} levels")
            if node.name in _HEADING_LEVELS:
                title = " ".join(part.strip() for part in _visible_strings(node, bs4) if part.strip())
                yield f"\n\n{'#' * _HEADING_LEVELS[node.name]} {title}\n\n"
                continue
            block = "\n" if node.name in _BLOCK_TAGS else ""
            yield block
            levels.append(iter(node.contents))
            closing.append(block)
        elif type(node) in (bs4.NavigableString, bs4.CData):
            yield str(node)


def read_pdf(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """The text layer of every page, pages separated by a blank line."""
    pypdf = _library("pypdf", "pypdf")
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            raise UnreadableFile("encrypted PDF; decrypt it first (e.g. `qpdf --decrypt`)")
        pages = capped_pages((page.extract_text() or "" for page in reader.pages), max_chars)
    except UnreadableFile:
        raise
    except Exception as error:  # pypdf raises many kinds (PdfReadError, ValueError, KeyError...) on broken files
        raise UnreadableFile(f"not a readable PDF ({type(error).__name__}: {error})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise UnreadableFile("the PDF has no text layer (a scan?); run OCR on it first")
    return text


def capped_pages(pages: Iterable[str], max_chars: int, page_chars: int = MAX_PDF_PAGE_CHARS) -> list[str]:
    """The pages' texts as they are extracted; `UnreadableFile` as soon as one page holds over `page_chars` or all so
    far over `max_chars` (pypdf's own limits are per stream: pages sharing a content stream multiply it)."""
    texts, total = [], 0
    for number, text in enumerate(pages, start=1):
        total += len(text)
        if len(text) > page_chars:
            raise UnreadableFile(f"PDF page {number} holds over {page_chars:,} characters, the cap a page")
        if total > max_chars:
            raise UnreadableFile(f"{over_the_cap(max_chars)} by page {number}")
        texts.append(text)
    return texts


def _bytes(path: Path, max_chars: int) -> bytes:
    """A text file's bytes; `UnreadableFile` without reading it when it holds more than `max_chars` characters
    for sure (UTF-8: at most 4 bytes a character, a byte-order mark)."""
    size = path.stat().st_size
    if size > 4 * max_chars + 3:
        raise UnreadableFile(over_the_cap(max_chars))
    return path.read_bytes()


def _tidy(text: str) -> str:
    """Spaces collapsed within lines, at most one blank line between blocks."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    blocks: list[str] = []
    for line in lines:
        if line or (blocks and blocks[-1]):
            blocks.append(line)
    return "\n".join(blocks).strip() + "\n"


Reader = Callable[[Path, int], str]
"""Reads a file's text, refusing one longer than its second argument (characters)."""

READERS: dict[str, Reader] = {
    ".txt": read_plain,
    ".md": read_plain,
    ".markdown": read_plain,
    ".rst": read_plain,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}
"""Readers by lower-case suffix; a file's suffix is matched case-insensitively."""


def reader_of(path: Path) -> Reader | None:
    """The reader of a file by its suffix, or None when the format is not read."""
    return READERS.get(path.suffix.lower())
