"""`EmbedClient`: the synchronous client (many calls in flight on a thread pool). `AsyncEmbedClient` lives in
`async_client.py`, what both share in `transport.py`; all are importable from here."""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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
from .async_client import AsyncEmbedClient
from .bulk import Outcomes, ProgressCallback, merge_batches, merge_reranked, run_in_window
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
from .transport import POOL_LIMITS, BaseClient, Usage, _Answer, classify_http, overtime

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["AsyncEmbedClient", "EmbedClient", "ProgressCallback", "Usage", "classify_http", "merge_batches", "overtime"]


class EmbedClient(BaseClient[httpx.Client]):
    """A synchronous client for `/embed`. `embed_many` keeps many calls in flight on a thread pool.

    Configuration comes from the arguments first, then `AA_HOST` / `AA_TOKEN`. `timeout` bounds each wait of an
    attempt (connect, read, write); `attempt_timeout` the whole attempt (default: `timeout`'s read value, else
    330 s; the sync client checks it as chunks arrive); `max_response_bytes` the decompressed answer (64 MiB).
    Credentials in the host URL (`https://user:password@...`) are sent as Basic auth and never shown.
    """

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
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            host, token, timeout=timeout, max_retries=max_retries, retry_deadline=retry_deadline,
            concurrency=concurrency, default_headers=default_headers, max_response_bytes=max_response_bytes,
            attempt_timeout=attempt_timeout, adapt_concurrency=adapt_concurrency,
        )
        self._open_pools(http_client, lambda verify: httpx.Client(limits=POOL_LIMITS, verify=verify))

    def __enter__(self) -> EmbedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (not one that was passed in)."""
        if self._owns_http:
            for pool in self._pools:
                pool.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        http = self._next_pool()
        request = self._build(http, method, path, **kwargs)
        try:
            response = self.retry_policy.run(
                lambda: self._attempt(http, request), classify_http, on_retry=self._on_retry(request)
            )
        except (httpx.TransportError, ResponseTooLargeError) as error:
            raise self._failure(error) from None
        return self._final(response)

    def _attempt(self, http: httpx.Client, request: httpx.Request) -> httpx.Response:
        """One attempt: the answer streamed under the limits (the deadline is checked as chunks arrive; each wait
        for one is bounded by the read timeout)."""
        started = time.monotonic()
        streamed = http.send(request, stream=True)
        try:
            body = self._body(streamed, started)
            for chunk in streamed.iter_bytes():
                if body.add(chunk):
                    break
        finally:
            streamed.close()
        return body.response()

    def _call(self, request: ApiRequest, answer: type[_Answer]) -> _Answer:
        response = self._send("POST", request.path, **self._post_arguments(request))
        return self._answer(response, request, answer)

    def _run_many(
        self, calls: Sequence[Callable[[], Any]], concurrency: int | None, on_progress: ProgressCallback | None,
        return_exceptions: bool,
    ) -> list[Any]:
        batch = Outcomes(len(calls), on_progress, return_exceptions)
        if calls:
            window = self._window(concurrency, len(calls))
            pool = ThreadPoolExecutor(max_workers=window.limit, thread_name_prefix="aleph-embed")
            try:
                for index, call in enumerate(calls):  # each call in a copy of this context (its meters)
                    windowed = functools.partial(run_in_window, window, call)
                    pool.submit(contextvars.copy_context().run, batch.record, index, windowed)
                pool.shutdown(wait=True)
            except BaseException:  # Ctrl-C: drop the calls not yet started instead of waiting for all of them
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            self._ran(window)
        return batch.outcome()

    def call(self, request: ApiRequest) -> ApiAnswer:
        """Send any embedding request as one call; its answer model (`aleph_embed.models.ANSWERS`)."""
        return self._call(request, ANSWERS[type(request)])

    def embed(self, request: EmbedRequest | Mapping[str, Any]) -> EmbedResponse:
        """Send one `/embed` request."""
        return self._call(self._as(request, EmbedRequest), EmbedResponse)

    def semantic_embed(self, request: SemanticEmbedRequest | Mapping[str, Any]) -> SemanticEmbedResponse:
        """Send one `/semantic_embed` request."""
        return self._call(self._as(request, SemanticEmbedRequest), SemanticEmbedResponse)

    def batch_semantic_embed(
        self, request: BatchSemanticEmbedRequest | Mapping[str, Any], *, concurrency: int | None = None
    ) -> BatchSemanticEmbedResponse:
        """Embed any number of prompts through `/batch_semantic_embed`: calls of at most 100 prompts, up to
        `concurrency` in flight, vectors in prompt order. Failed calls raise `BatchEmbedError` keyed by prompt index
        once all calls are done (its `results` hold every other prompt's vector)."""
        parts = self._as(request, BatchSemanticEmbedRequest).split()
        calls = [functools.partial(self._call, part, BatchSemanticEmbedResponse) for part in parts]
        return merge_batches(parts, self._run_many(calls, concurrency, None, return_exceptions=True))

    def instructable_embed(self, request: InstructableEmbedRequest | Mapping[str, Any]) -> InstructableEmbedResponse:
        """Send one `/instructable_embed` request."""
        return self._call(self._as(request, InstructableEmbedRequest), InstructableEmbedResponse)

    def embeddings(self, request: EmbeddingsRequest | Mapping[str, Any]) -> EmbeddingsResponse:
        """Send one `/embeddings` request (OpenAI-compatible); base64 vectors come back decoded to floats."""
        return self._call(self._as(request, EmbeddingsRequest), EmbeddingsResponse)

    @overload
    def embed_many(
        self, requests: Iterable[EmbedRequest | Mapping[str, Any]], *, concurrency: int | None = ...,
        on_progress: ProgressCallback | None = ..., return_exceptions: Literal[False] = ...,
    ) -> list[EmbedResponse]: ...
    @overload
    def embed_many(
        self, requests: Iterable[EmbedRequest | Mapping[str, Any]], *, concurrency: int | None = ...,
        on_progress: ProgressCallback | None = ..., return_exceptions: Literal[True],
    ) -> list[EmbedResponse | Exception]: ...

    def embed_many(
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
        return self._run_many(calls, concurrency, on_progress, return_exceptions)

    def embed_texts(
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
        settings = self.resolve_endpoint(settings)
        if settings.long_text != "error":
            long = LongTexts(settings, texts, prefix, *self.context_basis(settings.model))
            while long.pending:
                long.record(self.embed_many(long.requests(), concurrency=concurrency, return_exceptions=True))
            return long.vectors(self.embed(settings.probe_request()) if long.needs_probe else None)
        batch = TextBatch(settings, texts, prefix, side)
        answers = self._run_many([functools.partial(self.call, call) for call in batch.calls], concurrency, None, True)
        return batch.vectors(answers, self.call(settings.probe_call(side)) if batch.needs_probe else None)

    def rerank(
        self, request: RerankRequest | Mapping[str, Any], *, concurrency: int | None = None
    ) -> RerankResponse:
        """Score `documents` for `query` (`POST /rerank`), best first with their indexes in `documents`: any number of
        documents, split into calls of `MAX_RERANK_DOCUMENTS` (many in flight) and merged (`top_n` overall); the
        retries, limits, errors and usage of every call. A mapping is validated as a `RerankRequest`."""
        parts = self._as(request, RerankRequest).split()
        calls = [functools.partial(self._call, part, RerankResponse) for part in parts]
        return merge_reranked(parts, self._run_many(calls, concurrency, None, return_exceptions=True))

    def model_settings(self) -> list[ModelSettings]:
        """The models this host serves with their settings (`GET /model-settings`: status, context, embedding type).
        On a host without it (404), `/models_available` as settings (their models embed through `/embed`: `raw`)."""
        try:
            response = self._send("GET", "model-settings")
        except UnknownModelError:
            return [ModelSettings.from_info(info) for info in self.models_available()]
        return self._parse_model_settings(response)

    def resolve_endpoint(self, settings: EmbeddingSettings) -> EmbeddingSettings:
        """`settings` with `endpoint="auto"` made the endpoint its model is meant for (`aleph_embed.texts.endpoint_for`),
        read once per model from `/model-settings` (`embed` on a host without it or `/models_available`); other
        settings as they are. An option that does not apply to the chosen endpoint is a `ConfigurationError`."""
        if settings.endpoint != "auto":
            return settings
        if settings.model not in self._endpoints:
            try:
                listed: list[ModelSettings] | None = self.model_settings()
            except UnknownModelError:  # neither /model-settings nor /models_available
                listed = None
            self._endpoints[settings.model] = endpoint_for(settings.model, listed)
        return settings.with_endpoint(self._endpoints[settings.model])

    def models_available(self) -> list[ModelInfo]:
        """The models this host serves."""
        return self._parse_models(self._send("GET", "models_available"))

    def tokenize(self, request: TokenizeRequest | Mapping[str, Any]) -> TokenizeResponse:
        """`POST /tokenize`: the prompt's tokens and/or token ids (without the model's special tokens)."""
        response = self._send("POST", "tokenize", **self._json(request, TokenizeRequest))
        return self._parse(response, TokenizeResponse, "/tokenize", "a tokenization")

    def detokenize(self, request: DetokenizeRequest | Mapping[str, Any]) -> DetokenizeResponse:
        """`POST /detokenize`: the text of token ids."""
        response = self._send("POST", "detokenize", **self._json(request, DetokenizeRequest))
        return self._parse(response, DetokenizeResponse, "/detokenize", "a detokenization")

    def tokenizer(self, model: str) -> Tokenizer:
        """The model's own `tokenizers.Tokenizer` (`GET /models/{model}/tokenizer`), counting as `/embed` counts:
        special tokens included, no truncation. Kept in memory and on disk, keyed by host and model.

        Raises `UnknownModelError` (404) when the host has no such model or no tokenizer endpoint.
        """
        from . import _tokenizers

        cached = _tokenizers.remembered(self.host, model) or _tokenizers.from_disk(self.host, model)
        if cached is not None:
            return cached
        return self._stored_tokenizer(model, self._send("GET", self._tokenizer_path(model)))

    def context_size(self, model: str) -> int:
        """The model's `max_context_size` from `/models_available` (raises `UnknownModelError`)."""
        return self._context_size(self.models_available(), model)

    def chunker(self, model: str, *, max_tokens: int = DEFAULT_CHUNK_TOKENS, overlap: int | None = None) -> Chunker:
        """A `Chunker` for `model`: its own tokenizer, `max_tokens` capped at its context. On a host without the
        tokenizer endpoint, sizes are estimated and `embed_chunks` lets the server's verdict split further."""
        tokenizer, context = self.context_basis(model)
        return self._chunker(tokenizer, context, max_tokens, overlap)

    def context_basis(self, model: str) -> tuple[Tokenizer | None, int]:
        """The model's tokenizer (None when the host has no tokenizer endpoint) and context size, kept."""
        if model not in self._bases:
            context = self.context_size(model)
            try:
                tokenizer: Tokenizer | None = self.tokenizer(model)
            except UnknownModelError:
                tokenizer = None
            self._bases[model] = (tokenizer, context)
        return self._bases[model]

    def embed_chunks(
        self, text: str, chunks: Sequence[Chunk], settings: EmbeddingSettings, chunker: Chunker, *, prefix: str = "",
        layers: Sequence[int] = (), pooling: Sequence[Pooling] = (), concurrency: int | None = None,
    ) -> list[EmbeddedChunk]:
        """Embed the `chunks` of `text` (many calls in flight). A chunk the server rejects as longer than the
        context is split in two and sent again, never cut silently; the result is numbered from 0 in text order.
        Other failures raise `BatchEmbedError` keyed by chunk index."""
        rounds = ChunkRounds([(text, chunks)], settings, chunker, prefix=prefix, layers=layers, pooling=pooling)
        while rounds.pending:
            rounds.record(self.embed_many(rounds.requests(), concurrency=concurrency, return_exceptions=True))
        return rounds.outcome(0)
