"""LangChain embeddings for Aleph Alpha's `/embed` (`pip install 'aleph-embed[langchain]'`)."""

from .embeddings import AlephAlphaEmbeddings

__all__ = ["AlephAlphaEmbeddings"]
