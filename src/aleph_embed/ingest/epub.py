"""EPUB (2 and 3) as Markdown: the chapters in reading order (the package's spine), each read as HTML (its headings
kept as headings), with the standard library's zip and XML modules (ebooklib, the usual library, is AGPL-licensed).
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from .limits import TextBudget, UnreadableFile, checked_zip

_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_OPF = "{http://www.idpf.org/2007/opf}"
_CHAPTER_TYPES = ("application/xhtml+xml", "text/html")


def read_epub(path: Path, html_markdown: Callable[[bytes], str], max_chars: int) -> str:
    """The chapters of a book, each through `html_markdown`, separated by blank lines."""
    with checked_zip(path, "EPUB book") as archive:
        try:
            container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
            rootfile = container.find(f".//{_CONTAINER}rootfile")
            if rootfile is None or not rootfile.get("full-path"):
                raise UnreadableFile("not a readable EPUB book: its container names no package")
            package_path = rootfile.get("full-path", "")
            package = ElementTree.fromstring(archive.read(package_path))
            manifest = {
                item.get("id"): item for item in package.iter(f"{_OPF}item")
                if item.get("media-type") in _CHAPTER_TYPES and "nav" not in (item.get("properties") or "").split()
            }
            budget = TextBudget(max_chars)
            chapters = []
            seen: set[str] = set()
            for reference in package.iter(f"{_OPF}itemref"):
                item = manifest.get(reference.get("idref"))
                if item is None or reference.get("linear") == "no":
                    continue
                name = posixpath.normpath(posixpath.join(posixpath.dirname(package_path), unquote(item.get("href", "").split("#")[0])))
                if name in seen:  # a spine may name one file once per section (`file.xhtml#s2`)
                    continue
                seen.add(name)
                if text := html_markdown(archive.read(name)).strip():
                    chapters.append(budget.take(text))
        except KeyError as error:
            raise UnreadableFile(f"not a readable EPUB book: {error.args[0]}") from None
        except (ElementTree.ParseError, OSError, EOFError) as error:
            raise UnreadableFile(f"not a readable EPUB book ({error})") from None
    if not chapters:
        raise UnreadableFile("the EPUB book has no text (no chapters in its spine)")
    return "\n\n".join(chapters) + "\n"
