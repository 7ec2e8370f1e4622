"""Awaitable calls on sync or async clients, so one pipeline serves both."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbedRequest, EmbedResponse


class Calls:
    """Sync clients' calls run on a thread pool; a sync embedded Qdrant (`path=` or `:memory:`) runs inline,
    because its SQLite store only works on the thread that opened it."""

    def __init__(self, embedder: EmbedClient | AsyncEmbedClient, qdrant: QdrantClient | AsyncQdrantClient, threads: int):
        self._embedder = embedder
        self._qdrant = qdrant
        options = qdrant.init_options
        self._qdrant_inline = isinstance(qdrant, QdrantClient) and (
            options.get("path") is not None or options.get("location") == ":memory:"
        )
        needs_pool = isinstance(embedder, EmbedClient) or (isinstance(qdrant, QdrantClient) and not self._qdrant_inline)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="aleph-embed-qdrant") if needs_pool else None

    async def embed(self, request: EmbedRequest) -> EmbedResponse:
        if isinstance(self._embedder, AsyncEmbedClient):
            return await self._embedder.embed(request)
        return await self._in_pool(self._embedder.embed, request)

    async def qdrant(self, method: str, **kwargs: Any) -> Any:
        """`QdrantClient.<method>(**kwargs)` or its async twin."""
        call = getattr(self._qdrant, method)
        if isinstance(self._qdrant, AsyncQdrantClient):
            return await call(**kwargs)
        if self._qdrant_inline:
            return call(**kwargs)
        return await self._in_pool(functools.partial(call, **kwargs))

    async def _in_pool(self, call: Any, *args: Any) -> Any:
        assert self._pool is not None
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
