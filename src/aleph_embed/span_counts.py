"""Token counts of spans of one text, read from the model's tokenizer window by window (the chunker's sizes).

A text is tokenized once, in windows cut between words; a span's count is the number of the window's tokens inside
it. For a BERT-normalizing tokenizer, ASCII windows go through a copy without the normalizer (`_AsciiTwin`).
"""

from __future__ import annotations

import bisect
import itertools
import re
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from typing_extensions import TypeIs

if TYPE_CHECKING:
    from tokenizers import Tokenizer

TokenCounter = Union["Tokenizer", Callable[[str], int]]

_WINDOW = 1 << 14
"""Characters tokenized in one call: a longer text is tokenized window by window (each window once, ending
between two words), so counting holds a window's offsets, not the whole text's."""
_WINDOWS_KEPT = 3
_BLANKS = " \t\n\r"  # what every word-splitting tokenizer takes for a space
_SEAM = re.compile(r"\S[ \t\n\r](?=\S)")
_WORD_SPLITTERS = ("BertPreTokenizer", "Whitespace", "WhitespaceSplit")
_CHARACTER_NORMALIZERS = ("NoneType", "BertNormalizer", "Lowercase", "NFC", "NFD", "NFKC", "NFKD", "StripAccents")


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # what BERT's clean_text removes from ASCII


@dataclass(frozen=True)
class _AsciiTwin:
    """A BERT-normalizing tokenizer's copy without its normalizer: on ASCII text free of control characters that
    normalizer only lowercases (or does nothing), one character for one, so the twin gives the same tokens and offsets
    from `text.lower()` in ~60% of the time (the normalizer's bookkeeping is a third of a tokenizing pass)."""

    tokenizer: Tokenizer
    lowercase: bool

    @classmethod
    def of(cls, tokenizer: Tokenizer) -> _AsciiTwin | None:
        lowercase = getattr(tokenizer.normalizer, "lowercase", None)
        if type(tokenizer.normalizer).__name__ != "BertNormalizer" or not isinstance(lowercase, bool):
            return None
        twin = type(tokenizer).from_str(tokenizer.to_str())
        twin.normalizer = None
        return cls(twin, lowercase)

    def offsets(self, window: str) -> list[tuple[int, int]] | None:
        """The token offsets of `window`, or None when the twin does not apply to it."""
        if not window.isascii() or _CONTROLS.search(window):
            return None
        return self.tokenizer.encode(window.lower() if self.lowercase else window, add_special_tokens=False).offsets


class _Counts:
    """Token counts of spans of one text: the tokenizer's offsets window by window, or the counting function per
    span. A count over `limit` tokens reads as `limit + 1` (every caller compares with at most `limit`), so a count
    reads the windows of its first `limit + 1` tokens only."""

    def __init__(
        self, counter: TokenCounter, special: int, text: str, limit: int, twin: _AsciiTwin | None = None
    ) -> None:
        self.text = text
        self._function = counter if _is_function(counter) else None
        self._tokenizer = None if _is_function(counter) else counter
        self._twin = twin
        self._special = special
        self._limit = limit
        self._seams = [0]  # window i is text[seams[i]:seams[i + 1]]
        self._windows: dict[int, tuple[array[int], array[int]]] = {}  # the latest windows' token starts and ends
        self._splits_at_blanks = self._tokenizer is not None and (
            type(self._tokenizer.pre_tokenizer).__name__ in _WORD_SPLITTERS
            and type(self._tokenizer.normalizer).__name__ in _CHARACTER_NORMALIZERS
        )

    def exact(self, start: int, end: int) -> bool:
        """Whether `count(start, end)` is the count of `text[start:end]` tokenized alone: the tokenizer cuts words
        at spaces first and normalizes character by character, and the span is cut at spaces."""
        text = self.text
        return self._splits_at_blanks and (start == 0 or text[start - 1] in _BLANKS or text[start] in _BLANKS) and (
            end == len(text) or text[end] in _BLANKS or text[end - 1] in _BLANKS
        )

    def count(self, start: int, end: int) -> int:
        """Tokens of `text[start:end]` as the model counts them (special tokens included), at most `limit + 1`
        besides the special ones."""
        if self._function is not None:
            return self._function(self.text[start:end])
        tokens, position = 0, start
        while position < end and tokens <= self._limit:
            index = self._window_at(position)
            starts, ends = self._offsets(index)
            base = self._seams[index]
            tokens += max(bisect.bisect_right(ends, end - base) - bisect.bisect_left(starts, position - base), 0)
            position = self._seams[index + 1]
        return min(tokens, self._limit + 1) + self._special

    def cut(self, start: int, end: int, budget: int) -> int:
        """The furthest position p in (start, end) with `count(start, p) <= budget` (at least one character)."""
        low, high, reach = start + 1, end, 256
        while start + reach < high and self.count(start, start + reach) <= budget:  # gallop, then halve
            low, reach = start + reach, reach * 2
        high = min(high, start + reach)
        while low < high:
            middle = (low + high + 1) // 2
            if self.count(start, middle) <= budget:
                low = middle
            else:
                high = middle - 1
        return low

    def _window_at(self, position: int) -> int:
        """The window holding `position` (< the text's length), finding the seams up to it."""
        seams, size = self._seams, len(self.text)
        while seams[-1] <= position:
            seam = seams[-1] + _WINDOW
            found = _SEAM.search(self.text, seam, seam + _WINDOW) if seam < size else None
            seams.append(min(found.start() + 1 if found else seam, size))
        return bisect.bisect_right(seams, position) - 1

    def _offsets(self, index: int) -> tuple[array[int], array[int]]:
        """The token starts and ends of window `index`, relative to its start (a known window)."""
        if index not in self._windows:
            assert self._tokenizer is not None
            start, end = self._seams[index], self._seams[index + 1]
            window = self.text if (start, end) == (0, len(self.text)) else self.text[start:end]
            offsets = self._twin.offsets(window) if self._twin is not None else None
            if offsets is None:
                offsets = self._tokenizer.encode(window, add_special_tokens=False).offsets
            flat = array("q", itertools.chain.from_iterable(offsets))
            if len(self._windows) >= _WINDOWS_KEPT:
                del self._windows[next(iter(self._windows))]
            self._windows[index] = (flat[0::2], flat[1::2])
        return self._windows[index]


def _is_function(counter: object) -> TypeIs[Callable[[str], int]]:
    return callable(counter) and not hasattr(counter, "encode")


def _untruncated(counter: TokenCounter) -> TokenCounter:
    """A tokenizer that neither truncates nor pads (a copy when the given one does)."""
    if _is_function(counter):
        return counter
    tokenizer = counter
    if tokenizer.truncation is None and tokenizer.padding is None:
        return tokenizer
    copy = type(tokenizer).from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy
