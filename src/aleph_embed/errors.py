"""Typed errors. Everything raised at run time derives from `AlephEmbedError`."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx
    from pydantic import ValidationError



RETRYABLE_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
MAX_ERROR_MESSAGE_CHARS = 1000
"""Characters of a server's error message kept in an exception (and so in logs and failures files); here, not in
`config`, which imports this module."""


class AlephEmbedError(Exception):
    """Base class of every error this library raises at run time."""


class ConfigurationError(AlephEmbedError, ValueError):
    """The client is missing a setting (host, token) or has an invalid one."""


class MissingExtraError(ConfigurationError):
    """A feature needs an optional extra that is not installed; the message says what to `pip install`."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        super().__init__(f"{feature} needs {missing}, which is not installed: pip install 'aleph-embed[{extra}]'")
        self.extra = extra

    @classmethod
    def check(cls, feature: str, extra: str, *modules: str) -> None:
        """Raise naming `pip install 'aleph-embed[extra]'` when a module that `feature` needs is missing."""
        for module in modules:
            if not installed(module):
                raise cls(feature, extra, module)


def installed(module: str) -> bool:
    """Whether `module` can be imported (without importing it)."""
    if module in sys.modules:
        return sys.modules[module] is not None  # None: blocked on purpose (as tests do)
    return importlib.util.find_spec(module) is not None


class ServerStartError(AlephEmbedError, RuntimeError):
    """The local server exited or did not become healthy in time; the message carries its output."""


class EmptyTextError(AlephEmbedError, ValueError):
    """A text is empty (the API rejects empty prompts)."""


class TransportError(AlephEmbedError):
    """The request did not get an HTTP answer (connection refused or reset, timeout, ...)."""


class InvalidResponseError(AlephEmbedError):
    """The server answered with success, but not in the shape of the API (e.g. a proxy's HTML page, a vector with
    NaN, vectors of different dimensions, a layer or pooling missing); the message names what is wrong."""


class ResponseTooLargeError(InvalidResponseError):
    """The answer's body (counted after decompression, while it streams) is over the client's `max_response_bytes`."""


class APIStatusError(AlephEmbedError):
    """The server answered with an error status. `message` and `code` are the server's own."""

    status_code: int = 0

    def __init__(self, message: str, *, status_code: int, code: str | None = None, headers: httpx.Headers | None = None):
        self.message = message
        self.status_code = status_code
        self.code = code
        if headers is None:
            import httpx  # here: the CLI's start-up imports this module, not httpx

            headers = httpx.Headers()
        self.headers = headers
        label = f"{status_code} {code}" if code else str(status_code)
        super().__init__(f"{label}: {message}")

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait (`Retry-After`), if any."""
        return parse_retry_after(self.headers.get("retry-after"))


class BadRequestError(APIStatusError):
    """400: the request is invalid (`PAYLOAD_ERROR`). Change the request; retrying does not help."""


class AuthenticationError(APIStatusError):
    """401: the token is missing or wrong. Set `token=` or `AA_TOKEN`."""


class QuotaExceededError(APIStatusError):
    """402: the account has no credits left."""


class UnknownModelError(APIStatusError):
    """404: the model does not exist on this host (see `models_available()`)."""


class PayloadTooLargeError(APIStatusError):
    """413: the request body is over the server's size limit; send fewer or smaller prompt items."""


class RequestTimeoutError(APIStatusError):
    """408: the server gave up on the request."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried with backoff, raised when retries run out."""


class ServerError(APIStatusError):
    """5xx: the server failed."""


class ServerBusyError(ServerError):
    """503 (`QUEUE_FULL`): the server sheds load; retried with backoff, raised when retries run out."""


class BatchEmbedError(AlephEmbedError):
    """Some items of `embed_many` failed. Nothing is lost: `results` holds every item's response
    (None where it failed) and `errors` maps each failed item's index to its error."""

    def __init__(self, results: list[Any], errors: Mapping[int, Exception]):
        self.results = results
        self.errors = dict(errors)
        super().__init__(f"{len(errors)} of {len(results)} items failed; " + describe_failures(errors, "item"))


