"""`Lease`: one ingest at a time on a collection of a Qdrant server, recorded in the collection metadata.

A run takes the lease (owner, pid, host, expiry) before it reads anything and renews it while it runs; a second run
on the same collection finds it held and refuses, naming the holder, instead of paying the whole cost again. A run
that was killed stops renewing: its lease expires after `ttl` seconds. Qdrant has no compare-and-set on metadata, so a
run takes the lease by writing it, waiting `settle` seconds and reading it back: of two runs that wrote at once, the
one whose write came last holds it, the other refuses. The embedded store needs none (one process opens it).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from types import TracebackType

from qdrant_client import QdrantClient

from aleph_embed import ConfigurationError

from ._calls import is_local, qdrant_call

LEASE_KEY = "aleph_embed_lease"
"""The key of the collection metadata that holds the lease."""
DEFAULT_LEASE_TTL = 60.0
"""Seconds a lease lasts without renewal (it is renewed every third of that)."""


class CollectionBusyError(ConfigurationError):
    """Another run holds the collection's lease."""


class Lease:
    """`with Lease(qdrant, collection):` the collection's lease for the block (nothing for the embedded store or a
    collection that does not exist yet); `CollectionBusyError` when another run holds it."""

    def __init__(self, qdrant: QdrantClient, collection: str, *, ttl: float = DEFAULT_LEASE_TTL,
                 settle: float = 0.5) -> None:
        self.qdrant, self.collection, self.ttl, self.settle = qdrant, collection, ttl, settle
        self.owner = uuid.uuid4().hex
        self.held = False
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def __enter__(self) -> Lease:
        if is_local(self.qdrant) or not qdrant_call(lambda: self.qdrant.collection_exists(self.collection)):
            return self
        self._check(self._read())
        self._write(self._record())
        time.sleep(self.settle)  # a run that wrote at the same moment: the last write wins
        self._check(self._read())
        self.held = True
        self._renewer = threading.Thread(target=self._renew, name="aleph-embed-lease", daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if not self.held:
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        current = self._read()
        if isinstance(current, dict) and current.get("owner") == self.owner:
            self._write(None)
        self.held = False

    def _record(self) -> dict[str, object]:
        return {"owner": self.owner, "pid": os.getpid(), "host": socket.gethostname(),
                "expires": time.time() + self.ttl}

    def _read(self) -> object:
        metadata = qdrant_call(lambda: self.qdrant.get_collection(self.collection)).config.metadata or {}
        return metadata.get(LEASE_KEY)

    def _write(self, value: dict[str, object] | None) -> None:
        qdrant_call(lambda: self.qdrant.update_collection(self.collection, metadata={LEASE_KEY: value}))

    def _check(self, current: object) -> None:
        if not isinstance(current, dict) or current.get("owner") == self.owner:
            return
        expires = current.get("expires")
        left = expires - time.time() if isinstance(expires, (int, float)) else 0.0
        if left > 0:
            raise CollectionBusyError(
                f"collection {self.collection!r} is being ingested by another run (pid {current.get('pid')} on "
                f"{current.get('host')}); wait for it to finish, or ingest into another collection (a run that "
                f"was killed frees it within {left:.0f} s)"
            )

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self._write(self._record())
            except Exception:  # noqa: BLE001 - Qdrant away for a moment: the next renewal tries again
                continue
