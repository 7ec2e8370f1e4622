"""Awaitable Qdrant calls on a sync or async client, so one pipeline serves both; they ride out outages."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from aleph_embed.config import DEFAULT_QDRANT_DEADLINE
from aleph_embed.errors import RETRYABLE_STATUS_CODES, parse_retry_after
from aleph_embed.retry import Retry, RetryPolicy

from .errors import QdrantRejectedError, QdrantUnavailableError

_T = TypeVar("_T")
QDRANT_RETRIES = RetryPolicy(max_retries=None, deadline=DEFAULT_QDRANT_DEADLINE)
"""Qdrant calls retry until the deadline while Qdrant is away, unless told otherwise."""
_GRPC_TRANSIENT = frozenset({
    grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
})


def classify_qdrant(outcome: object) -> Retry | None:
    """Qdrant did not answer, or answered with a status worth another try (with the wait it asked for); over REST
    or gRPC (`prefer_grpc=True` clients)."""
    if isinstance(outcome, grpc.RpcError):
        return Retry() if outcome.code() in _GRPC_TRANSIENT else None
    if isinstance(outcome, ResourceExhaustedResponse):
        return Retry(float(outcome.retry_after_s))
    if isinstance(outcome, UnexpectedResponse):
        if outcome.status_code in RETRYABLE_STATUS_CODES:
            return Retry(parse_retry_after(outcome.headers.get("retry-after")))
        return None
    return Retry() if isinstance(outcome, ResponseHandlingException) else None


def is_local(qdrant: QdrantClient | AsyncQdrantClient) -> bool:
    """Whether `qdrant` is the embedded local mode (`path=` or `:memory:`), not a server."""
    options = qdrant.init_options
    return options.get("path") is not None or options.get("location") == ":memory:"


class Calls:
    """The ingest's and the evaluation's Qdrant calls, each awaitable whichever client was given.

    A sync client's calls run on a thread pool of `threads`. A sync embedded Qdrant (`path=` or `:memory:`), not safe
    for concurrent calls, gets one thread of its own, so that its writes overlap the embedding rather than stall the
    event loop; it runs inline where SQLite's connections cannot leave the thread that opened them (`_shares_sqlite`).
    Its writes commit without waiting for the disk (`_fast_commits`). Qdrant's calls retry transient failures under
    `retries` (every call here is idempotent); the final failure is `QdrantUnavailableError` (no answer in time)
    or `QdrantRejectedError` (Qdrant refused the request).
    """

    def __init__(
        self, qdrant: QdrantClient | AsyncQdrantClient, threads: int, retries: RetryPolicy = QDRANT_RETRIES,
    ):
        self._qdrant = qdrant
        self._retries = retries
        self.local = is_local(qdrant)
        """Qdrant's embedded local mode (it always searches exhaustively)."""
        sync = isinstance(qdrant, QdrantClient)
        options = qdrant.init_options
        thread_bound = options.get("path") is not None and not (
            options.get("force_disable_check_same_thread") or _shares_sqlite())
        self._qdrant_inline = sync and thread_bound
        self._pool = None if not sync or self._qdrant_inline else ThreadPoolExecutor(
            1 if self.local else threads, thread_name_prefix="aleph-embed-qdrant")

    async def collection_exists(self, collection: str) -> bool:
        return bool(await self._qdrant_call(lambda q: q.collection_exists(collection)))

    async def get_collection(self, collection: str) -> models.CollectionInfo:
        return await self._qdrant_call(lambda q: q.get_collection(collection))

    async def create_collection(self, collection: str, **arguments: Any) -> bool:
        return bool(await self._qdrant_call(lambda q: q.create_collection(collection, **arguments)))

    async def create_payload_index(self, collection: str, field_name: str, field_schema: Any) -> models.UpdateResult:
        return await self._qdrant_call(lambda q: q.create_payload_index(collection, field_name, field_schema))

    async def retrieve(self, collection: str, ids: Sequence[str], with_payload: list[str]) -> list[models.Record]:
        return await self._qdrant_call(
            lambda q: q.retrieve(collection, ids=ids, with_payload=with_payload, with_vectors=False)
        )

    async def upsert(self, collection: str, points: list[models.PointStruct], *, wait: bool = True) -> models.UpdateResult:
        return await self._qdrant_call(lambda q: _fast_commits(q, collection).upsert(collection, points=points, wait=wait))

    async def delete(self, collection: str, selector: models.PointsSelector) -> models.UpdateResult:
        return await self._qdrant_call(lambda q: _fast_commits(q, collection).delete(collection, points_selector=selector))

    async def delete_collection(self, collection: str) -> bool:
        return bool(await self._qdrant_call(lambda q: q.delete_collection(collection)))

    async def update_metadata(self, collection: str, metadata: dict[str, Any]) -> bool:
        return bool(await self._qdrant_call(lambda q: q.update_collection(collection, metadata=metadata)))

    async def version(self) -> str:
        """The Qdrant's version (the client's own for the embedded store)."""
        return str((await self._qdrant_call(lambda q: q.info())).version)

    async def query(self, collection: str, **arguments: Any) -> models.QueryResponse:
        """`query_points` with any of its arguments (see `query.query_arguments`)."""
        return await self._qdrant_call(lambda q: q.query_points(collection, **arguments))

    async def query_groups(
        self, collection: str, group_by: str, with_payload: bool = False, **arguments: Any
    ) -> models.GroupsResult:
        """The best point of each of the first `limit` values of the payload key `group_by`."""
        return await self._qdrant_call(lambda q: q.query_points_groups(
            collection, group_by, group_size=1, with_payload=with_payload, **arguments
        ))

    async def _qdrant_call(self, call: Callable[[QdrantClient | AsyncQdrantClient], Any]) -> Any:
        """`call` with retries of transient failures, as a typed error when it finally fails."""
        try:
            return await self._retries.arun(lambda: self._attempt(call), classify_qdrant)
        except _QDRANT_ERRORS as error:
            raise _typed(error, self._retries) from error

    async def _attempt(self, call: Callable[[QdrantClient | AsyncQdrantClient], Any]) -> Any:
        """`call` on the Qdrant client (both clients have the same methods): awaited on the async client, run inline
        or on the pool on the sync one."""
        qdrant = self._qdrant
        if isinstance(qdrant, AsyncQdrantClient):
            return await call(qdrant)
        if self._qdrant_inline:
            return call(qdrant)
        return await self._in_pool(functools.partial(call, qdrant))

    async def _in_pool(self, call: Callable[[], _T]) -> _T:
        assert self._pool is not None
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        """Cancel the calls not started; the embedded store's call under way ends first (its client may be closed
        next)."""
        if self._pool is not None:
            self._pool.shutdown(wait=self.local, cancel_futures=True)


