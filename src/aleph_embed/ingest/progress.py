"""The ingest's progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds otherwise."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from aleph_embed import Usage
from aleph_embed.config import DEFAULT_PROGRESS_INTERVAL

if TYPE_CHECKING:
    from .report import IngestReport


class Progress:
    """Documents done, /embed calls, retries and rate. On a terminal: one line redrawn every `interval` seconds.
    Off a terminal (a log, a pipe): a line every `log_interval` seconds, and the final state at the end when a
    line was written (a short run prints only its summary)."""

    def __init__(
        self, stream: TextIO, usage: Usage, total: int | None, *, interval: float = 0.2,
        log_interval: float = DEFAULT_PROGRESS_INTERVAL, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.usage = usage
        self.total = total
        self.terminal = stream.isatty()
        self.interval = interval if self.terminal else log_interval
        self.clock = clock
        self.started = self._last_draw = clock()
        self._report: IngestReport | None = None
        self._drawn: str | None = None

    def update(self, report: IngestReport) -> None:
        self._report = report
        now = self.clock()
        if now - self._last_draw >= self.interval:
            self._last_draw = now
            self._draw(self.line(report, now - self.started))

    def line(self, report: IngestReport, elapsed: float) -> str:
        """Documents done, unchanged and failed, the run's calls (as its summary counts them), retries and rate; on
        a terminal as wide as it is (the bar shrinks, then the line is cut), so it never wraps."""
        done = report.done
        rate = done / elapsed if elapsed > 0 else 0.0
        tail = (f"{done}{f'/{self.total}' if self.total else ''} docs | {report.skipped} unchanged, "
                f"{len(report.failed)} failed | {report.embed_calls} calls, {self.usage.retries} retries | "
                f"{rate:.1f}/s")
        width = shutil.get_terminal_size((80, 24)).columns - 1 if self.terminal else 200
        bar = min(30, width - len(tail) - 3)
        if self.total and bar >= 8:
            filled = int(bar * min(done, self.total) / self.total)
            tail = f"[{'#' * filled}{'.' * (bar - filled)}] {tail}"
        return tail[:width]

    def close(self) -> None:
        """Draw the last state and end the line (off a terminal: only when a line was written)."""
        if self._report is None or self._drawn is None and not self.terminal:
            return
        line = self.line(self._report, self.clock() - self.started)
        if line != self._drawn:
            self._draw(line)
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, line: str) -> None:
        self._drawn = line
        self.stream.write(f"\r{line}\033[K" if self.terminal else f"aleph-embed: {line}\n")
        self.stream.flush()
