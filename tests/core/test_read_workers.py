"""Files read in worker processes: results in order, a reading past its time or memory limit reported (its worker
replaced) while the other files still come."""

from __future__ import annotations

import time
from pathlib import Path

from aleph_embed.ingest.limits import ReadLimits, UnreadableFile
from aleph_embed.ingest.workers import ReadPool


def _read(path: Path) -> str:
    """A reader that does what the file's name says: sleeps, allocates, fails, or gives its name back."""
    if path.name == "slow":
        time.sleep(60)
    if path.name == "greedy":
        return "x" * (2 * 2**30)
    if path.name == "broken":
        raise ValueError("a parser's bug")
    return f"text of {path.name}"


def test_results_come_in_order_and_bad_readings_are_reported_without_stopping_the_rest() -> None:
    names = ["a", "slow", "b", "greedy", "c", "broken", "d"]
    pool = ReadPool(_read, 2, ReadLimits(timeout_s=5, memory_mb=512))
    started = time.monotonic()
    try:
        tasks = [(Path(name), name != "d") for name in names]  # d is read here, the others in workers
        results = list(pool.map(tasks))
    finally:
        pool.close()

    assert time.monotonic() - started < 40  # the sleeper was killed at its deadline, not waited for
    assert [path.name for path, _ in results] == names
    outcome = {path.name: result for path, result in results}
    assert outcome["a"] == "text of a" and outcome["c"] == "text of c" and outcome["d"] == "text of d"
    assert isinstance(outcome["slow"], UnreadableFile) and "took over 5 s (raise --read-timeout)" in str(outcome["slow"])
    assert isinstance(outcome["greedy"], UnreadableFile)
    assert "over 512 MB of memory (raise --read-memory-mb)" in str(outcome["greedy"])
    assert str(outcome["broken"]) == "the reader failed (ValueError: a parser's bug)"
    assert pool.stats.files == len(names) and pool.stats.workers == 2
