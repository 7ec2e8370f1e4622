"""What the Aleph Alpha Haystack components share: the connection, the embedding options and their serialisation."""

from .component import DEFAULT_TOKEN, AlephAlphaComponent, AlephAlphaEmbedderComponent, document_text

__all__ = ["DEFAULT_TOKEN", "AlephAlphaComponent", "AlephAlphaEmbedderComponent", "document_text"]
