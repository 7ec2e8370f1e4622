"""The texts of many documents gathered into the calls of an endpoint that embeds many texts per call."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

from aleph_embed import BadRequestError, EmbeddingSettings, InvalidResponseError, PayloadTooLargeError
from aleph_embed.models import ApiAnswer, ApiRequest


class PromptBatcher:
    """Embeds texts as documents through the settings' endpoint, `settings.prompts_per_call()` texts per call: a call
    goes as soon as it is full, a partial one only when `stalled()` says that nothing else can bring more texts and no
    call is under way. An ingest of 3,000 documents through /batch_semantic_embed so makes 30 calls, not 3,000. A
    watchdog bounds the wait: texts left unsent `watchdog` seconds with no call under way go as a partial call, with
    a `RuntimeWarning` (the stall rule missed a case: a run never hangs on it).

    `send` makes one call, `spawn` runs a coroutine as a task of the run. A call refused for what one text may
    cause (a 400 or 413, a malformed answer) is sent again text by text, so that only that text fails.
    """

    def __init__(
        self, settings: EmbeddingSettings, send: Callable[[ApiRequest], Awaitable[ApiAnswer]],
        spawn: Callable[[Coroutine[Any, Any, None]], None], stalled: Callable[[], bool], *, watchdog: float = 30.0,
    ) -> None:
        self.settings = settings
        self.size = settings.prompts_per_call("document")
        self._send = send
        self._spawn = spawn
        self._stalled = stalled
        self._pending: list[tuple[str, asyncio.Future[list[float]], Hashable]] = []
        self._in_flight = 0
        self._watching = False
        self.watchdog = watchdog
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, text: str, owner: Hashable) -> asyncio.Future[list[float]]:
        """The future vector of `text`, on behalf of `owner` (see `waiting`); it raises what its call raised.
        Synchronous: the texts a document submits together are all queued before any partial call is decided."""
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        self._pending.append((text, future, owner))
        if len(self._pending) >= self.size:
            self._dispatch()
        else:
            self.poke()
        return future

    def waiting(self) -> set[Hashable]:
        """The owners of texts not sent yet: they wait for this batcher and for nothing else."""
        return {owner for _, _, owner in self._pending}

    def poke(self) -> None:
        """Something changed that may leave the run waiting for a partial call: check, once the texts submitted in
        this event-loop round are queued."""
        if self._pending and not self._watching:
            self._watching = True
            self._spawn(self._watch())

    async def _watch(self) -> None:
        try:
            if self._pending and self._in_flight == 0 and self._stalled():
                self._dispatch()
        finally:
            self._watching = False
        if self._pending and self._in_flight == 0 and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.watchdog, self._bark)

    def _bark(self) -> None:
        """The watchdog: texts still unsent and no call under way (a call's end checks again by itself)."""
        self._timer = None
        if self._pending and self._in_flight == 0:
            warnings.warn(f"the prompt batcher sent a partial call of {min(len(self._pending), self.size)} texts after "
                          f"waiting {self.watchdog:g} s: the run's stall rule did not fire", RuntimeWarning,
                          stacklevel=1)
            self._dispatch()

    def _dispatch(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        group, self._pending = self._pending[: self.size], self._pending[self.size :]
        self._in_flight += 1
        self._spawn(self._call(group))

    async def _call(self, group: list[tuple[str, asyncio.Future[list[float]], Hashable]]) -> None:
        try:
            try:
                vectors = await self._vectors([text for text, _, _ in group])
            except (BadRequestError, PayloadTooLargeError, InvalidResponseError) as error:
                if len(group) == 1:
                    _fail(group, error)
                else:  # text by text: only the one at fault fails
                    for single in group:
                        self._in_flight += 1
                        self._spawn(self._call([single]))
            except Exception as error:  # every text of the call fails with it (a stop of the run included)
                _fail(group, error)
            else:
                for (_, future, _), vector in zip(group, vectors):
                    if not future.done():
                        future.set_result(vector)
        finally:
            self._in_flight -= 1
            self.poke()

    async def _vectors(self, texts: list[str]) -> list[list[float]]:
        (request,) = self.settings.calls(texts, "document")
        vectors = self.settings.vectors(await self._send(request))
        if len(vectors) != len(texts):
            raise InvalidResponseError(f"the answer holds {len(vectors)} vectors for {len(texts)} prompts")
        return vectors


def _fail(group: list[tuple[str, asyncio.Future[list[float]], Hashable]], error: Exception) -> None:
    for _, future, _ in group:
        if not future.done():
            future.set_exception(error)
