"""Retries: exponential backoff with full jitter, honouring `Retry-After`, bounded by count and total time.

One loop shape serves every caller: `RetryPolicy.run` / `arun` call an attempt until a classifier says the outcome
is final, and hand back that outcome (a result, or the attempt's exception raised again). The classifier sees each
outcome, a result or an exception, and answers `Retry(after=...)` for a transient failure or None for a final one:

```python
policy = RetryPolicy(max_retries=None, deadline=120.0)        # only the deadline bounds it
points = policy.run(lambda: qdrant.upsert(...), classify=lambda outcome: Retry() if is_transient(outcome) else None)
```
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar, Union

from .config import DEFAULT_MAX_RETRIES, DEFAULT_RETRY_DEADLINE

_T = TypeVar("_T")


@dataclass(frozen=True)
class Retry:
    """A classifier's verdict: the outcome is a transient failure; try again, not before `after` seconds if given
    (e.g. from `Retry-After`)."""

    after: float | None = None


Outcome = Union[_T, Exception]
Classifier = Callable[[Union[_T, Exception]], Union[Retry, None]]
OnRetry = Callable[[Union[_T, Exception], float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. `max_retries=None` leaves only the `deadline` (seconds since the first
    attempt; no retry starts whose wait would end past it) as the bound."""

    max_retries: int | None = DEFAULT_MAX_RETRIES
    deadline: float = DEFAULT_RETRY_DEADLINE
    initial_delay: float = 0.25
    max_delay: float = 30.0

    def start(self) -> RetryState:
        """The retry state of one operation."""
        return RetryState(self)

    def run(self, attempt: Callable[[], _T], classify: Classifier[_T], *, on_retry: OnRetry[_T] | None = None) -> _T:
        """Call `attempt` until `classify` calls its outcome final or retries run out; return the last result or
        raise the last exception. `on_retry(outcome, delay)` is told of each retry before its wait."""
        state = self.start()
        while True:
            try:
                outcome: _T | Exception = attempt()
            except Exception as error:  # the classifier decides; a final one is raised again below
                outcome = error
            delay = state.after(outcome, classify, on_retry)
            if delay is None:
                return _final(outcome)
            time.sleep(delay)

    async def arun(
        self, attempt: Callable[[], Awaitable[_T]], classify: Classifier[_T], *, on_retry: OnRetry[_T] | None = None
    ) -> _T:
        """`run` for async attempts."""
        state = self.start()
        while True:
            try:
                outcome: _T | Exception = await attempt()
            except Exception as error:  # the classifier decides; a final one is raised again below
                outcome = error
            delay = state.after(outcome, classify, on_retry)
            if delay is None:
                return _final(outcome)
            await asyncio.sleep(delay)


@dataclass
class RetryState:
    """The attempts of one operation so far."""

    policy: RetryPolicy
    retries: int = 0
    started: float = field(default_factory=time.monotonic)

    def after(self, outcome: _T | Exception, classify: Classifier[_T], on_retry: OnRetry[_T] | None) -> float | None:
        """The wait before the next attempt, or None when `outcome` is final (or retries have run out)."""
        verdict = classify(outcome)
        delay = self.next_delay(verdict.after) if verdict is not None else None
        if delay is not None and on_retry is not None:
            on_retry(outcome, delay)
        return delay

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """The wait before the next attempt of a transient failure, or None when retries or time have run out."""
        policy = self.policy
        if policy.max_retries is not None and self.retries >= policy.max_retries:
            return None
        backoff = random.uniform(0, min(policy.max_delay, policy.initial_delay * 2 ** min(self.retries, 32)))
        delay = max(backoff, retry_after or 0.0)
        if time.monotonic() - self.started + delay > policy.deadline:
            return None
        self.retries += 1
        return delay


def _final(outcome: _T | Exception) -> _T:
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
