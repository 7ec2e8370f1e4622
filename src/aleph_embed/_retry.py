"""Retry decisions shared by the sync and async clients."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

import httpx

from .errors import RETRYABLE_STATUS_CODES, AlephEmbedError, TransportError, error_from_response, parse_retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, honouring `Retry-After`, bounded by count and total time."""

    max_retries: int = 5
    deadline: float = 600.0
    initial_delay: float = 0.25
    max_delay: float = 30.0

    def start(self) -> RetryState:
        return RetryState(self)


@dataclass
class RetryState:
    """The attempts of one request: after each failed attempt, the delay before the next or the final error."""

    policy: RetryPolicy
    retries: int = 0
    started: float = field(default_factory=time.monotonic)

    def delay_or_raise(self, outcome: httpx.Response | httpx.TransportError) -> float:
        asked = parse_retry_after(outcome.headers.get("retry-after")) if isinstance(outcome, httpx.Response) else None
        delay = self.next_delay(asked) if _retryable(outcome) else None
        if delay is None:
            raise _error(outcome)
        return delay

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """The wait before the next attempt of a transient failure, or None when retries or time have run out."""
        if self.retries >= self.policy.max_retries:
            return None
        backoff = random.uniform(0, min(self.policy.max_delay, self.policy.initial_delay * 2**self.retries))
        delay = max(backoff, retry_after or 0.0)
        if time.monotonic() - self.started + delay > self.policy.deadline:
            return None
        self.retries += 1
        return delay


def _retryable(outcome: httpx.Response | httpx.TransportError) -> bool:
    if isinstance(outcome, httpx.Response):
        return outcome.status_code in RETRYABLE_STATUS_CODES
    return True


def _error(outcome: httpx.Response | httpx.TransportError) -> AlephEmbedError:
    if isinstance(outcome, httpx.Response):
        return error_from_response(outcome)
    error = TransportError(f"{type(outcome).__name__}: {outcome or 'no details'} ({outcome.request.method} {outcome.request.url})")
    error.__cause__ = outcome
    return error
