"""A Pydantic AI embedding model for Aleph Alpha's embedding endpoints (`pip install 'aleph-embed[pydantic-ai]'`)."""

from .embedding_model import AlephAlphaEmbeddingModel

__all__ = ["AlephAlphaEmbeddingModel"]
