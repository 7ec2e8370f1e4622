"""A Haystack ranker for Aleph Alpha's `/rerank` (`pip install 'aleph-embed[haystack]'`)."""

from .ranker import AlephAlphaRanker

__all__ = ["AlephAlphaRanker"]