class TextEmbedError(BatchEmbedError):
    """Some texts could not be embedded. `errors` maps each failed text's index in the caller's list to its error;
    `results` holds the responses at the texts' positions (None where a text failed or was skipped). Given the
    `texts`, the message quotes the start of each failed one."""

    def __init__(self, results: list[Any], errors: Mapping[int, Exception], texts: Sequence[str] = ()):
        super().__init__(results, errors)
        self.texts = texts
        head = "" if len(errors) == 1 else f"{len(errors)} of {len(results)} texts failed; "
        hint = ""
        if any(is_context_error(e) for e in errors.values()):
            hint = (
                ". Split such texts (aleph_embed.Chunker, or the frameworks' splitters sized by the model's tokenizer), "
                "or set long_text='truncate' or 'average' (CLI: --long-text)"
            )
        elif any(isinstance(e, BadRequestError) for e in errors.values()):
            hint = ". The API rejects such texts as they are"
        self.args = (head + describe_failures(errors, "text", texts) + hint,)

    def placed(self, positions: Sequence[int], total: int, texts: Sequence[str] = ()) -> TextEmbedError:
        """The same failures for texts that sit at `positions` of a list of `total` texts (e.g. the caller's list,
        where a framework handed over a batch of it)."""
        results: list[Any] = [None] * total
        for position, result in zip(positions, self.results):
            results[position] = result
        return TextEmbedError(results, {positions[i]: error for i, error in self.errors.items()}, texts)


_CONTEXT_MESSAGE = re.compile(r"\bcontext\b|too long|too many tokens|maximum (number of )?tokens", re.IGNORECASE)


def is_context_error(error: BaseException) -> bool:
    """Whether the server rejected a prompt as longer than the model's context (a 400 that says so)."""
    return isinstance(error, BadRequestError) and bool(_CONTEXT_MESSAGE.search(error.message))


def describe_failures(errors: Mapping[int, Exception], label: str, items: Sequence[str] = ()) -> str:
    """The first three failures by index (`label i: ErrorType: message`, with the start of the item when `items`
    are given), and how many more there are."""

    def name(i: int) -> str:
        return f"{label} {i} ({' '.join(items[i][:40].split())!r}...)" if i < len(items) else f"{label} {i}"

    first = [f"{name(i)}: {type(e).__name__}: {e}" for i, e in sorted(errors.items())[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(first) + more


_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: QuotaExceededError,
    404: UnknownModelError,
    408: RequestTimeoutError,
    413: PayloadTooLargeError,
    422: BadRequestError,
    429: RateLimitError,
    503: ServerBusyError,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    from datetime import datetime, timezone

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_from_response(response: httpx.Response) -> APIStatusError:
    """The typed error for an error response; JSON `{"error", "code"}` and plain-text bodies alike. The message is
    cut at `MAX_ERROR_MESSAGE_CHARS`, so a huge body never travels on in exceptions, logs or failures files."""
    text = response.text
    message, code = text.strip() or response.reason_phrase, None
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        message = str(body.get("error") or body.get("message") or body.get("detail") or message)
        code = body.get("code")
        code = code[:100] if isinstance(code, str) else None
    status = response.status_code
    cls = _STATUS_ERRORS.get(status) or (ServerError if status >= 500 else APIStatusError)
    return cls(shortened(message), status_code=status, code=code, headers=response.headers)


def is_overload(response: httpx.Response) -> bool:
    """Whether the server answered that it is full: 429 (request rate, parallel tasks) or 503 `QUEUE_FULL`."""
    return response.status_code == 429 or (
        response.status_code == 503 and error_from_response(response).code == "QUEUE_FULL"
    )


def shortened(text: str, limit: int = MAX_ERROR_MESSAGE_CHARS) -> str:
    """`text` cut at `limit` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def validation_summary(error: ValidationError, limit: int = 3) -> str:
    """The first `limit` problems of a pydantic error on one line (`where: what`), and how many more there are."""
    problems = error.errors(include_url=False, include_input=False)
    first = [_problem(".".join(map(str, p["loc"])), p["msg"].removeprefix("Value error, ")) for p in problems[:limit]]
    more = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    return shortened("; ".join(first) + more)


def _problem(where: str, what: str) -> str:
    return f"{where}: {what}" if where else what
