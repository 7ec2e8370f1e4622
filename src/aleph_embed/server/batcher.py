"""Dynamic micro-batching: concurrent requests wait a few ms, then run as forward passes off the event loop, up to
`workers` passes at once."""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar


logger = logging.getLogger("aleph_embed.server")
MAX_GATHER_WAITS = 25
WAIT_SHARE_OF_LAST_BATCH = 0.1  # up to 10 x `wait`: fuller batches behind slow forward passes
PASS_COST_TOKENS = 16  # what one more forward pass costs, in padded tokens, unless the group says (`pass_cost`)


class Sized(Protocol):
    @property
    def num_tokens(self) -> int: ...


JobT = TypeVar("JobT", bound=Sized)


@dataclass(order=True)
class _Entry(Generic[JobT]):
    priority: tuple[int, int, int]  # (nice, arrival of the request + the job's index in it, order)
    group: str = field(compare=False)
    job: JobT = field(compare=False)
    future: asyncio.Future[Any] = field(compare=False)


def split_by_length(lengths: Sequence[int], pass_cost: int = PASS_COST_TOKENS) -> list[list[int]]:
    """The indices of `lengths` in runs of similar length, shortest first: the partition of the sorted lengths with
    the fewest padded tokens (every prompt padded to its run's longest) plus `pass_cost` per run."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    cost = [0] + [sys.maxsize] * len(order)  # cost[end]: the cheapest split of order[:end]
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        for start in range(end):
            candidate = cost[start] + (end - start) * lengths[order[end - 1]] + pass_cost
            if candidate < cost[end]:
                cost[end], cut[end] = candidate, start
    runs: list[list[int]] = []
    end = len(order)
    while end:
        runs.append(order[cut[end] : end])
        end = cut[end]
    return runs[::-1]


class MicroBatcher(Generic[JobT]):
    """A priority queue (`nice` requests last) drained into batches of one group (model) by `workers` threads.

    A batch starts when `max_batch_size` jobs wait or the queue has been quiet for `wait` seconds, once a worker is
    free; while its passes run, new jobs gather for the next one. A batch runs as forward passes of similar lengths
    (`split_by_length` with `pass_cost(group)`, what one more pass of that group's backend costs in padded tokens),
    `nice` jobs after the others, each pass on the next free worker (on a small CPU, passes side by side on one thread
    each outrun one pass at a time on all threads: `ServerConfig.passes`). `run_batch(group, jobs)` returns one
    result per job (an exception instance: that job's error). A job whose caller stopped waiting (cancelled) leaves the queue at once.
    """

    def __init__(
        self,
        run_batch: Callable[[str, list[JobT]], Sequence[Any]],
        *,
        max_batch_size: int,
        max_batch_tokens: int,
        wait: float,
        workers: int = 1,
        pass_cost: Callable[[str], int] = lambda group: PASS_COST_TOKENS,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens
        self.wait = wait
        self._pass_cost = pass_cost
        self._heap: list[_Entry[JobT]] = []
        self._order = itertools.count()
        self._requests = itertools.count()
        self._arrived = asyncio.Event()
        self._pending = 0
        self.batches_run = 0
        self.jobs_run = 0
        self.passes_run = 0
        self.tokens_run = 0
        self.token_slots_run = 0  # token slots of the forward passes, padding included
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="aleph-embed-inference")
        self._free_workers = asyncio.Semaphore(workers)
        self._running: set[asyncio.Task[None]] = set()  # the passes on the workers
        self._task: asyncio.Task[None] | None = None
        self._last_batch_seconds = 0.0

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return self._pending

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._drain(), name="aleph-embed-batcher")

    async def stop(self) -> None:
        tasks = [task for task in [self._task, *self._running] if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def submit(self, group: str, job: JobT, *, nice: bool = False) -> Any:
        """Queue a job and wait for its result (the server admits at most `--max-queue` requests before this)."""
        (result,) = await self.submit_many(group, [job], nice=nice)
        return result

    async def submit_many(self, group: str, jobs: Sequence[JobT], *, nice: bool = False) -> list[Any]:
        """Queue the jobs of one request and wait for all their results; the first error raises and withdraws the
        rest. The request's k-th job queues beside other requests' k-th jobs: a long call shares the passes with the
        requests that arrive meanwhile instead of holding them until its last job ran."""
        loop = asyncio.get_running_loop()
        arrival = next(self._requests)
        futures: list[asyncio.Future[Any]] = []
        for index, job in enumerate(jobs):
            futures.append(loop.create_future())
            heapq.heappush(self._heap, _Entry((int(nice), arrival + index, next(self._order)), group, job, futures[-1]))
        self._pending += len(futures)
        self._arrived.set()
        try:
            return list(await asyncio.gather(*futures))
        finally:
            for future in futures:
                future.cancel()  # no-op for those done; the others leave the queue
            self._pending -= len(futures)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._free_workers.acquire()  # a batch taken only once a worker can start it gathers more jobs
            await self._gather()
            group, batch = self._take_batch()
            if not batch:
                self._free_workers.release()
                continue
            self.batches_run += 1
            self.jobs_run += len(batch)
            logger.debug("batch of %d jobs for %s, %d waiting", len(batch), group, len(self._heap))
            started = loop.time()
            for index, run in enumerate(self._passes(batch, self._pass_cost(group))):
                if index:
                    await self._free_workers.acquire()
                task = loop.create_task(self._run_pass(group, run))
                self._running.add(task)
                task.add_done_callback(self._pass_done)
            task.add_done_callback(functools.partial(self._batch_done, started))

    def _batch_done(self, started: float, _: asyncio.Task[None]) -> None:
        self._last_batch_seconds = asyncio.get_running_loop().time() - started

    def _pass_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._free_workers.release()

    @staticmethod
    def _passes(batch: list[_Entry[JobT]], pass_cost: int) -> list[list[_Entry[JobT]]]:
        """The batch as forward passes of similar lengths, `nice` jobs in passes of their own after the others."""
        passes: list[list[_Entry[JobT]]] = []
        for nice in (0, 1):
            entries = [entry for entry in batch if entry.priority[0] == nice]
            runs = split_by_length([entry.job.num_tokens for entry in entries], pass_cost)
            passes += [[entries[index] for index in run] for run in runs]
        return passes

    async def _run_pass(self, group: str, entries: list[_Entry[JobT]]) -> None:
        entries = [entry for entry in entries if not entry.future.done()]  # callers gone during the passes before
        if not entries:
            return
        lengths = [entry.job.num_tokens for entry in entries]
        self.passes_run += 1
        self.tokens_run += sum(lengths)
        self.token_slots_run += max(lengths) * len(lengths)
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._run_batch, group, [e.job for e in entries])
        except Exception as error:  # noqa: BLE001 - the error belongs to the waiting requests
            for entry in entries:
                if not entry.future.done():
                    entry.future.set_exception(error)
            return
        for entry, result in zip(entries, results):
            if entry.future.done():
                continue  # the caller went away
            if isinstance(result, Exception):  # this job's own error, the others' results stand
                entry.future.set_exception(result)
            else:
                entry.future.set_result(result)

    @property
    def padding_share(self) -> float:
        """The share of padding in the token slots of all forward passes so far."""
        return 1 - self.tokens_run / self.token_slots_run if self.token_slots_run else 0.0

    async def _gather(self) -> None:
        """Wait for a first job; then, until the batch is full, keep gathering while jobs arrive or the event loop
        was too busy to check on time (it is likely reading requests that become jobs). The quiet period that ends
        the gathering is `wait`, longer after a slow batch (a share of its time, at most 10 x `wait`)."""
        while not self._heap:
            self._arrived.clear()
            await self._arrived.wait()
        loop = asyncio.get_running_loop()
        quiet = min(max(self.wait, WAIT_SHARE_OF_LAST_BATCH * self._last_batch_seconds), 10 * self.wait)
        for _ in range(MAX_GATHER_WAITS):
            if len(self._heap) >= self.max_batch_size or quiet <= 0:
                return
            self._arrived.clear()
            started = loop.time()
            await asyncio.sleep(quiet)
            busy = loop.time() - started > 2 * quiet
            if not (busy or self._arrived.is_set()):
                return

    def _take_batch(self) -> tuple[str, list[_Entry[JobT]]]:
        """The best waiting jobs of the first job's group, within the size and padded-token limits."""
        batch: list[_Entry[JobT]] = []
        skipped: list[_Entry[JobT]] = []
        group = self._heap[0].group
        longest = 0
        while self._heap and len(batch) < self.max_batch_size:
            entry = heapq.heappop(self._heap)
            if entry.future.done():  # the caller went away
                continue
            if entry.group != group:
                skipped.append(entry)
                continue
            longest = max(longest, entry.job.num_tokens)
            if batch and longest * (len(batch) + 1) > self.max_batch_tokens:
                skipped.append(entry)
                break
            batch.append(entry)
        for entry in skipped:
            heapq.heappush(self._heap, entry)
        return group, batch
