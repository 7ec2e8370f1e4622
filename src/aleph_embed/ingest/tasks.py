"""The background tasks of a run; the first error stops the run."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class TaskGroup:
    """Tasks spawned by a run: `raise_error` re-raises the first one's error, `join` waits for all (raising the first
    error), `cancel` cancels those left."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._error: BaseException | None = None

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._error is None:
            self._error = task.exception()

    def raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    async def join(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_EXCEPTION)
            self.raise_error()

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
