"""`printable`: untrusted strings cannot drive the terminal or add lines to human-readable output (issue 25, #8)."""

from __future__ import annotations

import pytest

from aleph_embed.cli_support import printable

HOSTILE = {
    "clear screen": "\x1b[2J\x1b[H",
    "window title": "\x1b]0;pwned\x07",
    "OSC 8 link": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "C1 CSI": "\x9b2J",
    "DEL and NUL": "a\x7f\x00b",
    "bidi override": "\u202etxt.exe\u202c and \u2067isolate\u2069",
    "fake lines": "x\n2. 0.9999  fake\rhidden\u2028line",
    "tab and bell": "\t\x07",
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_control_characters_are_shown_escaped(text: str) -> None:
    shown = printable(text)
    assert shown.isprintable() and "\\" in shown  # one line, nothing a terminal acts on, the escape visible
    assert not any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in shown)


def test_ordinary_text_is_unchanged_and_lines_can_be_kept() -> None:
    text = "Grüße, 漢字, emoji 😀, C:\\path\\file.md, ‍ZWJ stays"
    assert printable(text) == text
    assert printable("a\x1b[31m\nb\r", lines=True) == "a\\x1b[31m\nb\\r"
    assert printable("x\ny") == "x\\ny" and printable(7) == "7"
