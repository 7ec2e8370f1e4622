"""Files read in worker processes: CPU-bound parsing (PDF, Office) runs beside the embedding calls, each file's
reading held to `ReadLimits.timeout_s` (the worker is killed and replaced past it) and `memory_mb` (the worker's
address space), results in the order the files were given.

`ReadPool(read, workers, limits)`: `read(path)` is a module-level function (it runs in the workers); `map(tasks)`
takes `(path, in_worker)` pairs and yields `(path, result)` in order, where a result is what `read` returned or the
`UnreadableFile` it raised (or the one that reports a timeout, a memory overrun or a dead worker). A task with
`in_worker` False (a small text file) is read in this process. At most `2 * workers` files are read ahead.
Workers start when first needed, each a fresh interpreter running `_serve` (none inherits this process's threads,
and none runs the calling script again as multiprocessing's spawn and forkserver do), and stop with the pool.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .limits import ReadLimits, UnreadableFile, use_limits

Reader = Callable[[Path], Any]
_WORKER = "import sys; from aleph_embed.ingest.workers import Connection, _serve; _serve(Connection(int(sys.argv[1])))"


def default_workers() -> int:
    """Worker processes by default: one per CPU but one (this process embeds and stores meanwhile), 1 to 4."""
    return max(1, min((os.cpu_count() or 1) - 1, 4))


def read_safely(read: Reader, path: Path, limits: ReadLimits) -> Any:
    """What `read(path)` returns under `limits`, or the `UnreadableFile` that says why it could not (a parser's error
    on a strange file is that file's failure, never the run's)."""
    try:
        with use_limits(limits):
            return read(path)
    except UnreadableFile as error:
        return error
    except MemoryError:
        return UnreadableFile(f"reading needed over {limits.memory_mb} MB of memory (raise --read-memory-mb)")
    except OSError as error:
        return UnreadableFile(f"cannot read: {error.strerror or error}")
    except Exception as error:
        return UnreadableFile(f"the reader failed ({type(error).__name__}: {error})")


def _serve(connection: Connection) -> None:
    """A worker's loop: its reader, limits and `sys.path` in first, then a path in, `("ok", result, seconds)` or
    `("error", reason, seconds)` out, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the ingest's to handle: it closes the pool
    reader, limits_fields, sys.path[:] = connection.recv()
    module, _, name = reader.partition(":")
    read: Reader = getattr(importlib.import_module(module), name)
    limits = ReadLimits(**limits_fields)
    try:
        import resource

        memory = limits.memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (memory, resource.getrlimit(resource.RLIMIT_AS)[1]))
    except (ImportError, ValueError, OSError):  # not on this platform, or a lower hard limit: left as it is
        pass
    while True:
        try:
            path = connection.recv()
        except EOFError:
            return
        started = time.perf_counter()
        result = read_safely(read, Path(path), limits)
        seconds = time.perf_counter() - started
        connection.send(("error", str(result), seconds) if isinstance(result, UnreadableFile) else ("ok", result, seconds))


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    connection: Connection
    task: int | None = None
    started: float = 0.0


@dataclass
class ReadStats:
    """Files read, the seconds their reading took (each file's, summed: in workers, time spent waiting for a worker
    is not counted), and how many workers there were."""

    files: int = 0
    seconds: float = 0.0
    workers: int = 0

    def summary(self) -> str:
        where = f" in {self.workers} worker process{'es' if self.workers > 1 else ''}" if self.workers else ""
        return f"read {self.files} files ({self.seconds:.1f} s of reading{where})"


class ReadPool:
    """See the module's docstring."""

    def __init__(self, read: Reader, workers: int, limits: ReadLimits) -> None:
        self.read = read
        self.size = max(1, workers)
        self.limits = limits
        self.stats = ReadStats()
        self._workers: list[_Worker] = []
        self._reader = f"{read.__module__}:{read.__qualname__}"

    def map(self, tasks: Iterable[tuple[Path, bool]]) -> Iterator[tuple[Path, Any]]:
        pending = iter(tasks)
        paths: dict[int, Path] = {}
        results: dict[int, Any] = {}
        queue: list[int] = []
        given = yielded = 0
        exhausted = False
        while not exhausted or yielded < given:
            while not exhausted and given - yielded < 2 * self.size and len(queue) < self.size:
                try:
                    path, in_worker = next(pending)
                except StopIteration:
                    exhausted = True
                    break
                paths[given] = path
                if in_worker:
                    queue.append(given)
                else:
                    results[given] = self._read_here(path)
                    self.stats.files += 1
                given += 1
            self._dispatch(queue, paths)
            while yielded in results:
                yield paths.pop(yielded), results.pop(yielded)
                yielded += 1
            if yielded < given and yielded not in results:
                self._collect(results)

    def close(self) -> None:
        for worker in self._workers:
            worker.connection.close()  # the worker's loop ends
        for worker in self._workers:
            try:
                worker.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        self._workers.clear()

    def _read_here(self, path: Path) -> Any:
        started = time.perf_counter()
        try:
            return read_safely(self.read, path, self.limits)
        finally:
            self.stats.seconds += time.perf_counter() - started

    def _dispatch(self, queue: list[int], paths: dict[int, Path]) -> None:
        while queue:
            idle = next((worker for worker in self._workers if worker.task is None), None)
            if idle is None and len(self._workers) < self.size:
                idle = self._start()
            if idle is None:
                return
            task = queue.pop(0)
            idle.task, idle.started = task, time.monotonic()
            idle.connection.send(str(paths[task]))

    def _start(self) -> _Worker:
        parent, child = multiprocessing.Pipe()
        process = subprocess.Popen([sys.executable, "-c", _WORKER, str(child.fileno())], pass_fds=[child.fileno()],
                                   stdin=subprocess.DEVNULL)
        child.close()
        parent.send((self._reader, asdict(self.limits), list(sys.path)))
        worker = _Worker(process, parent)
        self._workers.append(worker)
        self.stats.workers = max(self.stats.workers, len(self._workers))
        return worker

    def _collect(self, results: dict[int, Any]) -> None:
        """Wait for a busy worker's answer (or its deadline) and record what came."""
        busy = [worker for worker in self._workers if worker.task is not None]
        if not busy:
            return
        deadline = min(worker.started for worker in busy) + self.limits.timeout_s
        ready = wait([worker.connection for worker in busy], timeout=max(0.0, deadline - time.monotonic()))
        now = time.monotonic()
        for worker in busy:
            assert worker.task is not None
            if worker.connection in ready:
                seconds = now - worker.started
                try:
                    status, value, seconds = worker.connection.recv()
                    result: Any = value if status == "ok" else UnreadableFile(value)
                except (EOFError, OSError):
                    code = worker.process.wait()
                    result = UnreadableFile(f"the reader process died (exit code {code}); the "
                                            "file may need more memory (--read-memory-mb) or be malformed")
                    self._replace(worker)
            elif now - worker.started >= self.limits.timeout_s:
                seconds = now - worker.started
                result = UnreadableFile(f"reading took over {self.limits.timeout_s:g} s (raise --read-timeout)")
                self._replace(worker)
            else:
                continue
            results[worker.task] = result
            self.stats.files += 1
            self.stats.seconds += seconds
            worker.task = None

    def _replace(self, worker: _Worker) -> None:
        """Drop a worker that died or ran over its time (killed); a new one starts when needed."""
        worker.process.kill()
        worker.process.wait()
        worker.connection.close()
        self._workers.remove(worker)

