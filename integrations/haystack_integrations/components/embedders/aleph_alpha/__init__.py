"""Haystack embedders for Aleph Alpha's embedding endpoints (`pip install 'aleph-embed[haystack]'`)."""

from .document_embedder import AlephAlphaDocumentEmbedder
from .text_embedder import AlephAlphaTextEmbedder

__all__ = ["AlephAlphaDocumentEmbedder", "AlephAlphaTextEmbedder"]
