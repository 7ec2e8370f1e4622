"""The micro-batcher on its own: batching, `nice` ordering, load shedding, groups and token limits."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pytest

from aleph_embed.server.batcher import PASS_COST_TOKENS, MicroBatcher, split_by_length


@dataclass(frozen=True)
class Item:
    name: str
    num_tokens: int = 4


class Recorder:
    """Runs batches in the worker thread, recording them; the first batch waits until released."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[str]]] = []
        self.release = threading.Event()

    def __call__(self, group: str, jobs: list[Item]) -> list[str]:
        self.release.wait(5)
        self.batches.append((group, [job.name for job in jobs]))
        return [f"{group}:{job.name}" for job in jobs]


def batcher(recorder: Recorder, max_batch_size: int = 8, max_batch_tokens: int = 1000) -> MicroBatcher[Item]:
    return MicroBatcher(recorder, max_batch_size=max_batch_size, max_batch_tokens=max_batch_tokens, wait=0.005)


async def test_concurrent_jobs_share_a_batch_and_nice_ones_go_last() -> None:
    recorder = Recorder()
    queue = batcher(recorder)
    queue.start()
    first = asyncio.create_task(queue.submit("m", Item("first")))
    await asyncio.sleep(0.05)  # `first` runs alone and blocks the worker
    nice = asyncio.create_task(queue.submit("m", Item("nice"), nice=True))
    await asyncio.sleep(0)
    others = [asyncio.create_task(queue.submit("m", Item(f"job{i}"))) for i in range(3)]
    await asyncio.sleep(0.02)
    recorder.release.set()
    results = await asyncio.gather(first, nice, *others)
    await queue.stop()
    assert results == ["m:first", "m:nice", "m:job0", "m:job1", "m:job2"]
    assert recorder.batches == [("m", ["first"]), ("m", ["job0", "job1", "job2"]), ("m", ["nice"])]


async def test_batches_hold_one_group_and_respect_the_token_budget() -> None:
    recorder = Recorder()
    recorder.release.set()
    queue = batcher(recorder, max_batch_tokens=10)
    jobs = [("a", Item("a1", 4)), ("b", Item("b1", 4)), ("a", Item("a2", 4)), ("a", Item("a3", 4))]
    tasks = [asyncio.create_task(queue.submit(group, item)) for group, item in jobs]
    await asyncio.sleep(0)
    queue.start()
    assert await asyncio.gather(*tasks) == ["a:a1", "b:b1", "a:a2", "a:a3"]
    await queue.stop()
    assert recorder.batches == [("a", ["a1", "a2"]), ("b", ["b1"]), ("a", ["a3"])]


def test_split_by_length_pays_for_a_pass_only_where_it_saves_more_padding() -> None:
    assert split_by_length([]) == []
    assert split_by_length([5, 7, 6]) == [[0, 2, 1]]  # 3 + 16 padded slots < 16 for another pass
    assert split_by_length([300, 20, 310, 25]) == [[1, 3], [0, 2]]
    lengths = [10 + 7 * i for i in range(32)]
    runs = split_by_length(lengths)
    assert sorted(index for run in runs for index in run) == list(range(32))
    padded = sum(max(lengths[i] for i in run) * len(run) for run in runs)
    assert padded - sum(lengths) + PASS_COST_TOKENS * len(runs) <= 32 * max(lengths) - sum(lengths) + PASS_COST_TOKENS


async def test_a_batch_runs_as_passes_of_similar_lengths_and_counts_its_padding() -> None:
    recorder = Recorder()
    queue = batcher(recorder)
    jobs = [Item("long1", 200), Item("short1", 10), Item("long2", 190), Item("short2", 12)]
    tasks = [asyncio.create_task(queue.submit("m", item)) for item in jobs]
    await asyncio.sleep(0)
    queue.start()
    recorder.release.set()
    assert await asyncio.gather(*tasks) == ["m:long1", "m:short1", "m:long2", "m:short2"]
    await queue.stop()
    assert recorder.batches == [("m", ["short1", "short2"]), ("m", ["long2", "long1"])]
    assert (queue.batches_run, queue.passes_run, queue.tokens_run, queue.token_slots_run) == (1, 2, 412, 424)
    assert queue.padding_share == pytest.approx(12 / 424)



class GatedRecorder(Recorder):
    """Runs every pass at once, but the pass of the `short` jobs waits at `gate` (and says so with `started`)."""

    def __init__(self) -> None:
        super().__init__()
        self.release.set()
        self.started, self.gate = threading.Event(), threading.Event()

    def __call__(self, group: str, jobs: list[Item]) -> list[str]:
        if jobs[0].name.startswith("short"):
            self.started.set()
            self.gate.wait(5)
        return super().__call__(group, jobs)


