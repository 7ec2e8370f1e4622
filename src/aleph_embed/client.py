"""Sync and async `/embed` clients on httpx, with retries, bounded concurrency and usage accounting."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import itertools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast, overload
from urllib.parse import quote

import httpx
from pydantic import BaseModel, RootModel, SecretStr, ValidationError

from ._config import (
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_DEADLINE,
    DEFAULT_TIMEOUT,
    MAX_ERROR_BODY_BYTES,
    NO_HOST_MESSAGE,
    check_host,
    redact_url,
    resolve_host,
    resolve_token,
    split_credentials,
)
from ._version import __version__
from .errors import (
    RETRYABLE_STATUS_CODES,
    AlephEmbedError,
    BatchEmbedError,
    ConfigurationError,
    InvalidResponseError,
    ResponseTooLargeError,
    TransportError,
    UnknownModelError,
    error_from_response,
    parse_retry_after,
    validation_summary,
)
from .chunking import Chunk, Chunker, EmbeddedChunk, _ChunkRounds, estimated_tokens
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
    Pooling,
    SemanticEmbedRequest,
    SemanticEmbedResponse,
    TokenizeRequest,
    TokenizeResponse,
)
from .retry import Retry, RetryPolicy
from .texts import EmbeddingSettings, Side, TextBatch, spread

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger("aleph_embed")

ProgressCallback = Callable[[int, int], None]
"""`on_progress(done, total)` of `embed_many`."""
_T = TypeVar("_T")
_Model = TypeVar("_Model", bound=BaseModel)
_Answer = TypeVar("_Answer", bound=ApiAnswer)
_Request = TypeVar("_Request", bound=ApiRequest)
_Http = TypeVar("_Http", httpx.Client, httpx.AsyncClient)


class _ModelList(RootModel[list[ModelInfo]]):
    """A `/models_available` answer."""


_CONNECTIONS_PER_POOL = 8
_POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=2 * _CONNECTIONS_PER_POOL)
_DECODED_AWAY = (b"content-encoding", b"content-length", b"transfer-encoding")


@dataclass
class Usage:
    """What a client has spent: successful requests, retries, failed requests and prompt tokens."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0

    def add(self, *, requests: int = 0, retries: int = 0, failures: int = 0, prompt_tokens: int = 0) -> None:
        self.requests += requests
        self.retries += retries
        self.failures += failures
        self.prompt_tokens += prompt_tokens


_METERS: contextvars.ContextVar[tuple[Usage, ...]] = contextvars.ContextVar("aleph_embed_meters", default=())
_METERS_LOCK = threading.Lock()


@contextlib.contextmanager
def metered() -> Iterator[Usage]:
    """What the calls made inside the block spend, on any client: the calls of this thread or task and of the calls
    it fans out, not those of other callers sharing the clients (per-call usage for the frameworks). Nestable.

    ```python
    with metered() as usage:
        client.embed_texts(texts, settings)
    print(usage.prompt_tokens)
    ```
    """
    usage = Usage()
    token = _METERS.set((*_METERS.get(), usage))
    try:
        yield usage
    finally:
        _METERS.reset(token)


