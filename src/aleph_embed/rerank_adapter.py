"""What the LangChain and LlamaIndex rerankers share: their options and how a query and texts become a ranking.

`RerankAdapter` is a pydantic mixin with no framework in it. A framework class inherits from it and from the
framework's base, and maps the framework's method onto `rank` / `arank`, which go through the core clients'
`rerank` (any number of texts, many calls in flight, retries, limits, typed errors).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from pydantic import Field, PrivateAttr, model_validator

from .connection import ConnectionOptions
from .embedder import Clients
from .models import RerankRequest


class RerankAdapter(ConnectionOptions):
    """Options of an Aleph Alpha `/rerank` model for a framework, and its sync and native async ranking.

    `model` names the reranking model (e.g. `bge-reranker-v2-m3`); `host` and `token` default to `AA_HOST` and
    `AA_TOKEN` (no host: an error at construction, which makes no network call). `top_n` keeps the best that many
    (None: all, reordered). The connection options are `ConnectionOptions`'.
    """

    model: str = Field(min_length=1, description="The reranking model as the host serves it.")
    top_n: int | None = Field(default=3, ge=1, description="How many of the best to keep (None: all).")

    _clients: Clients | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        return cls._connect_from_environment(dict(data)) if isinstance(data, dict) else data

    @property
    def clients(self) -> Clients:
        """The core clients of these options, built on first use and reused."""
        with self._lock:
            if self._clients is None:
                self._clients = Clients.create(**self.connection())
            return self._clients

    def _request(self, query: str, texts: Sequence[str]) -> RerankRequest:
        return RerankRequest(model=self.model, query=query, documents=list(texts), top_n=self.top_n)

    def rank(self, query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        """(index in `texts`, relevance) of the best `top_n` texts for `query`, best first; none for no texts."""
        if not texts:
            return []
        answer = self.clients.client().rerank(self._request(query, texts))
        return [(result.index, result.relevance_score) for result in answer.results]

    async def arank(self, query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        """Like `rank`, natively async."""
        if not texts:
            return []
        answer = await self.clients.async_client().rerank(self._request(query, texts))
        return [(result.index, result.relevance_score) for result in answer.results]
