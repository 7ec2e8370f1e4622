"""What the LangChain and LlamaIndex reranker pipeline tests share: the corpus and query, the ranking the stand-in
`/rerank` (`FakeRerankAPI`) gives, and the local server serving the test cross-encoder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aleph_embed.server.launcher import LocalServer

from .cross_encoder import predict, serve_with_reranker
from .fake_api import FakeRerankAPI

TEXTS = [
    "The Eiffel Tower is in Paris.",
    "Paris is the capital of France.",
    "Photosynthesis turns light into sugar.",
    "The capital of Brazil is Brasilia.",
]
QUERY = "What is the capital of France?"


def fake_best(top_n: int = 2) -> list[str]:
    """The `top_n` best of `TEXTS` for `QUERY` as the stand-in `/rerank` scores them."""
    return sorted(TEXTS, key=lambda text: -FakeRerankAPI.score(QUERY, text))[:top_n]


def predicted_scores(cross_encoder: Path) -> dict[str, float]:
    """Each of `TEXTS` with its `CrossEncoder.predict` score for `QUERY`."""
    return dict(zip(TEXTS, predict(cross_encoder, QUERY, TEXTS)))


def served_reranker(cross_encoder: Path) -> Iterator[tuple[LocalServer, Path]]:
    """A module fixture's body: the session's test cross-encoder served beside `minilm` (`serve_with_reranker`)."""
    with serve_with_reranker(cross_encoder) as server:
        yield server, cross_encoder
