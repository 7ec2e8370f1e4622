"""LlamaIndex embedding for Aleph Alpha's `/embed` (`pip install 'aleph-embed[llamaindex]'`)."""

from .embedding import AlephAlphaEmbedding

__all__ = ["AlephAlphaEmbedding"]
