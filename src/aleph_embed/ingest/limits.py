"""What one file may cost to read, and the checks that hold a file to it before a parser sees it.

`ReadLimits`: the size of the file (`max_file_mb`), what a zip-based format (DOCX, PPTX, XLSX, OpenDocument, EPUB)
unpacks to (`max_unpacked_mb`, read from the archive's directory before anything is unpacked: a zip bomb is refused
unopened), the characters of text it may give (`max_chars`: `FileReader(max_chars=)`, `--max-document-chars`), and,
where files are read in worker processes,
the seconds (`timeout_s`) and memory (`memory_mb`) of one file's reading. A file over a limit raises
`UnreadableFile` naming the limit and its CLI flag. The limits in force are set per process (`use_limits`).
"""

from __future__ import annotations

import importlib
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from aleph_embed.config import DEFAULT_MAX_DOCUMENT_CHARS

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted Office file is an OLE container, not a zip


class UnreadableFile(Exception):
    """A file whose text cannot be had; the message says why."""


@dataclass(frozen=True)
class ReadLimits:
    """Per-file limits of reading (see the module's docstring)."""

    max_file_mb: float = 100
    max_unpacked_mb: float = 1024
    max_chars: int = DEFAULT_MAX_DOCUMENT_CHARS
    timeout_s: float = 300
    memory_mb: int = 4096


_limits = ReadLimits()


@contextmanager
def use_limits(limits: ReadLimits) -> Iterator[None]:
    """The limits of this process's readings within the block."""
    global _limits
    earlier, _limits = _limits, limits
    try:
        yield
    finally:
        _limits = earlier


def current_limits() -> ReadLimits:
    """The limits in force in this process."""
    return _limits


def over_the_cap(cap: int) -> str:
    """The reason a document is refused for its length."""
    return f"longer than the cap of {cap:,} characters a document (--max-document-chars, max_document_chars=)"


def check_size(path: Path) -> None:
    """Refuse a file over `max_file_mb`."""
    size = os.path.getsize(path)
    if size > _limits.max_file_mb * 2**20:
        raise UnreadableFile(f"{size / 2**20:,.0f} MB, over the per-file limit of {_limits.max_file_mb:g} MB "
                             "(raise --max-file-mb)")


def checked_zip(path: Path, kind: str) -> zipfile.ZipFile:
    """The archive of a zip-based format, refused when it is not one (truncated, encrypted) or unpacks to more than
    `max_unpacked_mb`."""
    with path.open("rb") as stream:
        magic = stream.read(8)
    if magic == _OLE_MAGIC:
        raise UnreadableFile(f"password-protected {kind} (an encrypted Office file); save it without a password first")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, ValueError):
        raise UnreadableFile(f"not a readable {kind}: not a complete zip archive (truncated or another format)") from None
    unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > _limits.max_unpacked_mb * 2**20:
        archive.close()
        raise UnreadableFile(f"unpacks to {unpacked / 2**20:,.0f} MB, over the limit of {_limits.max_unpacked_mb:g} MB "
                             "(a zip bomb? raise --max-unpacked-mb)")
    if any(info.flag_bits & 0x1 for info in archive.infolist()):
        archive.close()
        raise UnreadableFile(f"password-protected {kind} (encrypted zip members)")
    return archive


def library(module: str, distribution: str) -> ModuleType:
    """The parsing library of a format; a missing one makes the file unreadable with what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UnreadableFile(
            f"reading this format needs {distribution}: pip install 'aleph-embed[qdrant]' (or {distribution})"
        ) from None


class TextBudget:
    """Counts the characters a reader gives, refusing more than `max_chars` as soon as they are over."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = self.left = max_chars

    def take(self, text: str) -> str:
        self.left -= len(text)
        if self.left < 0:
            raise UnreadableFile(over_the_cap(self.max_chars))
        return text
