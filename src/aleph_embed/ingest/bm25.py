"""BM25 sparse vectors as Qdrant's own `qdrant/bm25` model makes them, computed here (for the embedded store and for
frameworks' query vectors), and the options that make a Qdrant server compute the same ones.

Qdrant (1.15.2+) splits a text on every character that is not alphanumeric, lowercases, drops stop words, stems
(Snowball), and hashes each token to its index (murmur3, 32 bits, seed 0, absolute value of the signed result).
A document's value of a token is BM25's term part `tf * (k + 1) / (tf + k * (1 - b + b * len / avg_len))` (`len`:
its tokens after stop words); a query's is 1 per distinct token; the collection's `idf` modifier adds
`ln(1 + (N - n + 0.5) / (n + 0.5))` at search time. Here the stemmer is PyStemmer (the Snowball algorithms, as
rust-stemmers in Qdrant) and the stop words are those of the `stopwords` package; both sides get that same list (it is
sent to the server in the options), so the server and this module differ only where the two Snowball builds do.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from aleph_embed import ConfigurationError

from .sink import SparseVector

MODEL = "qdrant/bm25"
"""The name of Qdrant's server-side BM25 model."""

_WORD = re.compile(r"[^\W_]+")  # runs of alphanumeric characters (Rust's char::is_alphanumeric)


def languages() -> list[str]:
    """The languages BM25 can stem (Snowball's)."""
    import Stemmer

    return sorted(name for name in Stemmer.algorithms() if name not in ("porter", "dutch_porter"))


@dataclass(frozen=True)
class BM25Settings:
    """How BM25 vectors are made: the language (stemmer and stop words), `k` (term frequency saturation), `b`
    (length normalisation) and `avg_len` (the expected document length in tokens, Qdrant's default 256; set it near
    the corpus's own for textbook BM25). Recorded on the collection; queries use the same."""

    language: str = "english"
    k: float = 1.2
    b: float = 0.75
    avg_len: float = 256.0

    def __post_init__(self) -> None:
        if self.language not in languages():
            raise ConfigurationError(f"BM25 language {self.language!r}: use one of {', '.join(languages())}")
        if not (self.k >= 0 and 0 <= self.b <= 1 and self.avg_len > 0 and math.isfinite(self.k + self.avg_len)):
            raise ConfigurationError("BM25: k must be at least 0, b between 0 and 1, avg_len above 0")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class BM25:
    """The sparse vectors of `settings`: `document(text)` for stored points, `query(text)` for searches."""

    def __init__(self, settings: BM25Settings | None = None) -> None:
        import Stemmer

        self.settings = settings or BM25Settings()
        self._stem = Stemmer.Stemmer(self.settings.language).stemWord

    @cached_property
    def stopwords(self) -> frozenset[str]:
        """The language's stop words (lowercase; none for a language the `stopwords` package lacks)."""
        import stopwords

        return frozenset(word.lower() for word in stopwords.safe_get_stopwords(self.settings.language) if word)

    @cached_property
    def server_options(self) -> dict[str, Any]:
        """The `models.Document(..., model=MODEL, options=...)` options under which a Qdrant server makes the same
        vectors."""
        settings = self.settings
        return {"language": settings.language, "k": settings.k, "b": settings.b, "avg_len": settings.avg_len,
                "stopwords": {"custom": sorted(self.stopwords)}}

    def tokens(self, text: str) -> list[str]:
        """The text's tokens: alphanumeric runs, lowercased, stop words dropped, stemmed."""
        words = (word.lower() for word in _WORD.findall(text))
        return [self._stem(word) for word in words if word not in self.stopwords]

    def document(self, text: str) -> SparseVector:
        """A stored text's vector: BM25's term part of each distinct token (by index)."""
        tokens = self.tokens(text)
        settings, length = self.settings, len(tokens)
        norm = settings.k * (1 - settings.b + settings.b * length / settings.avg_len)
        weights = {token_index(token): count * (settings.k + 1) / (count + norm) for token, count in Counter(tokens).items()}
        return _sparse(weights)

    def query(self, text: str) -> SparseVector:
        """A query's vector: 1 for each distinct token (the collection's `idf` modifier weighs them)."""
        return _sparse(dict.fromkeys((token_index(token) for token in self.tokens(text)), 1.0))

    def documents(self, texts: Iterable[str]) -> list[SparseVector]:
        return [self.document(text) for text in texts]


def token_index(token: str) -> int:
    """The sparse index of a token, as Qdrant computes it."""
    import mmh3

    return abs(mmh3.hash(token, 0, signed=True))


def _sparse(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices=indices, values=[float(weights[index]) for index in indices])
