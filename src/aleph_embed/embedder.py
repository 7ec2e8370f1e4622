"""`TextEmbedder`: texts to vectors for a framework, in a plain class (no pydantic base to inherit from).

```python
from aleph_embed import EmbeddingSettings, TextEmbedder

embedder = TextEmbedder(EmbeddingSettings(model="luminous-base"), host="http://127.0.0.1:8000", query_prefix="query: ")
documents = embedder.embed_texts(["first text", "second text"])
query = await embedder.aembed_texts(["which text?"], side="query")
```

A framework whose components are plain classes holds one; the pydantic `EmbeddingAdapter` (LangChain, LlamaIndex)
builds on it too, so every framework embeds alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import weakref
from collections.abc import Sequence

import httpx
from pydantic import SecretStr

from .config import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    check_host,
    resolve_token,
)
from .chunking import Chunker
from .client import AsyncEmbedClient, EmbedClient
from .errors import ConfigurationError
from .texts import EmbeddingSettings, Side
from .shared_host import host_or_shared

__all__ = ["Clients", "TextEmbedder"]


@dataclasses.dataclass(eq=False)
class Clients:
    """Where calls go and how (host, token, limits), and the core clients built from it on first use: one
    `EmbedClient` (`client()`), one `AsyncEmbedClient` per event loop (`async_client()`: a connection pool cannot
    outlive its loop), a token counter per model. Shared by a `TextEmbedder` and its twins, and the rerankers."""

    host: str
    token: SecretStr | None
    concurrency: int
    max_retries: int
    timeout: float | None
    http_client: httpx.Client | None
    http_async_client: httpx.AsyncClient | None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)
    sync: EmbedClient | None = dataclasses.field(default=None, repr=False)
    per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncEmbedClient] = dataclasses.field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )
    counters: dict[str, Chunker] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def create(
        cls,
        *,
        host: str | None = None,
        token: str | SecretStr | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> Clients:
        """`host` / `token` else `AA_HOST` / `AA_TOKEN` (no host: `ConfigurationError`); no network call."""
        resolved, token, _ = host_or_shared(host, token)  # no host: the CLI's shared local server
        if concurrency < 1 or max_retries < 0 or (timeout is not None and timeout <= 0):
            raise ConfigurationError("concurrency must be >= 1, max_retries >= 0 and timeout > 0 seconds")
        token = token if token is not None else resolve_token(None)
        secret = SecretStr(token) if isinstance(token, str) else token
        return cls(check_host(resolved), secret, concurrency, max_retries, timeout, http_client, http_async_client)

    def client(self) -> EmbedClient:
        with self.lock:
            if self.sync is None:
                self.sync = EmbedClient(
                    self.host, self.token, timeout=self.timeout, max_retries=self.max_retries,
                    concurrency=self.concurrency, http_client=self.http_client,
                )
            return self.sync

    def async_client(self) -> AsyncEmbedClient:
        loop = asyncio.get_running_loop()
        with self.lock:
            client = self.per_loop.get(loop)
            if client is None:
                client = AsyncEmbedClient(
                    self.host, self.token, timeout=self.timeout, max_retries=self.max_retries,
                    concurrency=self.concurrency, http_async_client=self.http_async_client,
                )
                self.per_loop[loop] = client
            return client


class TextEmbedder:
    """Texts to vectors with `settings` (model, endpoint, options, `empty_text` / `long_text` policies), documents
    and queries each with their prefix, many calls in flight, in input order.

    `host` and `token` default to `AA_HOST` and `AA_TOKEN` (no host: `ConfigurationError`); construction makes no
    network call. `concurrency` bounds the calls in flight, `max_retries` / `timeout` (seconds) tune each call;
    `http_client` / `http_async_client` replace the clients' own connection pools. The core clients are built on
    first use and reused: one `EmbedClient`, one `AsyncEmbedClient` per event loop. Thread-safe.
    """

    def __init__(
        self,
        settings: EmbeddingSettings,
        *,
        host: str | None = None,
        token: str | SecretStr | None = None,
        query_prefix: str = "",
        document_prefix: str = "",
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | None = None,
        http_client: httpx.Client | None = None,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._connection = Clients.create(
            host=host, token=token, concurrency=concurrency, max_retries=max_retries, timeout=timeout,
            http_client=http_client, http_async_client=http_async_client,
        )
        self.settings = settings
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix

    def __repr__(self) -> str:
        return f"TextEmbedder({self.settings.model!r}, host={self._connection.host!r})"

    @property
    def host(self) -> str:
        return self._connection.host

    def replace(
        self, *, settings: EmbeddingSettings | None = None, query_prefix: str | None = None,
        document_prefix: str | None = None,
    ) -> TextEmbedder:
        """A `TextEmbedder` with other settings or prefixes that shares this one's host, limits and clients."""
        twin = object.__new__(TextEmbedder)
        twin._connection = self._connection
        twin.settings = self.settings if settings is None else settings
        twin.query_prefix = self.query_prefix if query_prefix is None else query_prefix
        twin.document_prefix = self.document_prefix if document_prefix is None else document_prefix
        return twin

    @property
    def client(self) -> EmbedClient:
        """The synchronous core client, built on first use and reused."""
        return self._connection.client()

    @property
    def async_client(self) -> AsyncEmbedClient:
        """The async core client of the running event loop."""
        return self._connection.async_client()

    def prefix(self, side: Side) -> str:
        """What is put in front of a text on `side`."""
        return self.document_prefix if side == "document" else self.query_prefix

    def embed_texts(self, texts: Sequence[str], side: Side = "document") -> list[list[float]]:
        """One vector per text as a document or a query (its prefix; the endpoint's request for that side: the
        `document`/`query` representation, the instruction), many calls in flight, in input order. Failures raise
        `aleph_embed.TextEmbedError` naming the text's index (see `EmbedClient.embed_texts`)."""
        return self.client.embed_texts(texts, self.settings, prefix=self.prefix(side), side=side)

    async def aembed_texts(self, texts: Sequence[str], side: Side = "document") -> list[list[float]]:
        """Like `embed_texts`, natively async."""
        return await self.async_client.embed_texts(texts, self.settings, prefix=self.prefix(side), side=side)

    def chunker(self, max_tokens: int = DEFAULT_CHUNK_TOKENS, overlap: int | None = None) -> Chunker:
        """An `aleph_embed.Chunker` for the model: its tokenizer from the host, `max_tokens` capped at its context
        (one `/models_available` and one tokenizer call, then kept; see `EmbedClient.chunker`)."""
        return self.client.chunker(self.settings.model, max_tokens=max_tokens, overlap=overlap)

    def count_tokens(self, text: str) -> int:
        """The tokens of `text` as the model counts them (special tokens included): a length function for text
        splitters. Estimated, on the safe side, where the host has no tokenizer endpoint."""
        counters = self._connection.counters
        counter = counters.get(self.settings.model)
        if counter is None:
            counter = counters.setdefault(self.settings.model, self.chunker())
        return counter.count(text)
