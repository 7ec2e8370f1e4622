"""LangChain embeddings for Aleph Alpha's embedding endpoints (`pip install 'aleph-embed[langchain]'`)."""

from .embeddings import AlephAlphaEmbeddings
from .semantic import AlephAlphaAsymmetricSemanticEmbedding, AlephAlphaSymmetricSemanticEmbedding

__all__ = ["AlephAlphaAsymmetricSemanticEmbedding", "AlephAlphaEmbeddings", "AlephAlphaSymmetricSemanticEmbedding"]
