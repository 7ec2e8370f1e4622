"""What both clients share: configuration, request building, the streamed answer under its limits, parsing,
retry classification and usage accounting. `EmbedClient` (`client.py`) and `AsyncEmbedClient` (`async_client.py`)
add the sending, sync or async."""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast
from urllib.parse import quote

import httpx
from pydantic import BaseModel, RootModel, SecretStr, ValidationError

from .config import (
    DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_TIMEOUT,
    MAX_ERROR_BODY_BYTES,
    check_host,
    redact_url,
    resolve_token,
    split_credentials,
)
from ._version import __version__
from .bulk import LoadWindow, admitted
from .chunking import Chunker, estimated_tokens
from .errors import (
    RETRYABLE_STATUS_CODES,
    AlephEmbedError,
    ConfigurationError,
    InvalidResponseError,
    ResponseTooLargeError,
    TransportError,
    UnknownModelError,
    error_from_response,
    is_overload,
    parse_retry_after,
    validation_summary,
)
from .models import ApiAnswer, ApiRequest, ModelInfo, ModelSettings
from .retry import Retry, RetryPolicy
from .texts import Endpoint
from .shared_host import host_or_shared

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger("aleph_embed")

_Model = TypeVar("_Model", bound=BaseModel)
_Answer = TypeVar("_Answer", bound=ApiAnswer)
_Request = TypeVar("_Request", bound=ApiRequest)
_Http = TypeVar("_Http", httpx.Client, httpx.AsyncClient)


class _ModelList(RootModel[list[ModelInfo]]):
    """A `/models_available` answer."""


class _ModelSettingsList(RootModel[list[ModelSettings]]):
    """A `/model-settings` answer."""


_CONNECTIONS_PER_POOL = 8
POOL_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=2 * _CONNECTIONS_PER_POOL)
"""The limits of each of a client's own connection pools."""
_DECODED_AWAY = (b"content-encoding", b"content-length", b"transfer-encoding")


@dataclass
class Usage:
    """What a client has spent: successful requests, retries, failed requests and prompt tokens; how often the
    server said it was full (`overloads`: 503 `QUEUE_FULL`, 429) and the fewest calls in flight a bulk run went down
    to because of it (`lowest_concurrency`; None: never lowered)."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    overloads: int = 0
    lowest_concurrency: int | None = None

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


class BaseClient(Generic[_Http]):
    """The state and the sans-IO steps of a client; `EmbedClient` / `AsyncEmbedClient` send."""

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
        adapt_concurrency: bool,
    ) -> None:
        host, token, _ = host_or_shared(host, token)  # no host: the CLI's shared local server
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
        self.adapt_concurrency = adapt_concurrency
        self.usage = Usage()
        self._usage_lock = threading.Lock()
        self._headers = {
            "User-Agent": f"aleph-embed/{__version__}",
            "Accept-Encoding": "gzip, deflate",
            "Content-Type": "application/json",
        }
        self._urls: dict[str, httpx.URL] = {}
        self._bases: dict[str, tuple[Tokenizer | None, int]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._headers.update(default_headers or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(host={self.host!r}, token={'**********' if self.token else None})"

    def _open_pools(self, given: _Http | None, make: Callable[[ssl.SSLContext | bool], _Http]) -> None:
        """Use the caller's httpx client, or our own pools (`make(verify)`): httpcore's pool bookkeeping grows with the
        square of its connections, so many calls in flight are spread round-robin over small pools (~8 connections
        each). They share one TLS context (loading the CA certificates is the cost of a pool), none for http://."""
        self._owns_http = given is None
        count = -(-self.concurrency // _CONNECTIONS_PER_POOL)
        if given is not None:
            self._pools: list[_Http] = [given]
        else:
            verify = False if httpx.URL(self._base).scheme == "http" else httpx.create_ssl_context()
            self._pools = [make(verify) for _ in range(count)]
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
            if isinstance(outcome, httpx.Response) and is_overload(outcome):
                self._overloaded()
            what = f"HTTP {outcome.status_code}" if isinstance(outcome, httpx.Response) else type(outcome).__name__
            logger.info("retrying %s %s in %.2fs after %s", request.method, request.url.path, delay, what)

        return on_retry

    def _final(self, response: httpx.Response) -> httpx.Response:
        """A successful response, or the typed error of the final failed one."""
        if response.is_success:
            return response
        self._count(failures=1)
        if is_overload(response):
            self._overloaded()
        raise error_from_response(response)

    def _overloaded(self) -> None:
        """The server said it is full: counted, and the bulk run of this call (if any) narrows its window."""
        with self._usage_lock:
            self.usage.overloads += 1
        call = admitted.get()
        if call is not None:
            call[0].overloaded(call[1])

    def _window(self, concurrency: int | None, calls: int = 0) -> LoadWindow:
        """The load window of a bulk run: `concurrency` (else the client's) calls in flight at most, `calls` when
        fewer."""
        limit = concurrency or self.concurrency
        return LoadWindow(min(limit, calls) if calls else limit, self.adapt_concurrency)

    def _ran(self, window: LoadWindow) -> None:
        """Record how far a finished bulk run narrowed its window."""
        if window.lowest < window.limit:
            with self._usage_lock:
                lowest = self.usage.lowest_concurrency
                self.usage.lowest_concurrency = window.lowest if lowest is None else min(lowest, window.lowest)

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

    def _parse_model_settings(self, response: httpx.Response) -> list[ModelSettings]:
        return self._validated(response, _ModelSettingsList, "/model-settings", "a list of model settings").root

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

def classify_http(outcome: httpx.Response | Exception) -> Retry | None:
    """Transient HTTP failures: connection errors and the retryable statuses (with their `Retry-After`)."""
    if isinstance(outcome, httpx.Response):
        if outcome.status_code in RETRYABLE_STATUS_CODES:
            return Retry(parse_retry_after(outcome.headers.get("retry-after")))
        return None
    return Retry() if isinstance(outcome, httpx.TransportError) else None