async def test_a_job_cancelled_during_an_earlier_pass_of_its_batch_never_runs() -> None:
    recorder = GatedRecorder()
    queue = batcher(recorder)
    short = [asyncio.create_task(queue.submit("m", Item(f"short{i}", 4))) for i in range(2)]
    long = [asyncio.create_task(queue.submit("m", Item(f"long{i}", 4 * PASS_COST_TOKENS))) for i in range(2)]
    await asyncio.sleep(0)
    queue.start()  # one batch, run as two passes: the short jobs, then the long ones
    assert await asyncio.to_thread(recorder.started.wait, 5)
    long[1].cancel()  # its caller went away while the short pass runs
    await asyncio.sleep(0)
    recorder.gate.set()
    await asyncio.gather(*short, long[0])
    await queue.stop()
    assert recorder.batches == [("m", ["short0", "short1"]), ("m", ["long0"])] and queue.pending == 0


async def test_a_calls_jobs_share_passes_with_later_requests_and_leave_together() -> None:
    """`submit_many`: a long call's k-th job queues beside later requests' k-th, so they are not held until the call's
    last job ran; when its caller goes away, every job of the call leaves the queue."""
    recorder = Recorder()
    queue = batcher(recorder, max_batch_size=2)
    queue.start()
    first = asyncio.create_task(queue.submit("m", Item("first")))
    await asyncio.sleep(0.05)  # `first` blocks the worker while the others queue
    call = asyncio.create_task(queue.submit_many("m", [Item(f"call{i}") for i in range(5)]))
    await asyncio.sleep(0)
    single = asyncio.create_task(queue.submit("m", Item("single")))
    abandoned = asyncio.create_task(queue.submit_many("m", [Item(f"gone{i}") for i in range(3)]))
    await asyncio.sleep(0.02)
    abandoned.cancel()
    await asyncio.sleep(0)
    recorder.release.set()
    assert await call == [f"m:call{i}" for i in range(5)]
    assert await single == "m:single" and await first == "m:first"
    await queue.stop()
    assert recorder.batches == [
        ("m", ["first"]), ("m", ["call0", "call1"]), ("m", ["single", "call2"]), ("m", ["call3", "call4"])
    ]
    assert queue.pending == 0


async def test_one_failing_job_fails_its_call() -> None:
    def run(group: str, jobs: list[Item]) -> list[object]:
        return [ValueError(job.name) if job.name == "bad" else job.name for job in jobs]

    queue: MicroBatcher[Item] = MicroBatcher(run, max_batch_size=8, max_batch_tokens=1000, wait=0.005)
    queue.start()
    with pytest.raises(ValueError, match="bad"):
        await queue.submit_many("m", [Item("good"), Item("bad"), Item("also good")])
    assert await queue.submit_many("m", [Item("x"), Item("y")]) == ["x", "y"]
    await queue.stop()
    assert queue.pending == 0


async def test_workers_run_passes_side_by_side_and_a_full_house_holds_the_next_batch() -> None:
    """Two workers: a batch's two passes (lengths far apart) run at the same time (each waits for the other at a
    barrier, which one worker would never pass); jobs arriving meanwhile form the next batch once a worker is free."""
    both = threading.Barrier(2, timeout=5)
    batches: list[list[str]] = []

    def run(group: str, jobs: list[Item]) -> list[str]:
        batches.append([job.name for job in jobs])
        if len(batches) <= 2:
            both.wait()
        return [job.name for job in jobs]

    queue: MicroBatcher[Item] = MicroBatcher(run, max_batch_size=8, max_batch_tokens=10_000, wait=0.005, workers=2)
    queue.start()
    first = [asyncio.create_task(queue.submit("m", Item(name, size))) for name, size in [("short", 4), ("long", 900)]]
    await asyncio.sleep(0.05)
    later = [asyncio.create_task(queue.submit("m", Item(f"later{i}"))) for i in range(3)]
    assert await asyncio.gather(*first, *later) == ["short", "long", "later0", "later1", "later2"]
    await queue.stop()
    assert sorted(map(sorted, batches[:2])) == [["long"], ["short"]]
    assert batches[2:] == [["later0", "later1", "later2"]]
    assert (queue.batches_run, queue.passes_run) == (2, 3)


async def test_each_group_splits_by_its_own_pass_cost() -> None:
    """A backend whose passes cost much (torch) runs prompts of far-apart lengths together; a cheap one splits them."""
    recorder = Recorder()
    recorder.release.set()
    costs = {"cheap": PASS_COST_TOKENS, "dear": 1000}
    queue: MicroBatcher[Item] = MicroBatcher(recorder, max_batch_size=8, max_batch_tokens=10_000, wait=0.005,
                                             pass_cost=costs.__getitem__)
    queue.start()
    for group in costs:
        await asyncio.gather(*(queue.submit(group, Item(f"{group}{tokens}", tokens)) for tokens in (5, 300)))
    await queue.stop()
    assert recorder.batches == [("cheap", ["cheap5"]), ("cheap", ["cheap300"]), ("dear", ["dear5", "dear300"])]
