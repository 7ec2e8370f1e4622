"""LlamaIndex embedding and reranker for Aleph Alpha's endpoints (`pip install 'aleph-embed[llamaindex]'`); the BM25
sparse functions of a hybrid collection (`AlephAlphaBM25`)."""

from typing import Any

from .embedding import AlephAlphaEmbedding
from .rerank import AlephAlphaRerank


def __getattr__(name: str) -> Any:
    if name == "AlephAlphaBM25":  # qdrant-client loads on first use
        from .sparse import AlephAlphaBM25

        return AlephAlphaBM25
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AlephAlphaBM25", "AlephAlphaEmbedding", "AlephAlphaRerank"]
