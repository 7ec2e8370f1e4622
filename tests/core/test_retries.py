"""Retries: which failures are retried, how long we wait, when we give up."""

from __future__ import annotations

import httpx
import pytest

from aleph_embed import (
    AuthenticationError,
    BadRequestError,
    QuotaExceededError,
    RateLimitError,
    RequestTimeoutError,
    ServerBusyError,
    ServerError,
    TransportError,
    UnknownModelError,
)

from .conftest import async_client, embed_answer, sync_client

REQUEST = {"model": "m", "prompt": "hello"}


def failing_then_ok(failures: list, calls: list):
    """Answer each call with the next failure (a Response, or an exception to raise), then succeed."""

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= len(failures):
            failure = failures[len(calls) - 1]
            if isinstance(failure, Exception):
                raise failure
            return httpx.Response(failure.status_code, headers=failure.headers, content=failure.content)
        return embed_answer(request)

    return handler


RETRYABLE = [
    httpx.Response(408, json={"error": "timeout", "code": "TIMEOUT"}),
    httpx.Response(429, json={"error": "slow down", "code": "TOO_MANY_REQUESTS"}),
    httpx.Response(500, json={"error": "oops", "code": "INTERNAL"}),
    httpx.Response(502, text="Bad Gateway"),
    httpx.Response(503, json={"error": "queue full", "code": "QUEUE_FULL"}),
    httpx.Response(504, text="<html>gateway timeout</html>"),
    httpx.ConnectError("connection refused"),
    httpx.ReadError("connection reset by peer"),
    httpx.RemoteProtocolError("server disconnected without sending a response"),
    httpx.ReadTimeout("read timed out"),
]


@pytest.mark.parametrize("failure", RETRYABLE, ids=lambda f: getattr(f, "status_code", type(f).__name__))
def test_transient_failures_are_retried(failure, no_sleep: list[float]) -> None:
    calls: list = []
    with sync_client(failing_then_ok([failure, failure], calls)) as client:
        response = client.embed(REQUEST)
    assert response.vector(-1, "mean")
    assert len(calls) == 3 and len(no_sleep) == 2
    assert client.usage.retries == 2 and client.usage.requests == 1 and client.usage.failures == 0


@pytest.mark.parametrize("failure", RETRYABLE, ids=lambda f: getattr(f, "status_code", type(f).__name__))
async def test_transient_failures_are_retried_async(failure, no_sleep: list[float]) -> None:
    calls: list = []
    async with async_client(failing_then_ok([failure], calls)) as client:
        await client.embed(REQUEST)
    assert len(calls) == 2 and client.usage.retries == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, BadRequestError), (401, AuthenticationError), (402, QuotaExceededError), (404, UnknownModelError)],
)
def test_caller_errors_raise_at_once(status: int, error: type, no_sleep: list[float]) -> None:
    calls: list = []
    with sync_client(failing_then_ok([httpx.Response(status, json={"error": "no", "code": "X"})], calls)) as client:
        with pytest.raises(error):
            client.embed(REQUEST)
    assert len(calls) == 1 and no_sleep == [] and client.usage.failures == 1


def test_retry_after_is_honoured(no_sleep: list[float]) -> None:
    failures = [
        httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "3"}),
        httpx.Response(503, text="busy", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
    ]
    with sync_client(failing_then_ok(failures, [])) as client:
        client.embed(REQUEST)
    assert no_sleep[0] >= 3.0
    assert no_sleep[1] < 1.0  # a date in the past asks for no wait


def test_backoff_grows_exponentially_with_jitter(no_sleep: list[float]) -> None:
    failures = [httpx.Response(503, json={"error": "busy", "code": "QUEUE_FULL"})] * 5
    with sync_client(failing_then_ok(failures, []), max_retries=5) as client:
        client.embed(REQUEST)
    for attempt, delay in enumerate(no_sleep):
        assert 0 <= delay <= client.retry_policy.initial_delay * 2**attempt


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.Response(503, json={"error": "queue full", "code": "QUEUE_FULL"}), ServerBusyError),
        (httpx.Response(429, text="slow down"), RateLimitError),
        (httpx.Response(408, text="timeout"), RequestTimeoutError),
        (httpx.Response(500, text="boom"), ServerError),
        (httpx.ConnectError("refused"), TransportError),
    ],
)
def test_gives_up_after_max_retries(failure, error: type, no_sleep: list[float]) -> None:
    calls: list = []
    with sync_client(failing_then_ok([failure] * 10, calls), max_retries=3) as client:
        with pytest.raises(error):
            client.embed(REQUEST)
    assert len(calls) == 4 and client.usage.retries == 3 and client.usage.failures == 1


def test_gives_up_when_the_deadline_would_pass(no_sleep: list[float]) -> None:
    failures = [httpx.Response(429, text="later", headers={"Retry-After": "120"})] * 3
    calls: list = []
    with sync_client(failing_then_ok(failures, calls), retry_deadline=60) as client:
        with pytest.raises(RateLimitError) as caught:
            client.embed(REQUEST)
    assert len(calls) == 1 and no_sleep == []
    assert caught.value.retry_after == 120
