"""LlamaIndex embedding and reranker for Aleph Alpha's endpoints (`pip install 'aleph-embed[llamaindex]'`); the BM25
sparse functions of a hybrid collection (`AlephAlphaBM25`)."""

from .embedding import AlephAlphaEmbedding
from .rerank import AlephAlphaRerank
from .sparse import AlephAlphaBM25

__all__ = ["AlephAlphaBM25", "AlephAlphaEmbedding", "AlephAlphaRerank"]
