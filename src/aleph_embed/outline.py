"""A text's structure: its blocks (headings, prose paragraphs, lines of code, lists and tables) with the heading path
each sits under, for Markdown, reStructuredText and plain text. `Chunker` cuts chunks along them."""

from __future__ import annotations

import re
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
_UNDERLINE = re.compile(r"([=\-~^\"'`#*+:.,_!$%&/;<>?@\\|])\1{2,}[ \t]*$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_LIST_OR_TABLE = re.compile(r"[ \t]*([-*+|]|\d+[.)])[ \t]")
_DIRECTIVE = re.compile(r"\.\. ")


def _lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line, end before its newline."""
    spans = []
    position = 0
    for line in text.splitlines(keepends=True):
        stripped = line.rstrip("\r\n")
        spans.append((position, position + len(stripped)))
        position += len(line)
    return spans


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


def blocks(text: str, kind: TextKind) -> list[Block]:
    lines = _lines(text)
    if kind == "markdown":
        return _markdown_blocks(text, lines)
    return _underlined_blocks(text, lines, rst=kind == "rst")


def _markdown_blocks(text: str, lines: list[tuple[int, int]]) -> list[Block]:
    blocks: list[Block] = []
    outline = _Outline()
    i = 0
    if lines and text[lines[0][0] : lines[0][1]].strip() == "---":  # YAML front matter
        for j in range(1, len(lines)):
            if text[lines[j][0] : lines[j][1]].strip() in ("---", "..."):
                title = re.search(r"^title:[ \t]*[\"']?(.*?)[\"']?[ \t]*$", text[lines[0][1] : lines[j][0]], re.M)
                outline = _Outline((title.group(1),) if title and title.group(1) else ())
                blocks.append(Block(lines[0][0], lines[j][1], outline.path, "lines"))
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
            blocks.append(Block(start, end, path, "heading"))
            i += 1
        elif fence:
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not text[lines[j][0] : lines[j][1]].strip().startswith(marker):
                j += 1
            j = min(j, len(lines) - 1)
            blocks.append(Block(start, lines[j][1], outline.path, "lines"))
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
                blocks.append(Block(start, lines[j + 1][1], path, "heading"))
                i = j + 2
                continue
            blocks.append(Block(start, lines[j][1], outline.path, _paragraph_kind(text, lines[i : j + 1])))
            i = j + 1
    return blocks


def _paragraph_kind(text: str, lines: list[tuple[int, int]]) -> Literal["prose", "lines"]:
    """Tables, lists and indented code are cut at lines; prose at sentences."""
    first = text[lines[0][0] : lines[0][1]]
    if _LIST_OR_TABLE.match(first) or all(text[a:b].startswith(("    ", "\t")) for a, b in lines):
        return "lines"
    return "prose"


def _underlined_blocks(text: str, lines: list[tuple[int, int]], *, rst: bool) -> list[Block]:
    """reST (headings by their adornment, literal blocks and directives with their indented bodies) or plain text
    (paragraphs, underlined headings)."""
    blocks: list[Block] = []
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
        over = _UNDERLINE.match(line)
        title_at = i + 1 if over and line_at(i + 1).strip() and _adorns(line_at(i + 2), over.group(1)) else i
        under = _UNDERLINE.match(line_at(title_at + 1))
        title = line_at(title_at)
        is_title = (
            under is not None and title.strip() and not _UNDERLINE.match(title) and (title_at != i or not title[:1].isspace())
            and len(under.group(0).rstrip()) >= min(len(title.rstrip()), 3)
        )
        if is_title and under is not None:
            style = (under.group(1), title_at != i)
            if style not in styles:
                styles.append(style)
            path = outline.enter(styles.index(style) + 1, title.strip())
            blocks.append(Block(start, lines[title_at + 1][1], path, "heading"))
            i = title_at + 2
            continue
        j = i
        while j + 1 < len(lines) and line_at(j + 1).strip() and not _UNDERLINE.match(line_at(j + 2)):
            j += 1
        kind = _paragraph_kind(text, lines[i : j + 1])
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
        blocks.append(Block(start, lines[j][1], outline.path, kind))
        i = j + 1
    return blocks


def _adorns(line: str, character: str) -> bool:
    match = _UNDERLINE.match(line)
    return match is not None and match.group(1) == character