class _BaseClient(Generic[_Http]):
    def __init__(
        self,
        host: str | None,
        token: str | SecretStr | None,
        *,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        retry_deadline: float,
        concurrency: int,
        default_headers: Mapping[str, str] | None,
        max_response_bytes: int,
        attempt_timeout: float | None,
    ) -> None:
        host = resolve_host(host)
        if not host:
            raise ConfigurationError(NO_HOST_MESSAGE)
        if concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if max_response_bytes < 1 or (attempt_timeout is not None and attempt_timeout <= 0):
            raise ConfigurationError("max_response_bytes and attempt_timeout must be positive")
        checked = check_host(host)
        self._base, self._basic = split_credentials(checked)
        self.host = redact_url(checked)
        """The base URL, credentials (`user:password@`, sent as Basic auth) shown as `***@`."""
        token = token if isinstance(token, SecretStr) else resolve_token(token)
        self.token: SecretStr | None = SecretStr(token) if isinstance(token, str) else token
        self.timeout = DEFAULT_TIMEOUT if timeout is None else httpx.Timeout(timeout)
        self.max_response_bytes = max_response_bytes
        self.attempt_timeout: float = attempt_timeout or (
            DEFAULT_ATTEMPT_TIMEOUT if timeout is None else self.timeout.read or DEFAULT_ATTEMPT_TIMEOUT
        )
        self.retry_policy = RetryPolicy(max_retries=max_retries, deadline=retry_deadline)
        self.concurrency = concurrency
        self.usage = Usage()
        self._usage_lock = threading.Lock()
        self._headers = {
            "User-Agent": f"aleph-embed/{__version__}",
            "Accept-Encoding": "gzip, deflate",
            "Content-Type": "application/json",
        }
        self._urls: dict[str, httpx.URL] = {}
        self._bases: dict[str, tuple[Tokenizer | None, int]] = {}
        self._headers.update(default_headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, token={'**********' if self.token else None})"

    def _open_pools(self, given: _Http | None, make: Callable[[], _Http]) -> None:
        """Use the caller's httpx client, or our own pools: httpcore's pool bookkeeping grows with the square of its
        connections, so many calls in flight are spread round-robin over small pools (~8 connections each)."""
        self._owns_http = given is None
        count = -(-self.concurrency // _CONNECTIONS_PER_POOL)
        self._pools: list[_Http] = [given] if given is not None else [make() for _ in range(count)]
        self._next_pool: Callable[[], _Http] = itertools.cycle(self._pools).__next__

    def _build(self, http: _Http, method: str, path: str, **kwargs: Any) -> httpx.Request:
        headers = self._headers
        authorization = self._basic or (f"Bearer {self.token.get_secret_value()}" if self.token is not None else None)
        if authorization is not None:
            headers = {**headers, "Authorization": authorization}
        url = self._urls.get(path) or self._urls.setdefault(path, httpx.URL(f"{self._base}/{path}"))
        return http.build_request(method, url, headers=headers, timeout=self.timeout, **kwargs)

    def _body(self, response: httpx.Response, started: float) -> _Body:
        """The reader of `response`'s body under this client's limits (the attempt began at `started`)."""
        limit = self.max_response_bytes if response.is_success else MAX_ERROR_BODY_BYTES
        return _Body(response, limit, started + self.attempt_timeout, self.attempt_timeout)

    @staticmethod
    def _post_arguments(request: ApiRequest) -> dict[str, Any]:
        return {"content": request.body_json(), "params": request.params() or None}

    def _count(self, *, requests: int = 0, retries: int = 0, failures: int = 0, prompt_tokens: int = 0) -> None:
        counts = {"requests": requests, "retries": retries, "failures": failures, "prompt_tokens": prompt_tokens}
        with self._usage_lock:
            self.usage.add(**counts)
        if meters := _METERS.get():
            with _METERS_LOCK:
                for meter in meters:
                    meter.add(**counts)

    def _on_retry(self, request: httpx.Request) -> Callable[[httpx.Response | Exception, float], None]:
        def on_retry(outcome: httpx.Response | Exception, delay: float) -> None:
            self._count(retries=1)
            what = f"HTTP {outcome.status_code}" if isinstance(outcome, httpx.Response) else type(outcome).__name__
            logger.info("retrying %s %s in %.2fs after %s", request.method, request.url.path, delay, what)

        return on_retry

    def _final(self, response: httpx.Response) -> httpx.Response:
        """A successful response, or the typed error of the final failed one."""
        if response.is_success:
            return response
        self._count(failures=1)
        raise error_from_response(response)

    def _failure(self, error: httpx.TransportError | ResponseTooLargeError) -> AlephEmbedError:
        """The typed error of a request that got no usable answer (counted as a failure); credentials in the
        URL never show."""
        self._count(failures=1)
        if isinstance(error, ResponseTooLargeError):
            return error
        url = redact_url(str(error.request.url))
        failure = TransportError(f"{type(error).__name__}: {error or 'no details'} ({error.request.method} {url})")
        failure.__cause__ = error
        return failure

    def _parse(
        self, response: httpx.Response, model: type[_Model], endpoint: str, what: str, request: Any = None
    ) -> _Model:
        """A success body as `model` (counted as one request), or `InvalidResponseError` (counted as a failure)
        saying it is not `what` and why (the first problems: where, what). `request` is checked against, if given
        (e.g. the answer holds every layer and pooling asked for)."""
        parsed = self._validated(response, model, endpoint, what, request)
        self._count(requests=1)
        return parsed

    def _validated(
        self, response: httpx.Response, model: type[_Model], endpoint: str, what: str, request: Any = None
    ) -> _Model:
        """`_parse` without counting a request."""
        try:
            return model.model_validate_json(response.content, context={"request": request})
        except ValidationError as error:
            self._count(failures=1)
            raise InvalidResponseError(f"the {endpoint} answer is not {what}: {validation_summary(error)}") from None

    def _parse_models(self, response: httpx.Response) -> list[ModelInfo]:
        return self._validated(response, _ModelList, "/models_available", "a list of models").root

    def _answer(self, response: httpx.Response, request: ApiRequest, answer: type[_Answer]) -> _Answer:
        parsed = self._parse(response, answer, f"/{request.path}", "an embedding response", request)
        self._count(prompt_tokens=parsed.prompt_tokens)
        return cast(_Answer, parsed.received(request))

    @staticmethod
    def _as(request: _Request | Mapping[str, Any], model: type[_Request]) -> _Request:
        return request if isinstance(request, model) else model.model_validate(request)

    @staticmethod
    def _json(request: BaseModel | Mapping[str, Any], model: type[_Model]) -> dict[str, Any]:
        body = request if isinstance(request, model) else model.model_validate(request)
        return {"content": body.model_dump_json().encode()}

    @staticmethod
    def _tokenizer_path(model: str) -> str:
        return f"models/{quote(model, safe='')}/tokenizer"

    def _stored_tokenizer(self, model: str, response: httpx.Response) -> Tokenizer:
        from . import _tokenizers

        self._count(requests=1)
        return _tokenizers.store(self.host, model, response.content)

    @staticmethod
    def _context_size(models: list[ModelInfo], model: str) -> int:
        for info in models:
            if info.name == model:
                return info.max_context_size
        names = sorted(info.name for info in models)
        raise UnknownModelError(f"model {model!r} is not served here; available: {names}", status_code=404)

    @staticmethod
    def _chunker(tokenizer: Tokenizer | None, context: int, max_tokens: int, overlap: int | None) -> Chunker:
        if tokenizer is None:
            logger.info("no tokenizer endpoint: chunk sizes are estimated, the server's verdict splits further")
        return Chunker(tokenizer or estimated_tokens, max_tokens=max_tokens, overlap=overlap, context=context)


class _Body:
    """One answer's body as it streams in, decoded: kept up to `limit` bytes (an error body is cut there, a success
    body over it raises `ResponseTooLargeError`), and the attempt's deadline checked at each chunk."""

    __slots__ = ("_response", "_limit", "_deadline", "_attempt_timeout", "_chunks", "_size")

    def __init__(self, response: httpx.Response, limit: int, deadline: float, attempt_timeout: float) -> None:
        self._response = response
        self._limit = limit
        self._deadline = deadline
        self._attempt_timeout = attempt_timeout
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> bool:
        """Keep `chunk`; True when the rest is not wanted (an error body's first `limit` bytes are in)."""
        if time.monotonic() > self._deadline:
            raise overtime(self._response.request, self._attempt_timeout)
        self._size += len(chunk)
        if self._size <= self._limit:
            self._chunks.append(chunk)
            return False
        if self._response.is_success:
            raise ResponseTooLargeError(
                f"the answer to {self._response.request.method} {self._response.request.url.path} is over "
                f"max_response_bytes={self._limit} (decompressed); raise max_response_bytes if that is expected"
            )
        self._chunks.append(chunk[: len(chunk) - (self._size - self._limit)])
        return True

    def response(self) -> httpx.Response:
        """The answer with its decoded body in memory."""
        streamed = self._response
        headers = [(key, value) for key, value in streamed.headers.raw if key.lower() not in _DECODED_AWAY]
        return httpx.Response(
            streamed.status_code, headers=headers, content=b"".join(self._chunks), request=streamed.request,
            extensions=streamed.extensions,
        )


def overtime(request: httpx.Request, attempt_timeout: float) -> httpx.ReadTimeout:
    """The timeout of an attempt that ran past `attempt_timeout` (retried like any timeout)."""
    return httpx.ReadTimeout(f"no complete answer within attempt_timeout={attempt_timeout:g}s", request=request)


class _Batch:
    """Collects the results of `embed_many` in input order, reports progress, keeps every success."""

    def __init__(self, total: int, on_progress: ProgressCallback | None, return_exceptions: bool) -> None:
        self.results: list[Any] = [None] * total
        self.errors: dict[int, Exception] = {}
        self._done = 0
        self._lock = threading.Lock()
        self._on_progress = on_progress
        self._return_exceptions = return_exceptions

    def record(self, index: int, call: Callable[[], _T]) -> None:
        try:
            self.results[index] = call()
        except Exception as error:  # every failure is reported with its item, none is lost in a worker
            self.errors[index] = error
        self._advance()

    async def arecord(self, index: int, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            self.results[index] = await call()
        except Exception as error:  # every failure is reported with its item
            self.errors[index] = error
        self._advance()

    def _advance(self) -> None:
        with self._lock:
            self._done += 1
            done = self._done
        if self._on_progress is not None:
            self._on_progress(done, len(self.results))

    def outcome(self) -> list[Any]:
        if self._return_exceptions:
            return [self.errors.get(i, result) for i, result in enumerate(self.results)]
        if self.errors:
            raise BatchEmbedError(self.results, self.errors)
        return self.results


class EmbedClient(_BaseClient[httpx.Client]):
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
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            host, token, timeout=timeout, max_retries=max_retries, retry_deadline=retry_deadline,
            concurrency=concurrency, default_headers=default_headers, max_response_bytes=max_response_bytes,
            attempt_timeout=attempt_timeout,
        )
        self._open_pools(http_client, lambda: httpx.Client(limits=_POOL_LIMITS))

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
        batch = _Batch(len(calls), on_progress, return_exceptions)
        workers = min(concurrency or self.concurrency, len(calls))
        if workers:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aleph-embed")
            try:
                for index, call in enumerate(calls):  # each call in a copy of this context (its meters)
                    pool.submit(contextvars.copy_context().run, batch.record, index, call)
                pool.shutdown(wait=True)
            except BaseException:  # Ctrl-C: drop the calls not yet started instead of waiting for all of them
                pool.shutdown(wait=False, cancel_futures=True)
                raise
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
        `settings.long_text` "truncate" / "average" embed such texts (see `aleph_embed.long_text`).
        """
        if settings.long_text != "error":
            long = LongTexts(settings, texts, prefix, *self.context_basis(settings.model))
            while long.pending:
                long.record(self.embed_many(long.requests(), concurrency=concurrency, return_exceptions=True))
            return long.vectors(self.embed(settings.probe_request()) if long.needs_probe else None)
        batch = TextBatch(settings, texts, prefix, side)
        answers = self._run_many([functools.partial(self.call, call) for call in batch.calls], concurrency, None, True)
        return batch.vectors(answers, self.call(settings.probe_call(side)) if batch.needs_probe else None)

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
        rounds = _ChunkRounds([(text, chunks)], settings, chunker, prefix=prefix, layers=layers, pooling=pooling)
        while rounds.pending:
            rounds.record(self.embed_many(rounds.requests(), concurrency=concurrency, return_exceptions=True))
        return rounds.outcome(0)


class AsyncEmbedClient(_BaseClient[httpx.AsyncClient]):
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
        http_async_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            host, token, timeout=timeout, max_retries=max_retries, retry_deadline=retry_deadline,
            concurrency=concurrency, default_headers=default_headers, max_response_bytes=max_response_bytes,
            attempt_timeout=attempt_timeout,
        )
        self._open_pools(http_async_client, lambda: httpx.AsyncClient(limits=_POOL_LIMITS))

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
        batch = _Batch(len(calls), on_progress, return_exceptions)
        semaphore = asyncio.Semaphore(concurrency or self.concurrency)

        async def bounded(call: Callable[[], Awaitable[Any]]) -> Any:
            async with semaphore:
                return await call()

        await asyncio.gather(*(batch.arecord(index, functools.partial(bounded, call)) for index, call in enumerate(calls)))
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
        `settings.long_text` "truncate" / "average" embed such texts (see `aleph_embed.long_text`).
        """
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
        rounds = _ChunkRounds([(text, chunks)], settings, chunker, prefix=prefix, layers=layers, pooling=pooling)
        while rounds.pending:
            rounds.record(await self.embed_many(rounds.requests(), concurrency=concurrency, return_exceptions=True))
        return rounds.outcome(0)


def classify_http(outcome: httpx.Response | Exception) -> Retry | None:
    """Transient HTTP failures: connection errors and the retryable statuses (with their `Retry-After`)."""
    if isinstance(outcome, httpx.Response):
        if outcome.status_code in RETRYABLE_STATUS_CODES:
            return Retry(parse_retry_after(outcome.headers.get("retry-after")))
        return None
    return Retry() if isinstance(outcome, httpx.TransportError) else None


def merge_batches(
    parts: Sequence[BatchSemanticEmbedRequest], answers: Sequence[BatchSemanticEmbedResponse | Exception]
) -> BatchSemanticEmbedResponse:
    """The answers of a split `/batch_semantic_embed` as one; raises `BatchEmbedError` keyed by prompt index when
    calls failed (or answered the wrong number of vectors), with every other prompt's vector in `results`."""
    per_call = [answer if isinstance(answer, Exception) else answer.embeddings for answer in answers]
    vectors, errors = spread([part.count() for part in parts], per_call)
    if errors:
        raise BatchEmbedError(vectors, errors)
    done = cast(Sequence[BatchSemanticEmbedResponse], answers)
    return BatchSemanticEmbedResponse(
        model_version=done[0].model_version,
        embeddings=cast(list[list[float]], vectors),
        num_tokens_prompt_total=sum(answer.num_tokens_prompt_total for answer in done),
    )
