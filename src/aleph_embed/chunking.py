"""Structure-aware chunking of long texts, sized in the model's own tokens (no framework, no network).

```python
from aleph_embed import EmbedClient, EmbeddingSettings

with EmbedClient("http://127.0.0.1:8000") as client:
    chunker = client.chunker("all-minilm-l6-v2")          # the host's tokenizer, the model's context
    chunks = chunker.split(markdown_text, kind="markdown") # or "rst", "text"; Chunker.kind_of(path) tells
    for chunk in chunks:
        chunk.index, chunk.text, chunk.start, chunk.end, chunk.headings, chunk.tokens
    embedded = client.embed_chunks(markdown_text, chunks, EmbeddingSettings(model="all-minilm-l6-v2"), chunker)
    # [EmbeddedChunk(chunk, response)]: a chunk the server refuses as too long came back split in two, renumbered
```

`Chunker(counter, max_tokens=256, overlap=None, context=None)` takes a `tokenizers.Tokenizer` (counted with the
model's special tokens, as `/embed` counts `num_tokens_prompt_total`) or any `Callable[[str], int]`. Each `Chunk` is
`text == original[start:end]` (character offsets into the text given to `split`), its heading path where it starts
(`headings`, outermost first; a Markdown front matter `title:` is the root) and its exact token count (`tokens`).
The same text always gives the same chunks; `chunker.signature` names everything else that decides them (sizes,
the tokenizer), for a store to tell when its chunks must be cut again.

How a text is cut: it is parsed into blocks (Markdown: front matter, ATX and setext headings, fenced code,
paragraphs, tables and lists; reST: over/underlined headings, paragraphs, literal blocks and directives with their
indented bodies; plain text: paragraphs and underlined headings). Blocks are packed into chunks of at most
`max_tokens`; a heading starts a new chunk once the current one holds a quarter of `max_tokens`, and never ends
one. A block over `max_tokens` is split at lines (code, tables, lists, directives) or sentences (prose), then
words, then tokens: fenced code stays whole where it fits. A chunk cut by size (not at a heading) repeats up to
`overlap` tokens (default: an eighth of `max_tokens`) of the previous chunk, from a word boundary.

A text is tokenized once, in windows of 16,384 characters cut between words (the same tokens as one call for a
tokenizer that splits words at spaces), and sizes are read from the tokens' offsets: memory beyond the text and its
chunks does not grow with the text, and a markdown file of bare headings packs them into shared chunks (the counting:
`aleph_embed.span_counts`).

`max_tokens` defaults to 256 (`DEFAULT_CHUNK_TOKENS`): one topic per vector, a paragraph or a code sample with its
explanation, the passage length retrieval embedders are trained on; it is capped at `context` when one is given.
`split_further(text, chunk)` cuts a chunk a server rejected as too long in two (`embed_chunks` does so: on a host
without the tokenizer endpoint `client.chunker` estimates sizes and the server's verdict decides).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
import os
import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Generic

from typing_extensions import TypeVar

from .config import DEFAULT_CHUNK_TOKENS
from .errors import BatchEmbedError, is_context_error
from .models import EmbedRequest, EmbedResponse, Pooling
from .outline import Block, TextKind, blocks
from .span_counts import TokenCounter, _AsciiTwin, _Counts, _is_function, _untruncated
from .texts import EmbeddingSettings

_SUFFIX_KINDS: dict[str, TextKind] = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".rest": "rst"}


@dataclass(frozen=True)
class Chunk:
    """One piece of a text: `text == original[start:end]`, the heading path where it starts, its token count."""

    index: int
    text: str
    start: int
    end: int
    headings: tuple[str, ...]
    tokens: int


@dataclass(frozen=True)
class EmbeddedChunk:
    """A chunk and the `/embed` answer for it (`settings.vector(response)` is its vector)."""

    chunk: Chunk
    response: EmbedResponse


@dataclass(frozen=True)
class _Piece:
    """A span that is never cut further (it fits `max_tokens`), with the heading path it sits under."""

    start: int
    end: int
    headings: tuple[str, ...]
    heading: bool = False


class Chunker:
    """Cuts Markdown, reST or plain text into chunks of at most `max_tokens` of the model's tokens.

    `counter` is the model's `tokenizers.Tokenizer` (special tokens counted, truncation and padding ignored) or a
    function counting a text's tokens. `context`, when given, caps `max_tokens`. See the module docstring.
    """

    def __init__(
        self,
        counter: TokenCounter,
        *,
        max_tokens: int = DEFAULT_CHUNK_TOKENS,
        overlap: int | None = None,
        context: int | None = None,
    ) -> None:
        if context is not None:
            max_tokens = min(max_tokens, context)
        if max_tokens < 8:
            raise ValueError(f"max_tokens must be at least 8, got {max_tokens}")
        overlap = max_tokens // 8 if overlap is None else overlap
        if not 0 <= overlap <= max_tokens // 2:
            raise ValueError(f"overlap must be between 0 and max_tokens // 2 ({max_tokens // 2}), got {overlap}")
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.context = context
        self.counter: TokenCounter = _untruncated(counter)
        self._special = 0 if _is_function(self.counter) else self._exact_count("")
        self._twin = None if _is_function(self.counter) else _AsciiTwin.of(self.counter)

    def count(self, text: str) -> int:
        """The tokens of `text` as the model counts them."""
        return self._exact_count(text)

    @functools.cached_property
    def signature(self) -> str:
        """What decides the chunks besides the text (sizes, the counter): stored with chunks, a change re-chunks."""
        if _is_function(self.counter):
            counter = getattr(self.counter, "__qualname__", type(self.counter).__name__)
        else:
            counter = hashlib.sha256(self.counter.to_str().encode()).hexdigest()[:16]
        return f"max_tokens={self.max_tokens} overlap={self.overlap} counter={counter}"

    def _exact_count(self, text: str) -> int:
        if _is_function(self.counter):
            return self.counter(text)
        return len(self.counter.encode(text, add_special_tokens=True).ids)

    @staticmethod
    def kind_of(path: str | os.PathLike[str]) -> TextKind:
        """The kind of a file by its suffix: .md/.markdown, .rst/.rest, anything else plain text."""
        return _SUFFIX_KINDS.get(os.path.splitext(os.fspath(path))[1].lower(), "text")

    def split(self, text: str, *, kind: TextKind = "text") -> list[Chunk]:
        """The chunks of `text` in order; none for a blank text."""
        if kind not in ("markdown", "rst", "text"):
            raise ValueError(f"kind must be 'markdown', 'rst' or 'text', got {kind!r}")
        counts = _Counts(self.counter, self._special, text, self.max_tokens, self._twin)
        return self._pack((piece for block in blocks(text, kind) for piece in self._pieces(block, counts)), counts)

    def truncate(self, text: str) -> str:
        """The longest start of `text` that fits `max_tokens` (cut between tokens)."""
        if self.count(text) <= self.max_tokens:
            return text
        return text[: self._exact_cut(text, 0, len(text))]

    def split_further(self, text: str, chunk: Chunk) -> list[Chunk]:
        """`chunk` of `text` in two halves, cut at the best boundary near its middle (for a chunk the server
        rejected as too long); `[chunk]` when it cannot be cut. The halves keep `chunk.index` (renumber after)."""
        middle = (chunk.start + chunk.end) // 2
        span = text[chunk.start : chunk.end]
        cut = None
        for pattern in (r"\n\s*\n", r"\n", r"(?<=[.!?])\s+", r"\s+"):
            places = [chunk.start + m.end() for m in re.finditer(pattern, span)]
            places = [p for p in places if chunk.start < p < chunk.end]
            if places:
                cut = min(places, key=lambda p: abs(p - middle))
                break
        if cut is None:
            cut = middle if chunk.end - chunk.start > 1 else None
        if cut is None:
            return [chunk]
        return [
            Chunk(chunk.index, text[a:b], a, b, chunk.headings, self._exact_count(text[a:b]))
            for a, b in ((chunk.start, cut), (cut, chunk.end))
            if text[a:b].strip()
        ]

    def _pieces(self, block: Block, counts: _Counts) -> Iterator[_Piece]:
        """The block as spans that each fit `max_tokens`: whole if it fits, else lines or sentences, words, tokens."""
        levels = [_LINES if block.kind == "lines" else _SENTENCES, _WORDS]
        for start, end in self._fitting(block.start, block.end, levels, counts):
            yield _Piece(start, end, block.headings, block.kind == "heading")

    def _fitting(self, start: int, end: int, levels: list[re.Pattern[str]], counts: _Counts) -> Iterator[tuple[int, int]]:
        if counts.count(start, end) <= self.max_tokens:
            yield start, end
            return
        if not levels:
            while start < end:
                cut = counts.cut(start, end, self.max_tokens)
                yield start, cut
                start = cut
            return
        for a, b in _parts(counts.text, start, end, levels[0]):
            yield from self._fitting(a, b, levels[1:], counts)

    def _pack(self, pieces: Iterator[_Piece], counts: _Counts) -> list[Chunk]:
        """Greedy packing of the pieces as they come; a chunk that does not start at a heading starts `overlap`
        tokens back. Headings at a chunk's end go to the next one (bare headings stay together)."""
        chunks: list[Chunk] = []
        text = counts.text
        queue: deque[_Piece] = deque()  # pieces taken from `pieces`, or given back, not yet packed
        current: list[_Piece] = []
        lead = 0  # where the current chunk starts: its first piece, or earlier by the overlap

        def flush() -> None:
            """Emit the current pieces; trailing headings and what the exact count refuses go back to the queue."""
            keep = len(current)
            while keep > 0 and current[keep - 1].heading:
                keep -= 1
            keep = keep or max(len(current) - 1, 1)  # only headings: all but the last, which goes with its text
            emitted, back = current[:keep], current[keep:]
            start, end = lead, emitted[-1].end
            tokens = self._span_count(counts, start, end)
            while tokens > self.max_tokens:  # the exact count can exceed the span count at the edges
                if start < emitted[0].start:
                    start = emitted[0].start
                elif len(emitted) > 1:
                    back.insert(0, emitted.pop())
                    end = emitted[-1].end
                else:
                    end = self._exact_cut(text, start, end)
                    back.insert(0, _Piece(end, emitted[0].end, emitted[0].headings))
                tokens = self._span_count(counts, start, end)
            chunks.append(Chunk(len(chunks), text[start:end], start, end, emitted[0].headings, tokens))
            queue.extendleft(reversed(back))
            current.clear()

        while True:
            if not queue:
                queue.extend(itertools.islice(pieces, 1))
            if not queue:
                if not current:
                    break
                flush()
                continue
            piece = queue[0]
            if current:
                at_heading = piece.heading and not current[-1].heading
                if at_heading and counts.count(lead, current[-1].end) >= self.max_tokens // 4:
                    flush()
                    continue
                if counts.count(lead, piece.end) > self.max_tokens:
                    flush()
                    continue
            else:
                lead = piece.start
                if chunks and not piece.heading:  # cut by size: start `overlap` tokens back
                    lead = self._overlap_start(counts, chunks[-1].start, chunks[-1].end, piece.start, piece.end)
            current.append(queue.popleft())
        return chunks

    def _span_count(self, counts: _Counts, start: int, end: int) -> int:
        """The exact count of a chunk's span: from the text's tokens where that is exact, else tokenized alone."""
        return counts.count(start, end) if counts.exact(start, end) else self._exact_count(counts.text[start:end])

    def _exact_cut(self, text: str, start: int, end: int) -> int:
        """The furthest end in (start, end), between tokens, whose span fits `max_tokens` by the exact count."""
        if _is_function(self.counter):
            places = list(range(start + 1, end))
        else:
            encoding = self.counter.encode(text[start:end], add_special_tokens=False)
            places = sorted({start + stop for _, stop in encoding.offsets if 0 < stop < end - start})
        low, high = 0, len(places) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self._exact_count(text[start : places[middle]]) <= self.max_tokens:
                low = middle
            else:
                high = middle - 1
        return places[low] if places else end

    def _overlap_start(self, counts: _Counts, previous_start: int, previous_end: int, first: int, end: int) -> int:
        """Where a chunk cut by size starts: up to `overlap` tokens back into the previous chunk, at a word start."""
        if not self.overlap or first < previous_end:
            return first
        text = counts.text
        words = [previous_start + m.start() for m in re.finditer(r"(?<=\s)\S", text[previous_start:previous_end])]
        index = bisect.bisect_left(words, previous_end)
        low, high = 0, index  # smallest word start whose run to previous_end fits the overlap
        while low < high:
            middle = (low + high) // 2
            if counts.count(words[middle], previous_end) <= self.overlap:
                high = middle
            else:
                low = middle + 1
        if low >= len(words) or counts.count(words[low], end) > self.max_tokens:
            return first
        return words[low]


