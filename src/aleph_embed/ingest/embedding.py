"""A document's vectors: cut into chunks, each chunk's call (or a place in a prompt batcher's call), chunks the
server rejects as too long split further; errors that stop the whole run told apart from a document's own."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Union

from aleph_embed import (
    AlephEmbedError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    EmbeddingSettings,
    EmbedRequest,
    EmbedResponse,
    QuotaExceededError,
    TransportError,
    UnknownModelError,
)
from aleph_embed.config import ENV_TOKEN
from aleph_embed.bridge import call, is_async
from aleph_embed.bulk import LoadWindow, arun_in_window
from aleph_embed.chunking import Chunk, Chunker, TextKind, ChunkRounds
from aleph_embed.errors import BatchEmbedError, describe_failures
from aleph_embed.models import MAX_BATCH_PROMPTS, ApiAnswer, ApiRequest

from .batching import PromptBatcher
from .documents import SourceDocument
from .readers import text_kind
from .report import IngestReport
from .spool import Pending
from .tasks import TaskGroup
from .vectors import Packed, VectorPlan, pack

if TYPE_CHECKING:
    from aleph_embed import AsyncEmbedClient, EmbedClient

Answer = Union[EmbedResponse, list[float]]
"""What one text's call gives: the `/embed` answer, or the vector through another endpoint."""
Vectors = tuple[Packed, int]
"""A text's vector (or named vectors), packed as soon as its answer comes (a long document's answers wait for its
last chunk's), and their size."""
Answers = list[tuple[Union[Chunk, None], Vectors]]
"""A document's vectors: one per chunk, or one for the whole document (chunk None)."""


class MalformedAnswer(ValueError):
    """An answer without the vectors the plan takes from it."""


class Stop(Exception):
    """Raised inside the run when it must stop (not a document's failure); `error` says why."""

    def __init__(self, error: AlephEmbedError) -> None:
        super().__init__(str(error))
        self.error = error


