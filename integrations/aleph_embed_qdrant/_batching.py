"""The texts of many documents gathered into the calls of an endpoint that embeds many texts per call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aleph_embed import BadRequestError, EmbeddingSettings, InvalidResponseError, PayloadTooLargeError
from aleph_embed.models import ApiAnswer, ApiRequest

SETTLE_ROUNDS = 8
"""Event-loop rounds without a new text before a partial call goes (documents under way queue theirs first)."""


class PromptBatcher:
    """Embeds texts as documents through the settings' endpoint, `settings.prompts_per_call()` texts per call: a call
    goes as soon as it is full, a partial one only when `stalled()` says nothing else can bring more texts and no
    call is under way. An ingest of 3,000 documents through /batch_semantic_embed so makes 30 calls, not 3,000.

    `send` makes one call, `spawn` runs a coroutine as a task of the run. A call refused for what one text may
    cause (a 400 or 413, a malformed answer) is sent again text by text, so that only that text fails.
    """

    def __init__(
        self, settings: EmbeddingSettings, send: Callable[[ApiRequest], Awaitable[ApiAnswer]],
        spawn: Callable[[Coroutine[Any, Any, None]], None], stalled: Callable[[], bool],
    ) -> None:
        self.settings = settings
        self.size = settings.prompts_per_call("document")
        self._send = send
        self._spawn = spawn
        self._stalled = stalled
        self._pending: list[tuple[str, asyncio.Future[list[float]]]] = []
        self._in_flight = 0
        self._watching = False

    async def vector(self, text: str) -> list[float]:
        """The vector of `text`; raises what its call raised."""
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        self._pending.append((text, future))
        if len(self._pending) >= self.size:
            self._dispatch()
        else:
            self.poke()
        return await future

    def poke(self) -> None:
        """Something changed that may leave the run waiting for a partial call: check."""
        if self._pending and not self._watching:
            self._watching = True
            self._spawn(self._watch())

    async def _watch(self) -> None:
        """Send a partial call once the run is stalled and no new text came for `SETTLE_ROUNDS` rounds."""
        try:
            seen = -1
            while self._pending and self._in_flight == 0 and self._stalled():
                if len(self._pending) == seen:
                    self._dispatch()
                    return
                seen = len(self._pending)
                for _ in range(SETTLE_ROUNDS):
                    await asyncio.sleep(0)
        finally:
            self._watching = False

    def _dispatch(self) -> None:
        group, self._pending = self._pending[: self.size], self._pending[self.size :]
        self._in_flight += 1
        self._spawn(self._call(group))

    async def _call(self, group: list[tuple[str, asyncio.Future[list[float]]]]) -> None:
        try:
            try:
                vectors = await self._vectors([text for text, _ in group])
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
                for (_, future), vector in zip(group, vectors):
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


def _fail(group: list[tuple[str, asyncio.Future[list[float]]]], error: Exception) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(error)
