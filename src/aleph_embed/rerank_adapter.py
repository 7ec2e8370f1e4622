"""What the LangChain and LlamaIndex rerankers share: their options and how a query and texts become a ranking.

`RerankAdapter` is a pydantic mixin with no framework in it. A framework class inherits from it and from the
framework's base, and maps the framework's method onto `rank` / `arank`, which go through the core clients'
`rerank` (any number of texts, many calls in flight, retries, limits, typed errors).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from .config import DEFAULT_CONCURRENCY, DEFAULT_MAX_RETRIES, NO_HOST_MESSAGE, check_host, resolve_host, resolve_token
from .embedder import Clients
from .models import RerankRequest


class RerankAdapter(BaseModel):
    """Options of an Aleph Alpha `/rerank` model for a framework, and its sync and native async ranking.

    `model` names the reranking model (e.g. `bge-reranker-v2-m3`); `host` and `token` default to `AA_HOST` and
    `AA_TOKEN` (no host: an error at construction, which makes no network call). `top_n` keeps the best that many
    (None: all, reordered). `concurrency` bounds the calls in flight, `max_retries` / `timeout` (seconds) tune each
    call; `http_client` / `http_async_client` replace the clients' own connection pools.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())

    model: str = Field(min_length=1, description="The reranking model as the host serves it.")
    host: str = Field(description="Base URL of the API (default: AA_HOST).")
    token: SecretStr | None = Field(default=None, exclude=True, description="API token (default: AA_TOKEN); never dumped.")
    top_n: int | None = Field(default=3, ge=1, description="How many of the best to keep (None: all).")
    concurrency: int = Field(default=DEFAULT_CONCURRENCY, ge=1, description="Calls in flight.")
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0, description="Retries of a transient failure per call.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per call (default: the client's).")
    http_client: httpx.Client | None = Field(default=None, exclude=True, repr=False)
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True, repr=False)

    _clients: Clients | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        data["host"] = resolve_host(data.get("host"))
        if not data["host"]:
            raise ValueError(NO_HOST_MESSAGE)
        check_host(str(data["host"]))
        if data.get("token") is None:
            data["token"] = resolve_token(None)
        return data

    @property
    def clients(self) -> Clients:
        """The core clients of these options, built on first use and reused."""
        with self._lock:
            if self._clients is None:
                self._clients = Clients.create(
                    host=self.host, token=self.token, concurrency=self.concurrency, max_retries=self.max_retries,
                    timeout=self.timeout, http_client=self.http_client, http_async_client=self.http_async_client,
                )
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