_Client = TypeVar("_Client", bound="QdrantClient | AsyncQdrantClient")


def _fast_commits(qdrant: _Client, collection: str) -> _Client:
    """`qdrant`, its embedded store's collection `collection` (if any) set to commit without waiting for the disk.

    The embedded store commits each point in its own SQLite transaction; by default each commit waits for the disk
    (6-26 ms a point here). In write-ahead-log mode with `synchronous=NORMAL` a commit waits for nothing: a killed
    process loses no committed point, a power cut may lose the last ones (never the file), which a re-run writes
    again. The connection is qdrant-client's own (no public handle): where it is not found, nothing changes."""
    local = getattr(qdrant, "_client", None)
    storage = getattr(getattr(local, "collections", {}).get(collection), "storage", None)
    connection = getattr(storage, "storage", None)
    if isinstance(connection, sqlite3.Connection) and not connection.in_transaction:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    return qdrant


@functools.cache
def _shares_sqlite() -> bool:
    """Whether a SQLite connection may be used from another thread than the one that opened it (how qdrant-client's
    embedded store decides to allow it: the library built serialized, THREADSAFE=1, the default on Linux)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        row = connection.execute(
            "select * from pragma_compile_options where compile_options like 'THREADSAFE=%'").fetchone()
    return row is not None and row[0] == "THREADSAFE=1"


def qdrant_call(call: Callable[[], _T], retries: RetryPolicy = QDRANT_RETRIES) -> _T:
    """A sync Qdrant call (the CLI's short commands) with the retries and typed errors of `Calls`."""
    try:
        return retries.run(call, classify_qdrant)
    except _QDRANT_ERRORS as error:
        raise _typed(error, retries) from error


_QDRANT_ERRORS = (UnexpectedResponse, ResponseHandlingException, ResourceExhaustedResponse, grpc.RpcError, ValueError)


def _typed(error: Exception, retries: RetryPolicy) -> QdrantUnavailableError | QdrantRejectedError:
    if classify_qdrant(error) is not None:
        return QdrantUnavailableError(f"Qdrant did not answer within {retries.deadline:g} s ({_describe(error)})")
    # a final status, or the embedded store's validation (ValueError)
    return QdrantRejectedError(f"Qdrant refused the request ({_describe(error)})")


def _describe(error: Exception) -> str:
    if isinstance(error, UnexpectedResponse):
        return f"{error.status_code} {error.content.decode(errors='replace')[:300]}"
    if isinstance(error, grpc.RpcError):
        return f"gRPC {error.code().name}: {(error.details() or '')[:300]}"
    return f"{type(error).__name__}: {str(error)[:300]}"
