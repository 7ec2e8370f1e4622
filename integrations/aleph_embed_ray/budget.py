"""One load-aware budget of calls in flight for every embedding actor of a run, so that N actors do not flood the
deployment N times over.

`SharedBudget` (a small Ray actor) holds the run's window (AIMD, as `aleph_embed.bulk.LoadWindow` for one client):
halved when any actor is told the server is full (503 `QUEUE_FULL`, 429; once per second at most), one call more per
window of successes, between 1 and `limit`. Each actor's `SharedWindow` is a `LoadWindow` whose limit is its share
(the budget over the actors seen in the last 30 s, at least 1), synced every half second; an overload also halves it
at once, before the next sync.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ray

from aleph_embed.bulk import LoadWindow, run_in_window

SYNC_SECONDS = 0.5
MEMBER_SECONDS = 30.0  # an actor not heard of for this long (killed, done) no longer has a share
CUT_SECONDS = 1.0  # overloads reported within this time of a cut are one overload


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class SharedBudget:
    """The calls in flight of all the embedding actors of a run."""

    def __init__(self, limit: int, adaptive: bool = True) -> None:
        self.limit = limit
        self.adaptive = adaptive
        self.size = float(limit)
        self.lowest = limit
        self.members: dict[str, float] = {}
        self.cut_at = 0.0

    def sync(self, member: str, successes: int, overloads: int) -> int:
        """Record an actor's successes and overloads since its last sync; its share now."""
        now = time.monotonic()
        self.members[member] = now
        self.members = {name: seen for name, seen in self.members.items() if now - seen < MEMBER_SECONDS}
        if self.adaptive and overloads and now - self.cut_at > CUT_SECONDS:
            self.size = max(1.0, self.size / 2)
            self.lowest = min(self.lowest, int(self.size))
            self.cut_at = now
        elif self.adaptive and successes:
            self.size = min(float(self.limit), self.size + successes / self.size)
        return max(1, int(self.size) // len(self.members))

    def state(self) -> dict[str, Any]:
        """The budget now: `limit`, `size`, `lowest`, `members`."""
        return {"limit": self.limit, "size": self.size, "lowest": self.lowest, "members": len(self.members)}


class SharedWindow(LoadWindow):
    """An actor's window on the shared budget (see the module)."""

    def __init__(self, budget: Any, member: str, limit: int) -> None:
        super().__init__(limit, adaptive=True)
        self.budget = budget
        self.member = member
        self.successes = 0
        self.overloads = 0
        self.synced = 0.0
        self.sync_lock = threading.Lock()

    def finish(self, ok: bool) -> None:
        with self.changed:
            self.successes += ok
        super().finish(ok)

    def overloaded(self, ticket: int) -> None:
        with self.changed:
            self.overloads += 1
        super().overloaded(ticket)

    def sync(self) -> None:
        """Report to the budget and take the share it gives, at most every `SYNC_SECONDS` (one thread at a time)."""
        if time.monotonic() - self.synced < SYNC_SECONDS or not self.sync_lock.acquire(blocking=False):
            return
        try:
            with self.changed:
                successes, overloads, self.successes, self.overloads = self.successes, self.overloads, 0, 0
            share = ray.get(self.budget.sync.remote(self.member, successes, overloads))
            with self.changed:
                self.limit = share
                self.size = min(self.size, float(share)) if overloads else min(max(self.size, 1.0), float(share))
                self.changed.notify_all()
            self.synced = time.monotonic()
        finally:
            self.sync_lock.release()


class BudgetedClient:
    """An `EmbedClient` whose embedding calls (every endpoint's, `call`) wait for room in a `SharedWindow`; the rest
    is the client's."""

    def __init__(self, client: Any, window: SharedWindow) -> None:
        self.client = client
        self.window = window

    def call(self, request: Any) -> Any:
        self.window.sync()
        return run_in_window(self.window, lambda: self.client.call(request))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
