"""LangChain embeddings and a reranker for Aleph Alpha's endpoints (`pip install 'aleph-embed[langchain]'`); the BM25
sparse embeddings of a hybrid collection (`AlephAlphaBM25`, with `langchain-qdrant`)."""

from typing import Any

from .embeddings import AlephAlphaEmbeddings
from .rerank import AlephAlphaRerank
from .semantic import AlephAlphaAsymmetricSemanticEmbedding, AlephAlphaSymmetricSemanticEmbedding



def __getattr__(name: str) -> Any:
    if name == "AlephAlphaBM25":  # langchain-qdrant loads on first use
        from .sparse import AlephAlphaBM25

        return AlephAlphaBM25
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlephAlphaAsymmetricSemanticEmbedding",
    "AlephAlphaBM25",
    "AlephAlphaEmbeddings",
    "AlephAlphaRerank",
    "AlephAlphaSymmetricSemanticEmbedding",
]