class DocumentEmbedding:
    """The embedding side of a run: `answers(entry)` gives a document's answers or the reason it failed; raises
    `Stop` when an error every further call would share stops the run. `busy()` marks work documents wait on."""

    def __init__(
        self, embedder: EmbedClient | AsyncEmbedClient, plan: VectorPlan, concurrency: int, report: IngestReport,
        tasks: TaskGroup, busy: Callable[[], AbstractContextManager[None]], stalled: Callable[[], bool],
    ) -> None:
        self.embedder = embedder
        self.plan = plan
        self.settings: EmbeddingSettings = plan.settings
        self.report = report
        self.tasks = tasks
        self.busy = busy
        self.chunker: Chunker | None = None
        self.stop: Stop | None = None
        self.load = LoadWindow(concurrency, embedder.adapt_concurrency)  # the calls in flight, narrowed when full
        self.wake = asyncio.Condition()
        self._pool = None if is_async(embedder) else ThreadPoolExecutor(concurrency, thread_name_prefix="aleph-embed-ingest")
        self.batcher = None if self.settings.endpoint == "embed" else PromptBatcher(
            self.settings, self.send, tasks.spawn, stalled
        )
        self.in_flight = concurrency * (4 if self.batcher is None else MAX_BATCH_PROMPTS)
        """A document's texts on their way at once: enough to keep every call busy (and each batch call full)."""

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def request(self, text: str) -> EmbedRequest | None:
        """The `/embed` request of a whole document; None when it is empty and empty texts are not embedded."""
        prompt = self.settings.prompt_text(text)
        return None if prompt is None else self.settings.request(prompt, **self.plan.request_extras())

    async def answers(self, entry: Pending) -> Answers | str:
        """The answer for each chunk of a document (or for the whole document: chunk None; none for an empty one
        with `empty_text='skip'`), or why it failed. A
        chunk the server rejects as too long is split further (see `EmbedClient.embed_chunks`)."""
        document, chunker = entry.document, self.chunker
        try:
            # In a thread: a long document's tokenizing would hold up the calls and writes of the event loop. Busy
            # meanwhile: its texts are on the way, so the batcher does not send a partial call for want of them.
            with self.busy():
                chunks = [] if chunker is None else await asyncio.to_thread(chunker.split, document.text,
                                                                            kind=_kind(document))
        except Exception as error:  # the chunker on an odd text: this document's problem only
            return f"cannot cut into chunks: {describe(error)}"
        if chunker is None or not chunks:  # stored whole (a blank text gets no chunk)
            request = self.request(document.text)
            if request is None:
                if self.settings.empty_text == "skip":
                    return []
                return ("empty text (the API rejects empty prompts): skip it with empty_text='skip' or embed a "
                        "placeholder with empty_text='placeholder' (CLI: --empty-text skip / placeholder)")
            (answer,) = await self._round(entry, [request])
            if isinstance(answer, Exception):
                return str(answer) if isinstance(answer, MalformedAnswer) else describe(answer)
            return [(None, answer)]
        rounds: ChunkRounds[Vectors] = ChunkRounds(
            [(document.text, chunks)], self.settings, chunker, **self.plan.request_extras()
        )
        while rounds.pending:
            rounds.record(await self._round(entry, rounds.requests()))
        try:
            return list(rounds.answers(0))
        except BatchEmbedError as error:
            return describe_failures(error.errors, "chunk")

    async def _round(self, entry: Pending, requests: list[EmbedRequest]) -> list[Vectors | Exception]:
        """The vectors (or errors) of a document's `requests`, up to `in_flight` at once (a document of 15,000
        chunks holds no 15,000 waiting calls); raises when the run is stopping."""
        answers: list[Vectors | Exception] = [ValueError("not sent")] * len(requests)
        queue = iter(enumerate(requests))

        async def worker() -> None:
            for index, request in queue:
                try:
                    answers[index] = await self._vectors(entry, request)
                except Exception as error:  # this text's failure (Stop: the run's, raised below)
                    answers[index] = error

        await asyncio.gather(*(worker() for _ in range(min(self.in_flight, len(requests)))))
        self.tasks.raise_error()  # the run is stopping: its error, not this document's
        for answer in answers:
            if isinstance(answer, Stop):
                raise answer
        return answers

    async def _vectors(self, entry: Pending, request: EmbedRequest) -> Vectors | MalformedAnswer:
        """The packed vectors of `request`'s answer, as soon as it comes."""
        answer = await self._embed(entry, request)
        try:
            vector, size = self.plan.vectors(answer)
        except (KeyError, ValueError, TypeError) as error:
            return MalformedAnswer(f"malformed /embed answer: {describe(error)}")
        return pack(vector), size

    def _embed(self, entry: Pending, request: EmbedRequest) -> Awaitable[Answer]:
        """The `/embed` answer to `request`; with another endpoint, the vector of its prompt through that endpoint
        (many documents' texts per call where it takes many: submitted at once, see `PromptBatcher.submit`)."""
        if self.batcher is not None and isinstance(request.prompt, str):
            return self.batcher.submit(request.prompt, entry.position)
        return self._embed_call(request)

    async def _embed_call(self, request: EmbedRequest) -> EmbedResponse:
        answer = await self.send(request)
        assert isinstance(answer, EmbedResponse)
        return answer

    async def send(self, request: ApiRequest) -> ApiAnswer:
        """One embedding call within the run's load window (the calls in flight: at most `concurrency`, halved when
        the server says it is full, grown back as calls succeed; see `aleph_embed.bulk.LoadWindow`); an error every
        further call would share stops the run."""
        return await arun_in_window(self.load, self.wake, functools.partial(self._send, request))

    async def _send(self, request: ApiRequest) -> ApiAnswer:
        self.tasks.raise_error()  # the run is stopping: no more /embed calls
        if self.stop is not None:
            raise self.stop
        self.report.embed_calls += 1
        try:
            return await self._call(request)
        except AlephEmbedError as error:
            if not stops_the_run(error):
                raise
            self.stop = self.stop or Stop(error)
            raise self.stop from error

    def _call(self, request: ApiRequest) -> Coroutine[Any, Any, ApiAnswer]:
        """`embedder.call(request)`: awaited, or on the run's own threads (as many as calls in flight), in this
        task's context (its load window's ticket, the caller's meters)."""
        if self._pool is None:
            return call(self.embedder, "call", request)
        bound = functools.partial(contextvars.copy_context().run, self.embedder.call, request)
        return asyncio.get_running_loop().run_in_executor(self._pool, bound)  # type: ignore[return-value]

    async def explain(self, error: AlephEmbedError) -> AlephEmbedError:
        """Why the run stops, in the CLI's terms: every further call would fail the same way."""
        if isinstance(error, AuthenticationError):
            return ConfigurationError(f"the /embed host refused the token ({error}): pass --token or set {ENV_TOKEN}")
        if isinstance(error, APIStatusError) and error.status_code == 403:
            return ConfigurationError(
                f"the /embed host forbids this token that use ({error}): pass another --token or set {ENV_TOKEN}"
            )
        if isinstance(error, UnknownModelError):
            return ConfigurationError(f"model {self.settings.model!r} is unknown to the /embed host ({error}): pass "
                                      f"--model NAME{await self._served_models()}")
        if isinstance(error, QuotaExceededError):
            return AlephEmbedError(f"the /embed host says the account has no credits left ({error})")
        if isinstance(error, TransportError):
            return AlephEmbedError(f"the /embed host stopped answering ({error})")
        return error

    async def _served_models(self) -> str:
        """`; the host serves: ...`, or nothing when the host does not say."""
        try:
            served = await call(self.embedder, "models_available")
        except AlephEmbedError:
            return ""
        return f"; the host serves: {', '.join(sorted(info.name for info in served))}"


def stops_the_run(error: AlephEmbedError) -> bool:
    """Whether every further embedding call would fail the same way (token, model, credits, host gone)."""
    forbidden = isinstance(error, APIStatusError) and error.status_code == 403
    return forbidden or isinstance(error, (AuthenticationError, UnknownModelError, QuotaExceededError, TransportError))


def _kind(document: SourceDocument) -> TextKind:
    """How to read a document's structure, by the suffix of its source or id (see `readers.text_kind`)."""
    return text_kind(document.source or (document.id if isinstance(document.id, str) else ""))


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
