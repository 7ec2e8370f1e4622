"""The text of one file by its format: plain text (.txt, .md/.markdown, .rst), HTML (.html/.htm) and PDF (.pdf).

HTML goes through Beautiful Soup (stdlib parser, the page's declared encoding honoured): scripts, styles and
navigation go, headings become Markdown headings so the chunker keeps the page's structure. PDF goes through pypdf
(the text layer of every page). A file that cannot be read raises `UnreadableFile` with a reason a user can act on.
"""

from __future__ import annotations

import warnings
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

BINARY_SNIFF_BYTES = 8192
"""How much of a file is looked at to tell binary from text (a NUL byte means binary, as git decides)."""


class UnreadableFile(Exception):
    """A file whose text cannot be had; the message says why."""


def is_binary(path: Path) -> bool:
    """Whether the file looks binary (a NUL byte near its start)."""
    with path.open("rb") as stream:
        return b"\0" in stream.read(BINARY_SNIFF_BYTES)


def read_plain(path: Path) -> str:
    """UTF-8 text (a byte-order mark is dropped)."""
    data = path.read_bytes()
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


def read_html(path: Path) -> str:
    """The visible text of a page, headings as Markdown (`## Title`), one block per paragraph."""
    bs4 = _library("bs4", "beautifulsoup4")
    with warnings.catch_warnings():  # a short page can look like a file name to it
        warnings.simplefilter("ignore", bs4.MarkupResemblesLocatorWarning)
        soup = bs4.BeautifulSoup(path.read_bytes(), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(_DROPPED_TAGS):
        tag.decompose()
    for level in range(1, 7):
        for heading in soup(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    for tag in soup(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    text = _tidy(soup.get_text())
    if title and not text.lstrip().startswith("# "):
        text = f"# {title}\n\n{text}"
    return text


def read_pdf(path: Path) -> str:
    """The text layer of every page, pages separated by a blank line."""
    pypdf = _library("pypdf", "pypdf")
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            raise UnreadableFile("encrypted PDF; decrypt it first (e.g. `qpdf --decrypt`)")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnreadableFile:
        raise
    except Exception as error:  # pypdf raises many kinds (PdfReadError, ValueError, KeyError...) on broken files
        raise UnreadableFile(f"not a readable PDF ({type(error).__name__}: {error})") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise UnreadableFile("the PDF has no text layer (a scan?); run OCR on it first")
    return text


def _tidy(text: str) -> str:
    """Spaces collapsed within lines, at most one blank line between blocks."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    blocks: list[str] = []
    for line in lines:
        if line or (blocks and blocks[-1]):
            blocks.append(line)
    return "\n".join(blocks).strip() + "\n"


READERS: dict[str, Callable[[Path], str]] = {
    ".txt": read_plain,
    ".md": read_plain,
    ".markdown": read_plain,
    ".rst": read_plain,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
}
"""Readers by lower-case suffix; a file's suffix is matched case-insensitively."""


def reader_of(path: Path) -> Callable[[Path], str] | None:
    """The reader of a file by its suffix, or None when the format is not read."""
    return READERS.get(path.suffix.lower())
