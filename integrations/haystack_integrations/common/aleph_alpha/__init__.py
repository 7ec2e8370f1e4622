"""What the Aleph Alpha Haystack components share: the connection, the embedding options and their serialisation."""

from .component import AlephAlphaComponent

__all__ = ["AlephAlphaComponent"]
