"""`AsyncEmbedClient`: the asyncio client (calls in flight bounded by a semaphore); `EmbedClient`'s twin."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx
from pydantic import SecretStr

from .config import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_DEADLINE,
)
from .bulk import Outcomes, ProgressCallback, arun_in_window, merge_batches, merge_reranked
from .chunking import Chunk, Chunker, EmbeddedChunk, ChunkRounds
from .errors import ResponseTooLargeError, UnknownModelError
from .long_text import LongTexts
from .models import (
    ANSWERS,
    ApiAnswer,
    ApiRequest,
    BatchSemanticEmbedRequest,
    BatchSemanticEmbedResponse,
    DetokenizeRequest,
    DetokenizeResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    InstructableEmbedRequest,
    InstructableEmbedResponse,
    ModelInfo,
    ModelSettings,
    Pooling,
    RerankRequest,
    RerankResponse,
    SemanticEmbedRequest,
    SemanticEmbedResponse,
    TokenizeRequest,
    TokenizeResponse,
)
from .texts import EmbeddingSettings, Side, TextBatch, endpoint_for
from .transport import POOL_LIMITS, BaseClient, _Answer, classify_http, overtime

if TYPE_CHECKING:
    from tokenizers import Tokenizer


class AsyncEmbedClient(BaseClient[httpx.AsyncClient]):
    """An asyncio client for `/embed`; `embed_many` bounds calls in flight with a semaphore."""

    def __init__(
        self,
        host: str | None = None,
        token: str | SecretStr | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_deadline: float = DEFAULT_RETRY_DEADLINE,
        concurrency: int = DEFAULT_CONCURRENCY,
        default_headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        attempt_timeout: float | None = None,
        adapt_concurrency: bool = True,
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            host, token, timeout=timeout, max_retries=max_retries, retry_deadline=retry_deadline,
            concurrency=concurrency, default_headers=default_headers, max_response_bytes=max_response_bytes,
            attempt_timeout=attempt_timeout, adapt_concurrency=adapt_concurrency,
        )
        self._open_pools(http_async_client, lambda verify: httpx.AsyncClient(limits=POOL_LIMITS, verify=verify))

    async def __aenter__(self) -> AsyncEmbedClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (not one that was passed in)."""
        if self._owns_http:
            for pool in self._pools:
                await pool.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        http = self._next_pool()
        request = self._build(http, method, path, **kwargs)
        try:
            response = await self.retry_policy.arun(
                lambda: self._attempt(http, request), classify_http, on_retry=self._on_retry(request)
            )
        except (httpx.TransportError, ResponseTooLargeError) as error:
            raise self._failure(error) from None
        return self._final(response)

    async def _attempt(self, http: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
        """One attempt, all of it (connecting, headers, body) within `attempt_timeout`; the body streamed under
        the limits."""
        try:
            return await asyncio.wait_for(self._read(http, request, time.monotonic()), self.attempt_timeout)
        except asyncio.TimeoutError:
            raise overtime(request, self.attempt_timeout) from None

    async def _read(self, http: httpx.AsyncClient, request: httpx.Request, started: float) -> httpx.Response:
        streamed = await http.send(request, stream=True)
        try:
            body = self._body(streamed, started)
            async for chunk in streamed.aiter_bytes():
                if body.add(chunk):
                    break
        finally:
            await streamed.aclose()
        return body.response()

    async def _call(self, request: ApiRequest, answer: type[_Answer]) -> _Answer:
        response = await self._send("POST", request.path, **self._post_arguments(request))
        return self._answer(response, request, answer)

    async def _run_many(
        self, calls: Sequence[Callable[[], Awaitable[Any]]], concurrency: int | None,
        on_progress: ProgressCallback | None, return_exceptions: bool,
    ) -> list[Any]:
        batch = Outcomes(len(calls), on_progress, return_exceptions)
        window, wake = self._window(concurrency), asyncio.Condition()
        await asyncio.gather(
            *(batch.arecord(index, functools.partial(arun_in_window, window, wake, call)) for index, call in enumerate(calls))
        )
        self._ran(window)
        return batch.outcome()

    async def call(self, request: ApiRequest) -> ApiAnswer:
        """Send any embedding request as one call; its answer model (`aleph_embed.models.ANSWERS`)."""
        return await self._call(request, ANSWERS[type(request)])

    async def embed(self, request: EmbedRequest | Mapping[str, Any]) -> EmbedResponse:
        """Send one `/embed` request."""
        return await self._call(self._as(request, EmbedRequest), EmbedResponse)

    async def semantic_embed(self, request: SemanticEmbedRequest | Mapping[str, Any]) -> SemanticEmbedResponse:
        """Send one `/semantic_embed` request."""
        return await self._call(self._as(request, SemanticEmbedRequest), SemanticEmbedResponse)

    async def batch_semantic_embed(
        self, request: BatchSemanticEmbedRequest | Mapping[str, Any], *, concurrency: int | None = None
    ) -> BatchSemanticEmbedResponse:
        """`EmbedClient.batch_semantic_embed`, natively async."""
        parts = self._as(request, BatchSemanticEmbedRequest).split()
        calls = [functools.partial(self._call, part, BatchSemanticEmbedResponse) for part in parts]
        return merge_batches(parts, await self._run_many(calls, concurrency, None, return_exceptions=True))

    async def instructable_embed(
        self, request: InstructableEmbedRequest | Mapping[str, Any]
    ) -> InstructableEmbedResponse:
        """Send one `/instructable_embed` request."""
        return await self._call(self._as(request, InstructableEmbedRequest), InstructableEmbedResponse)

    async def embeddings(self, request: EmbeddingsRequest | Mapping[str, Any]) -> EmbeddingsResponse:
        """Send one `/embeddings` request (OpenAI-compatible); base64 vectors come back decoded to floats."""
        return await self._call(self._as(request, EmbeddingsRequest), EmbeddingsResponse)

    @overload
    async def embed_many(
        self, requests: Iterable[EmbedRequest | Mapping[str, Any]], *, concurrency: int | None = ...,
        on_progress: ProgressCallback | None = ..., return_exceptions: Literal[False] = ...,
    ) -> list[EmbedResponse]: ...
    @overload
    async def embed_many(
        self, requests: Iterable[EmbedRequest | Mapping[str, Any]], *, concurrency: int | None = ...,
        on_progress: ProgressCallback | None = ..., return_exceptions: Literal[True],
    ) -> list[EmbedResponse | Exception]: ...

    async def embed_many(
        self,
        requests: Iterable[EmbedRequest | Mapping[str, Any]],
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Send many requests with up to `concurrency` in flight; results come in input order.

        A failed item raises `BatchEmbedError` once all items are done (it carries every success), or with
        `return_exceptions=True` stands in the result list as its error.
        """
        calls = [functools.partial(self.embed, self._as(request, EmbedRequest)) for request in requests]
        return await self._run_many(calls, concurrency, on_progress, return_exceptions)

    async def embed_texts(
        self, texts: Sequence[str], settings: EmbeddingSettings, *, prefix: str = "", concurrency: int | None = None,
        side: Side = "document",
    ) -> list[list[float]]:
        """One vector per text with `settings` through its endpoint as `side` asks (documents or queries), many calls
        in flight, in input order.

        Raises `TextEmbedError` (a `BatchEmbedError` keyed by text index) when texts fail, e.g. one is too long;
        `settings.long_text` "truncate" / "average" embed such texts (see `aleph_embed.long_text`); `endpoint="auto"`
        is resolved first (`resolve_endpoint`).
        """
        settings.sent_texts(texts, prefix)  # an empty text or a non-text is refused before the host is asked
        settings = await self.resolve_endpoint(settings)
        if settings.long_text != "error":
            tokenizer, context = await self.context_basis(settings.model)  # counting runs off the event loop
            long = await asyncio.to_thread(LongTexts, settings, texts, prefix, tokenizer, context)
            while long.pending:
                long.record(await self.embed_many(long.requests(), concurrency=concurrency, return_exceptions=True))
            return long.vectors(await self.embed(settings.probe_request()) if long.needs_probe else None)
        batch = TextBatch(settings, texts, prefix, side)
        calls = [functools.partial(self.call, call) for call in batch.calls]
        answers = await self._run_many(calls, concurrency, None, True)
        return batch.vectors(answers, await self.call(settings.probe_call(side)) if batch.needs_probe else None)

    async def rerank(
        self, request: RerankRequest | Mapping[str, Any], *, concurrency: int | None = None
    ) -> RerankResponse:
        """`EmbedClient.rerank`, natively async."""
        parts = self._as(request, RerankRequest).split()
        calls = [functools.partial(self._call, part, RerankResponse) for part in parts]
        return merge_reranked(parts, await self._run_many(calls, concurrency, None, return_exceptions=True))

    async def model_settings(self) -> list[ModelSettings]:
        """`EmbedClient.model_settings`, natively async."""
        try:
            response = await self._send("GET", "model-settings")
        except UnknownModelError:
            return [ModelSettings.from_info(info) for info in await self.models_available()]
        return self._parse_model_settings(response)

    async def resolve_endpoint(self, settings: EmbeddingSettings) -> EmbeddingSettings:
        """`EmbedClient.resolve_endpoint`, natively async."""
        if settings.endpoint != "auto":
            return settings
        if settings.model not in self._endpoints:
            try:
                listed: list[ModelSettings] | None = await self.model_settings()
            except UnknownModelError:  # neither /model-settings nor /models_available
                listed = None
            self._endpoints[settings.model] = endpoint_for(settings.model, listed)
        return settings.with_endpoint(self._endpoints[settings.model])

    async def models_available(self) -> list[ModelInfo]:
        """The models this host serves."""
        return self._parse_models(await self._send("GET", "models_available"))

    async def tokenize(self, request: TokenizeRequest | Mapping[str, Any]) -> TokenizeResponse:
        """`POST /tokenize`: the prompt's tokens and/or token ids (without the model's special tokens)."""
        response = await self._send("POST", "tokenize", **self._json(request, TokenizeRequest))
        return self._parse(response, TokenizeResponse, "/tokenize", "a tokenization")

    async def detokenize(self, request: DetokenizeRequest | Mapping[str, Any]) -> DetokenizeResponse:
        """`POST /detokenize`: the text of token ids."""
        response = await self._send("POST", "detokenize", **self._json(request, DetokenizeRequest))
        return self._parse(response, DetokenizeResponse, "/detokenize", "a detokenization")

    async def tokenizer(self, model: str) -> Tokenizer:
        """The model's own `tokenizers.Tokenizer` (`GET /models/{model}/tokenizer`), counting as `/embed` counts:
        special tokens included, no truncation. Kept in memory and on disk, keyed by host and model.

        Raises `UnknownModelError` (404) when the host has no such model or no tokenizer endpoint.
        """
        from . import _tokenizers

        cached = _tokenizers.remembered(self.host, model) or await asyncio.to_thread(
            _tokenizers.from_disk, self.host, model
        )
        if cached is not None:
            return cached
        response = await self._send("GET", self._tokenizer_path(model))
        return await asyncio.to_thread(self._stored_tokenizer, model, response)

    async def context_size(self, model: str) -> int:
        """The model's `max_context_size` from `/models_available` (raises `UnknownModelError`)."""
        return self._context_size(await self.models_available(), model)

    async def chunker(self, model: str, *, max_tokens: int = DEFAULT_CHUNK_TOKENS, overlap: int | None = None) -> Chunker:
        """A `Chunker` for `model`: its own tokenizer, `max_tokens` capped at its context. On a host without the
        tokenizer endpoint, sizes are estimated and `embed_chunks` lets the server's verdict split further."""
        tokenizer, context = await self.context_basis(model)
        return self._chunker(tokenizer, context, max_tokens, overlap)

    async def context_basis(self, model: str) -> tuple[Tokenizer | None, int]:
        """The model's tokenizer (None when the host has no tokenizer endpoint) and context size, kept."""
        if model not in self._bases:
            context = await self.context_size(model)
            try:
                tokenizer: Tokenizer | None = await self.tokenizer(model)
            except UnknownModelError:
                tokenizer = None
            self._bases[model] = (tokenizer, context)
        return self._bases[model]

    async def embed_chunks(
        self, text: str, chunks: Sequence[Chunk], settings: EmbeddingSettings, chunker: Chunker, *, prefix: str = "",
        layers: Sequence[int] = (), pooling: Sequence[Pooling] = (), concurrency: int | None = None,
    ) -> list[EmbeddedChunk]:
        """`EmbedClient.embed_chunks`, natively async."""
        rounds = ChunkRounds([(text, chunks)], settings, chunker, prefix=prefix, layers=layers, pooling=pooling)
        while rounds.pending:
            rounds.record(await self.embed_many(rounds.requests(), concurrency=concurrency, return_exceptions=True))
        return rounds.outcome(0)
