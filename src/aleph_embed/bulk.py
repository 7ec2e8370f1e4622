"""Many calls as one: results in input order with progress, and a split `/batch_semantic_embed` or `/rerank`
merged back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from .errors import BatchEmbedError
from .models import (
    BatchSemanticEmbedRequest,
    BatchSemanticEmbedResponse,
    RerankRequest,
    RerankResponse,
    RerankResult,
    RerankUsage,
)
from .texts import spread

ProgressCallback = Callable[[int, int], None]
"""`on_progress(done, total)` of `embed_many`."""
_T = TypeVar("_T")


class LoadWindow:
    """The calls in flight of one bulk run, adapting to the server's load (AIMD): `limit` at first; each success
    adds 1/size (one more call per window of successes, never above `limit`); an answer that the server is full
    (503 `QUEUE_FULL`, 429) halves it (never below 1), once per window: answers to calls started before the last cut
    do not cut again. `adaptive=False` keeps `limit` throughout. Thread-safe; `changed` wakes blocked starters."""

    def __init__(self, limit: int, adaptive: bool = True) -> None:
        self.limit = limit
        self.adaptive = adaptive
        self.size = float(limit)
        self.lowest = limit
        self.overloads = 0
        self.in_flight = 0
        self.changed = threading.Condition()
        self._started = 0
        self._cut_after = 0

    def room(self) -> int:
        """How many more calls may start now."""
        return max(0, int(self.size) - self.in_flight)

    def has_room(self) -> bool:
        return self.room() > 0

    def start(self) -> int:
        """Count a call in flight (the caller checked `has_room` under `changed`); its ticket."""
        self.in_flight += 1
        self._started += 1
        return self._started

    def finish(self, ok: bool) -> None:
        with self.changed:
            self.in_flight -= 1
            if ok and self.adaptive:
                self.size = min(float(self.limit), self.size + 1 / self.size)
            self.changed.notify_all()

    def overloaded(self, ticket: int) -> None:
        """The call of `ticket` was told the server is full (counted in `overloads`)."""
        with self.changed:
            self.overloads += 1
            if self.adaptive and ticket > self._cut_after:
                self.size = max(1.0, self.size / 2)
                self.lowest = min(self.lowest, int(self.size))
                self._cut_after = self._started


admitted: ContextVar[tuple[LoadWindow, int] | None] = ContextVar("aleph_embed_admitted", default=None)
"""The window and ticket of the bulk run's call being made in this context (None outside bulk runs)."""


def run_in_window(window: LoadWindow, call: Callable[[], _T]) -> _T:
    """`call()` once `window` has room (blocking this thread until then)."""
    with window.changed:
        window.changed.wait_for(window.has_room)
        ticket = window.start()
    token = admitted.set((window, ticket))
    ok = False
    try:
        result = call()
        ok = True
        return result
    finally:
        admitted.reset(token)
        window.finish(ok)


async def arun_in_window(window: LoadWindow, wake: asyncio.Condition, call: Callable[[], Awaitable[_T]]) -> _T:
    """`await call()` once `window` has room; `wake` is the run's `asyncio.Condition`, notified as calls finish."""
    async with wake:
        await wake.wait_for(window.has_room)
        ticket = window.start()
    token = admitted.set((window, ticket))
    ok = False
    try:
        result = await call()
        ok = True
        return result
    finally:
        admitted.reset(token)
        window.finish(ok)
        async with wake:
            wake.notify(window.room())  # as many waiters as may start (all of them: quadratic in a long run)


class Outcomes:
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


def merge_reranked(parts: Sequence[RerankRequest], outcomes: Sequence[RerankResponse | Exception]) -> RerankResponse:
    """The answers of a split `/rerank` as one: indexes into the whole `documents`, best first (ties in document
    order), the request's `top_n` kept, usage summed; a failed call raises its error."""
    failed = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
    if failed:
        raise failed[0]
    answers = cast(Sequence[RerankResponse], outcomes)
    results: list[RerankResult] = []
    offset = 0
    for part, answer in zip(parts, answers):
        results += [result.model_copy(update={"index": result.index + offset}) for result in answer.results]
        offset += len(part.documents)
    results.sort(key=lambda result: (-result.relevance_score, result.index))
    usage = {
        name: sum(getattr(answer.usage, name) for answer in answers)
        for name in ("prompt_tokens", "completion_tokens", "total_tokens")
    }
    return RerankResponse(results=results[: parts[0].top_n or len(results)], usage=RerankUsage(**usage))
