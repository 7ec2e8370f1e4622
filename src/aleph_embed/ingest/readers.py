"""The text of one file by its format (`READERS`, by suffix): plain text (.txt, .md/.markdown, .rst), web pages
(.html/.htm), PDF, Word (.docx), PowerPoint (.pptx), Excel (.xlsx/.xlsm), OpenDocument (.odt/.odp/.ods), EPUB.

A web page's main text comes from trafilatura (navigation, footers, scripts and boilerplate go, headings stay as
Markdown headings); a page where it finds no main text, and an EPUB's chapters, are read whole by `html_markdown`
(Beautiful Soup, stdlib parser, one walk of the tree: scripts, styles and navigation go, headings become Markdown
headings). Every format but plain text is read as Markdown (`text_kind`), so the chunker keeps its structure; a PDF
also gives where each page starts (`PagedText`). A file that cannot be read, or that is over a per-file limit
(`ReadLimits`), raises `UnreadableFile` with a reason a user can act on. Every reader takes `max_chars`: a file whose
text would be longer is refused naming the cap, read no further than needed to know (a PDF page by page, each page
at most `MAX_PDF_PAGE_CHARS`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Union

from aleph_embed.config import DEFAULT_MAX_DOCUMENT_CHARS

from .epub import read_epub
from .limits import UnreadableFile, check_size, current_limits, library as _library, over_the_cap
from .office import read_docx, read_pptx, read_xlsx
from .opendocument import read_opendocument
from .paged import PagedText
from .pdf import read_pdf_pages

if TYPE_CHECKING:
    from aleph_embed.chunking import TextKind

__all__ = [
    "READERS", "PagedText", "UnreadableFile", "over_the_cap", "read_pdf_pages", "read_text", "reader_of", "text_kind",
]

FileText = Union[str, PagedText]

BINARY_SNIFF_BYTES = 8192
"""How much of a file is looked at to tell binary from text (a NUL byte means binary, as git decides)."""


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


_DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "nav", "head")
_BLOCK_TAGS = (
    "p", "div", "section", "article", "main", "aside", "header", "footer", "li", "ul", "ol", "dl", "dt", "dd",
    "table", "tr", "pre", "blockquote", "figure", "figcaption", "br", "hr", "form",
)
_HEADING_LEVELS = {f"h{level}": level for level in range(1, 7)}
MAX_HTML_DEPTH = 512
"""Elements nested deeper make a page unreadable (browsers stop nesting at about this depth)."""
_MIN_MAIN_TEXT = 250
"""Main text shorter than this (trafilatura's own floor) is not trusted: the page is read whole."""
_MAX_EXTRACTED_HTML = 16 * 2**20
"""A page over this many bytes is read whole (one walk) rather than through trafilatura's tree of it."""


def read_html(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """The main text of a web page (trafilatura), headings as Markdown; the whole page where it finds none."""
    trafilatura = _library("trafilatura", "trafilatura")
    data = _bytes(path, max_chars)
    if len(data) > _MAX_EXTRACTED_HTML:
        return html_markdown(data)
    try:
        text = trafilatura.extract(data, output_format="markdown", include_tables=True, include_formatting=True,
                                   include_links=False, include_images=False, include_comments=False)
    except Exception:  # lxml or trafilatura tripping on a strange page: the page read whole instead
        text = None
    if not text or len(text) < _MIN_MAIN_TEXT:  # none, or its fallback's lines of a tiny page: all of it, structured
        return html_markdown(data)
    return text.replace("\u00b6", "").strip() + "\n"  # without Sphinx's heading anchors


def html_markdown(data: bytes) -> str:
    """The visible text of a page, headings as Markdown (`## Title`), one block per paragraph."""
    bs4 = _library("bs4", "beautifulsoup4")
    with warnings.catch_warnings():  # a short page can look like a file name to it
        warnings.simplefilter("ignore", bs4.MarkupResemblesLocatorWarning)
        soup = bs4.BeautifulSoup(data, "html.parser")
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


def read_epub_book(path: Path, max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS) -> str:
    """An EPUB's chapters in reading order, each read whole as HTML."""
    return read_epub(path, html_markdown, max_chars)


Reader = Callable[[Path, int], FileText]
"""Reads a file's text, refusing one longer than its second argument (characters)."""

READERS: dict[str, Reader] = {
    ".txt": read_plain,
    ".md": read_plain,
    ".markdown": read_plain,
    ".rst": read_plain,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf_pages,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".xlsx": read_xlsx,
    ".xlsm": read_xlsx,
    ".odt": read_opendocument,
    ".odp": read_opendocument,
    ".ods": read_opendocument,
    ".epub": read_epub_book,
}
"""Readers by lower-case suffix; a file's suffix is matched case-insensitively."""

PLAIN_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
"""Formats read as they are (light: read in the ingesting process); every other is parsed (in worker processes) and
read as Markdown, and may hold binary data (no binary sniffing)."""


def reader_of(path: Path) -> Reader | None:
    """The reader of a file by its suffix, or None when the format is not read."""
    return READERS.get(path.suffix.lower())


def read_text(path: Path) -> FileText:
    """A file's text by its reader, held to the per-file limits in force (`use_limits`; `max_chars` among them);
    `UnreadableFile` for an unknown format."""
    reader = reader_of(path)
    if reader is None:
        raise UnreadableFile(f"cannot read this format (readable: {', '.join(READERS)})")
    check_size(path)
    max_chars = current_limits().max_chars
    text = reader(path, max_chars)
    if len(text.text if isinstance(text, PagedText) else text) > max_chars:
        raise UnreadableFile(over_the_cap(max_chars))
    return text


def is_parsed(path: Path) -> bool:
    """Whether a file's format is parsed (anything but plain text): read in a worker process, never sniffed."""
    return os.path.splitext(path.name)[1].lower() not in PLAIN_SUFFIXES


def text_kind(name: str) -> TextKind:
    """How the chunker reads the text of a file called `name`: Markdown for every parsed format."""
    suffix = os.path.splitext(name)[1].lower()
    from aleph_embed.chunking import Chunker  # pydantic's models: not while the CLI starts

    return "markdown" if suffix in READERS and suffix not in PLAIN_SUFFIXES else Chunker.kind_of(name)
