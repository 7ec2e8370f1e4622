"""Many calls as one: results in input order with progress, and a split `/batch_semantic_embed` merged back."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from .errors import BatchEmbedError
from .models import BatchSemanticEmbedRequest, BatchSemanticEmbedResponse
from .texts import spread

ProgressCallback = Callable[[int, int], None]
"""`on_progress(done, total)` of `embed_many`."""
_T = TypeVar("_T")


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
