"""A text's structure: its blocks (headings, prose paragraphs, lines of code, lists and tables) with the heading path
each sits under, for Markdown, reStructuredText and plain text. `Chunker` cuts chunks along them. Lines are kept as
offsets (16 bytes a line) and blocks come as they are found, so parsing holds little beyond the text."""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

TextKind = Literal["markdown", "rst", "text"]


@dataclass(frozen=True)
class Block:
    """A span of a text that is a heading, a prose paragraph or lines (code, lists, tables), under its heading path."""

    start: int
    end: int
    headings: tuple[str, ...]
    kind: Literal["heading", "prose", "lines"]


_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*#*[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ADORNMENTS = "=-~^\"'`#*+:.,_!$%&/;<>?@\\|"
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_LIST_OR_TABLE = re.compile(r"[ \t]*([-*+|]|\d+[.)])[ \t]")
_DIRECTIVE = re.compile(r"\.\. ")


_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # where str.splitlines cuts


class _Lines:
    """(start, end) of each line, end before its newline (`\\r`, `\\n`, `\\r\\n`), as `str.splitlines` cuts;
    16 bytes a line."""

    def __init__(self, text: str) -> None:
        self._starts, self._ends = array("q"), array("q")
        position = 0
        for match in _BREAK.finditer(text):
            self._starts.append(position)
            self._ends.append(match.start() if match.group() in ("\n", "\r", "\r\n") else match.end())
            position = match.end()
        if position < len(text):
            self._starts.append(position)
            self._ends.append(len(text))

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, index: int) -> tuple[int, int]:
        return self._starts[index], self._ends[index]


class _Outline:
    """The heading path as headings come by."""

    def __init__(self, root: tuple[str, ...] = ()) -> None:
        self.root = root
        self._stack: list[tuple[int, str]] = []

    def enter(self, level: int, title: str) -> tuple[str, ...]:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        return self.path

    @property
    def path(self) -> tuple[str, ...]:
        return self.root + tuple(title for _, title in self._stack)


def blocks(text: str, kind: TextKind) -> Iterator[Block]:
    lines = _Lines(text)
    if kind == "markdown":
        return _markdown_blocks(text, lines)
    return _underlined_blocks(text, lines, rst=kind == "rst")


def _markdown_blocks(text: str, lines: _Lines) -> Iterator[Block]:
    outline = _Outline()
    i = 0
    if lines and text[lines[0][0] : lines[0][1]].strip() == "---":  # YAML front matter
        for j in range(1, len(lines)):
            if text[lines[j][0] : lines[j][1]].strip() in ("---", "..."):
                title = re.search(r"^title:[ \t]*[\"']?(.*?)[\"']?[ \t]*$", text[lines[0][1] : lines[j][0]], re.M)
                outline = _Outline((title.group(1),) if title and title.group(1) else ())
                yield Block(lines[0][0], lines[j][1], outline.path, "lines")
                i = j + 1
                break
    while i < len(lines):
        start, end = lines[i]
        line = text[start:end]
        if not line.strip():
            i += 1
            continue
        heading = _ATX.match(line)
        fence = _FENCE.match(line)
        if heading:
            path = outline.enter(len(heading.group(1)), (heading.group(2) or "").strip())
            yield Block(start, end, path, "heading")
            i += 1
        elif fence:
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not text[lines[j][0] : lines[j][1]].strip().startswith(marker):
                j += 1
            j = min(j, len(lines) - 1)
            yield Block(start, lines[j][1], outline.path, "lines")
            i = j + 1
        else:
            j = i
            while j + 1 < len(lines):
                following = text[lines[j + 1][0] : lines[j + 1][1]]
                if not following.strip() or _ATX.match(following) or _FENCE.match(following):
                    break
                if j == i and _SETEXT.match(following) and not _LIST_OR_TABLE.match(line):
                    break
                j += 1
            underline = text[lines[j + 1][0] : lines[j + 1][1]] if j + 1 < len(lines) else ""
            if j == i and _SETEXT.match(underline) and not _LIST_OR_TABLE.match(line):
                path = outline.enter(1 if underline.strip()[0] == "=" else 2, line.strip())
                yield Block(start, lines[j + 1][1], path, "heading")
                i = j + 2
                continue
            yield Block(start, lines[j][1], outline.path, _paragraph_kind(text, lines, i, j))
            i = j + 1


def _paragraph_kind(text: str, lines: _Lines, first: int, last: int) -> Literal["prose", "lines"]:
    """Tables, lists and indented code (lines `first` to `last`) are cut at lines; prose at sentences."""
    if _LIST_OR_TABLE.match(text, lines[first][0], lines[first][1]) or all(
        text.startswith(("    ", "\t"), lines[i][0], lines[i][1]) for i in range(first, last + 1)
    ):
        return "lines"
    return "prose"


def _underlined_blocks(text: str, lines: _Lines, *, rst: bool) -> Iterator[Block]:
    """reST (headings by their adornment, literal blocks and directives with their indented bodies) or plain text
    (paragraphs, underlined headings)."""
    outline = _Outline()
    styles: list[tuple[str, bool]] = []
    i = 0

    def line_at(index: int) -> str:
        return text[lines[index][0] : lines[index][1]] if 0 <= index < len(lines) else ""

    while i < len(lines):
        start, end = lines[i]
        line = line_at(i)
        if not line.strip():
            i += 1
            continue
        over = _adornment(line)
        title_at = i + 1 if over and line_at(i + 1).strip() and _adornment(line_at(i + 2)) == over else i
        under = _adornment(line_at(title_at + 1))
        title = line_at(title_at)
        is_title = (
            under is not None and title.strip() and not _adornment(title) and (title_at != i or not title[:1].isspace())
            and len(line_at(title_at + 1).rstrip(" \t")) >= min(len(title.rstrip()), 3)
        )
        if is_title and under is not None:
            style = (under, title_at != i)
            if style not in styles:
                styles.append(style)
            path = outline.enter(styles.index(style) + 1, title.strip())
            yield Block(start, lines[title_at + 1][1], path, "heading")
            i = title_at + 2
            continue
        j = i
        while j + 1 < len(lines) and line_at(j + 1).strip() and not _adornment(line_at(j + 2)):
            j += 1
        kind = _paragraph_kind(text, lines, i, j)
        if rst and (line_at(j).rstrip().endswith("::") or _DIRECTIVE.match(line)):
            kind = "lines"
            while True:  # the indented body of a literal block or directive, blank lines included
                k = j + 1
                while k < len(lines) and not line_at(k).strip():
                    k += 1
                if k >= len(lines) or not line_at(k)[:1].isspace():
                    break
                j = k
                while j + 1 < len(lines) and (line_at(j + 1)[:1].isspace() or not line_at(j + 1).strip()):
                    if not line_at(j + 1).strip() and not line_at(j + 2)[:1].isspace():
                        break
                    j += 1
        yield Block(start, lines[j][1], outline.path, kind)
        i = j + 1


def _adornment(line: str) -> str | None:
    """The character of a reST adornment line (three or more of one punctuation character, then spaces or tabs);
    None for another line. (A regular expression with a backreference held ~80 bytes a character of a long line.)"""
    mark = line.rstrip(" \t")
    return mark[0] if len(mark) >= 3 and mark[0] in _ADORNMENTS and mark.count(mark[0]) == len(mark) else None
