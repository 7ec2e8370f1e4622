"""LlamaIndex embedding and reranker for Aleph Alpha's endpoints (`pip install 'aleph-embed[llamaindex]'`)."""

from .embedding import AlephAlphaEmbedding
from .rerank import AlephAlphaRerank

__all__ = ["AlephAlphaEmbedding", "AlephAlphaRerank"]
