"""Texts longer than the model's context, as `EmbeddingSettings.long_text` says: `error` (the server's verdict),
`truncate` (the start that fits, cut with the model's tokenizer) or `average` (chunks embedded and averaged, weighted
by their tokens, as langchain-openai does for long inputs). Without a tokenizer endpoint sizes are estimated and a
piece the server rejects is split further (or, when truncating, shortened) and sent again."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .chunking import Chunk, Chunker, ChunkRounds, estimated_tokens
from .errors import TextEmbedError
from .models import EmbedRequest, EmbedResponse
from .texts import EmbeddingSettings, zero_where_skipped

if TYPE_CHECKING:
    from tokenizers import Tokenizer


class LongTexts:
    """One vector per text under `settings.long_text` "truncate" or "average": the pieces to send, and the vectors
    made of what comes back. Rounds: send `requests()`, give the results to `record()`, until `pending` is empty."""

    def __init__(
        self, settings: EmbeddingSettings, texts: Sequence[str], prefix: str, tokenizer: Tokenizer | None, context: int
    ) -> None:
        self.settings = settings
        self._texts = texts
        self._sent = settings.sent_texts(texts)  # raises EmptyTextError; None where a text is skipped
        whole = Chunker(tokenizer or estimated_tokens, max_tokens=max(context, 8), overlap=0)
        budget = context - (whole.count(prefix) - whole.count("")) if prefix else context
        pieces = Chunker(whole.counter, max_tokens=max(budget, 8), overlap=0)
        truncate = settings.long_text == "truncate"
        planned: list[tuple[str, list[Chunk]]] = []
        for sent in self._sent:
            tokens = whole.count(prefix + sent) if sent is not None else 0
            if sent is None:
                planned.append(("", []))
            elif tokens <= context:
                planned.append((sent, [Chunk(0, sent, 0, len(sent), (), tokens)]))
            elif truncate:
                start = pieces.truncate(sent)
                planned.append((sent, [Chunk(0, start, 0, len(start), (), pieces.count(start))]))
            else:
                planned.append((sent, pieces.split(sent)))
        self._rounds = ChunkRounds(planned, settings, pieces, prefix=prefix, keep_first=truncate)

    @property
    def pending(self) -> bool:
        return bool(self._rounds.pending)

    @property
    def needs_probe(self) -> bool:
        """Every text was skipped, so one probe call must tell the vector size."""
        return all(sent is None for sent in self._sent) and bool(self._sent)

    def requests(self) -> list[EmbedRequest]:
        return self._rounds.requests()

    def record(self, results: Sequence[EmbedResponse | Exception]) -> None:
        self._rounds.record(results)

    def vectors(self, probe: EmbedResponse | None = None) -> list[list[float]]:
        """One vector per text (zero where skipped); `TextEmbedError` keyed by the caller's index for failures."""
        errors = {position: failures[min(failures)] for position, failures in self._rounds.errors.items()}
        if errors:
            raise TextEmbedError([None] * len(self._sent), errors, self._texts)
        vectors = [self._mean(position) if sent is not None else None for position, sent in enumerate(self._sent)]
        return zero_where_skipped(vectors, self.settings, probe)

    def _mean(self, position: int) -> list[float]:
        embedded = self._rounds.outcome(position)
        if len(embedded) == 1:
            return self.settings.vector(embedded[0].response)
        total = sum(done.chunk.tokens for done in embedded)
        parts = [self.settings.vector(done.response) for done in embedded]
        mean = [
            sum(part[i] * done.chunk.tokens for part, done in zip(parts, embedded)) / total
            for i in range(len(parts[0]))
        ]
        if not self.settings.normalize:
            return mean
        norm = math.sqrt(sum(value * value for value in mean)) or 1.0
        return [value / norm for value in mean]