_LINES = re.compile(r"\n")
_SENTENCES = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n")
_WORDS = re.compile(r"\s+")


def _parts(text: str, start: int, end: int, separator: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """`text[start:end]` cut after each separator (separators stay with the part before them)."""
    position = start
    for match in separator.finditer(text, start, end):
        if match.end() > position and match.end() < end:
            yield position, match.end()
            position = match.end()
    if position < end:
        yield position, end


def estimated_tokens(text: str) -> int:
    """A cautious token estimate for hosts without a tokenizer endpoint: a token per 3 bytes of UTF-8, plus 2."""
    return math.ceil(len(text.encode()) / 3) + 2


_MIN_SPLIT = 32  # characters: a shorter text refused as too long is reported, not cut further
_Answer = TypeVar("_Answer", default=EmbedResponse)


class ChunkRounds(Generic[_Answer]):
    """Embedding the chunks of texts where the server has the last word: a chunk it rejects as longer than the
    context is split in two and sent again (rounds until every piece fits or cannot be cut), never cut silently;
    with `keep_first` (truncation) only the first half goes on."""

    def __init__(
        self, texts: Sequence[tuple[str, Sequence[Chunk]]], settings: EmbeddingSettings, chunker: Chunker, *,
        prefix: str = "", layers: Sequence[int] = (), pooling: Sequence[Pooling] = (), keep_first: bool = False,
    ) -> None:
        self.texts, self.settings, self.chunker = texts, settings, chunker
        self.prefix, self.layers, self.pooling, self.keep_first = prefix, layers, pooling, keep_first
        self.pending = [(position, chunk) for position, (_, chunks) in enumerate(texts) for chunk in chunks]
        self._done: list[list[tuple[Chunk, _Answer]]] = [[] for _ in texts]
        self.errors: dict[int, dict[int, Exception]] = {}  # text position -> chunk index -> error

    def requests(self) -> list[EmbedRequest]:
        """The requests of this round."""
        return [
            self.settings.request(self.prefix + chunk.text, layers=self.layers, pooling=self.pooling)
            for _, chunk in self.pending
        ]

    def record(self, results: Sequence[_Answer | Exception]) -> None:
        """Keep the answers; queue the halves of chunks rejected as too long for the next round."""
        again: list[tuple[int, Chunk]] = []
        for (position, chunk), result in zip(self.pending, results):
            if not isinstance(result, Exception):
                self._done[position].append((chunk, result))
                continue
            text = self.texts[position][0]
            splittable = is_context_error(result) and len(chunk.text) >= _MIN_SPLIT
            halves = self.chunker.split_further(text, chunk) if splittable else [chunk]
            if halves == [chunk]:
                self.errors.setdefault(position, {}).setdefault(chunk.index, result)
            else:
                again += [(position, half) for half in (halves[:1] if self.keep_first else halves)]
        self.pending = again

    def answers(self, position: int) -> list[tuple[Chunk, _Answer]]:
        """The chunks of one text in order, numbered from 0, with their answers; `BatchEmbedError` keyed by the
        first chunking's indices."""
        if position in self.errors:
            raise BatchEmbedError([None] * len(self.texts[position][1]), self.errors[position])
        ordered = sorted(self._done[position], key=lambda done: done[0].start)
        return [(replace(chunk, index=index), answer) for index, (chunk, answer) in enumerate(ordered)]

    def outcome(self: ChunkRounds[EmbedResponse], position: int) -> list[EmbeddedChunk]:
        """`answers` as `EmbeddedChunk`s."""
        return [EmbeddedChunk(chunk, response) for chunk, response in self.answers(position)]


_ChunkRounds = ChunkRounds
"""The old name of `ChunkRounds`."""
