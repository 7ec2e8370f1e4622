"""LangChain embeddings and a reranker for Aleph Alpha's endpoints (`pip install 'aleph-embed[langchain]'`)."""

from .embeddings import AlephAlphaEmbeddings
from .rerank import AlephAlphaRerank
from .semantic import AlephAlphaAsymmetricSemanticEmbedding, AlephAlphaSymmetricSemanticEmbedding

__all__ = [
    "AlephAlphaAsymmetricSemanticEmbedding",
    "AlephAlphaEmbeddings",
    "AlephAlphaRerank",
    "AlephAlphaSymmetricSemanticEmbedding",
]
