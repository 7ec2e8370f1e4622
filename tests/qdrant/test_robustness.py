"""Nothing aborts an ingest for one document; a run that must stop stops cleanly with its report; duplicates are
deterministic. Real Qdrant (embedded and the server binary); `/embed` is a fake over httpx.MockTransport, so that it
can answer what the real server never does (NaN, wrong sizes, missing layers, 401/403/404)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbeddingSettings
from aleph_embed_qdrant import (
    IngestConfigurationError,
    IngestInterrupted,
    IngestStopped,
    QdrantIngestor,
    ReadFailure,
    SourceDocument,
    point_id,
)

from ..support.qdrant_server import QdrantServer, assert_documents_once

HOST = "http://embed.test"
MODEL = "fake-model"
SETTINGS = EmbeddingSettings(model=MODEL)
GOOD = [{"id": f"good-{i}", "text": f"A good document number {i} about nothing much.", "metadata": {"n": i}}
        for i in range(20)]
PADDING = " and then some more words, so that it is embedded after the good ones" * 3


class FakeEmbed:
    """`/embed` with an 8-dimensional vector from the prompt's hash; prompts containing NAN / SHORT / NOLAYER /
    BADREQUEST get malformed answers or a 400; `status` answers every call with that error status; prompts over
    `max_prompt` characters get the 400 of a prompt over the context. No tokenizer endpoint (404)."""

    def __init__(self, status: int | None = None, delay: float = 0.0, max_prompt: int | None = None) -> None:
        self.status = status
        self.delay = delay
        self.max_prompt = max_prompt  # longer prompts are refused as over the context
        self.calls = 0  # every request
        self.embeds = 0  # /embed requests
        self._lock = threading.Lock()

    def answer(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.calls += 1
            self.embeds += request.url.path.endswith("/embed")
        if request.url.path.endswith("/models_available"):
            return httpx.Response(200, json=[{"name": MODEL, "max_context_size": 512}])
        if not request.url.path.endswith("/embed"):  # no tokenizer endpoint: chunk sizes are estimated
            return httpx.Response(404, json={"error": "not found", "code": "NOT_FOUND"})
        if self.status is not None:
            return httpx.Response(self.status, json={"error": "refused", "code": str(self.status)})
        body = json.loads(request.content)
        prompt: str = body["prompt"]
        if self.max_prompt is not None and len(prompt) > self.max_prompt:
            message = f"prompt has {len(prompt)} tokens, more than the model's context of {self.max_prompt}"
            return httpx.Response(400, json={"error": message, "code": "PAYLOAD_ERROR"})
        if "BADREQUEST" in prompt:
            return httpx.Response(400, json={"error": "cannot embed this", "code": "PAYLOAD_ERROR"})
        digest = hashlib.sha256(prompt.encode()).digest()
        vector = [byte / 255 + 0.01 for byte in digest[:8]]
        if "NAN" in prompt:
            vector[3] = float("nan")
        if "SHORT" in prompt:
            vector = vector[:2]
        layers = {} if "NOLAYER" in prompt else {
            f"layer_{6 + 1 + layer if layer < 0 else layer}": {pooling: vector for pooling in body["pooling"]}
            for layer in body["layers"]
        }
        return httpx.Response(200, content=json.dumps(
            {"model_version": "fake", "embeddings": layers, "tokens": None, "num_tokens_prompt_total": 3}
        ).encode())

    def handle(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.delay)
        return self.answer(request)

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.delay)
        return self.answer(request)

    def client(self, concurrency: int = 4) -> EmbedClient:
        return EmbedClient(HOST, concurrency=concurrency, http_client=httpx.Client(transport=httpx.MockTransport(self.handle)))

    def async_client(self, concurrency: int = 4) -> AsyncEmbedClient:
        transport = httpx.MockTransport(self.ahandle)
        return AsyncEmbedClient(HOST, concurrency=concurrency, http_async_client=httpx.AsyncClient(transport=transport))


def ingestor(embedder: EmbedClient | AsyncEmbedClient, qdrant: QdrantClient, collection: str, **options: Any) -> QdrantIngestor:
    return QdrantIngestor(embedder=embedder, settings=SETTINGS, qdrant=qdrant, collection=collection, **options)


def stored_texts(qdrant: QdrantClient, collection: str) -> dict[Any, str]:
    records, _ = qdrant.scroll(collection, limit=10_000, with_payload=True)
    return {record.payload["document_id"]: record.payload["page_content"] for record in records}


class NotJSON:
    pass


def test_one_bad_document_never_stops_the_run(qdrant: QdrantClient, collection: str) -> None:
    bad: list[object] = [
        {"id": "oops", "text": "metadata that is a string", "metadata": "oops"},
        {"id": "object", "text": "metadata that is not JSON", "metadata": {"value": NotJSON()}},
        {"id": "surrogate", "text": "a lone \ud800 surrogate"},
        {"id": "nan", "text": "NAN" + PADDING},
        {"id": "short", "text": "SHORT" + PADDING},
        {"id": "nolayer", "text": "NOLAYER" + PADDING},
        {"id": "rejected", "text": "BADREQUEST" + PADDING},
        {"id": "blank", "text": "  "},
        ReadFailure("docs/latin1.txt", "not UTF-8 (byte 0xe9 at 12)"),
        SourceDocument("from a file", "file-doc", source="docs/file.md", metadata={"x": float("nan")}),
        42,
    ]
    with FakeEmbed().client() as embedder:
        report = ingestor(embedder, qdrant, collection, batch_size=8).ingest([*GOOD[:10], *bad, *GOOD[10:]])

    assert (report.ingested, report.documents, report.not_reached) == (20, 31, 0)
    failed = {failure.source: failure for failure in report.failed}
    assert len(failed) == len(bad)
    reasons = {failure.id: failure.reason for failure in report.failed if failure.id is not None}
    assert "metadata must be a JSON object" in reasons["oops"]
    assert "not JSON serializable" in reasons["object"]
    assert "surrogate" in reasons["surrogate"]
    assert "InvalidResponseError" in reasons["nan"] and "finite number" in reasons["nan"]
    assert "vectors of [2] dimensions, the collection's have 8" in reasons["short"]
    assert "InvalidResponseError" in reasons["nolayer"] and "layer -1" in reasons["nolayer"]
    assert "BadRequestError" in reasons["rejected"]
    assert reasons["blank"].startswith("empty text")
    assert failed["docs/latin1.txt"].reason.startswith("not UTF-8") and failed["docs/file.md"].id == "file-doc"
    assert "cannot ingest a int" in failed["item 20"].reason
    assert failed["item 13"].document == SourceDocument("NAN" + PADDING, "nan")  # what to feed back
    assert qdrant.count(collection).count == 20
    assert set(stored_texts(qdrant, collection)) == {document["id"] for document in GOOD}


class PickyQdrant(QdrantClient):
    """Refuses (400) any upsert holding a point whose text contains REJECT, like a server refusing one point."""

    def upsert(self, collection_name: str, points: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if any("REJECT" in point.payload["page_content"] for point in points):
            raise UnexpectedResponse(400, "Bad Request", b'{"status": {"error": "bad point"}}', httpx.Headers())
        return super().upsert(collection_name, points, **kwargs)


def picky(qdrant: QdrantClient, cls: type[QdrantClient]) -> QdrantClient:
    options = qdrant.init_options
    if options.get("path"):
        qdrant.close()
        return cls(path=options["path"])
    return cls(url=options["url"], check_compatibility=False)


def test_a_batch_qdrant_refuses_is_sent_point_by_point_and_only_the_refused_point_fails(
    qdrant: QdrantClient, collection: str
) -> None:
    client = picky(qdrant, PickyQdrant)
    documents = [*GOOD[:5], {"id": "refused", "text": "please REJECT me"}, *GOOD[5:10]]
    with FakeEmbed().client() as embedder:
        report = ingestor(embedder, client, collection, batch_size=16).ingest(documents)

    assert report.ingested == 10
    (failure,) = report.failed
    assert (failure.id, failure.source) == ("refused", "item 5") and "Qdrant refused" in failure.reason
    assert client.count(collection).count == 10


@pytest.mark.parametrize(
    "status, message",
    [
        (401, "pass --token or set AA_TOKEN"),
        (403, "pass another --token or set AA_TOKEN"),
        (404, f"pass --model NAME; the host serves: {MODEL}"),
    ],
)
def test_configuration_errors_stop_the_run_after_a_few_calls(
    status: int, message: str, qdrant: QdrantClient, collection: str
) -> None:
    fake = FakeEmbed(status=status)
    with fake.client(concurrency=4) as embedder, pytest.raises(IngestConfigurationError, match=message) as raised:
        ingestor(embedder, qdrant, collection, batch_size=8).ingest(GOOD * 10)

    report = raised.value.report
    assert fake.calls <= 2 + 4 + 1  # the chunker's look-ups, the calls in flight, one to name the served models
    assert (report.documents, report.ingested, report.failed) == (200, 0, [])
    assert report.not_reached == 200 - report.duplicates
    assert str(raised.value).endswith("re-run to resume")


def test_duplicates_last_occurrence_wins_and_a_rerun_costs_no_embed_call(qdrant: QdrantClient, collection: str) -> None:
    documents: list[object] = [
        {"id": "a", "text": "the first version of a"},
        {"id": 1, "text": "the integer one"},
        {"id": "1", "text": "the string one"},
        {"text": "same text", "metadata": {"lang": "en"}},
        {"text": "same text", "metadata": {"lang": "de"}},
        *({"id": f"filler-{i}", "text": f"filler text {i}"} for i in range(70)),  # the last "a" is in another batch
        {"id": "a", "text": "the second version of a"},
    ]
    fake = FakeEmbed()
    with fake.client() as embedder:
        run = ingestor(embedder, qdrant, collection, batch_size=16)
        first = run.ingest(documents)
        embeds = fake.embeds
        second = run.ingest(documents)

    assert (first.ingested, first.duplicates, first.documents) == (75, 1, 76)
    assert (second.ingested, second.skipped, second.duplicates) == (0, 75, 1)
    assert fake.embeds == embeds == 75
    texts = stored_texts(qdrant, collection)
    assert (texts["a"], texts[1], texts["1"]) == ("the second version of a", "the integer one", "the string one")
    assert qdrant.count(collection).count == 75
    same = [SourceDocument("same text", None, {"lang": lang}) for lang in ("en", "de")]
    assert len(qdrant.retrieve(collection, [point_id(document) for document in same])) == 2


def test_a_chunk_the_server_refuses_as_too_long_is_split_further(qdrant: QdrantClient, collection: str) -> None:
    text = " ".join(f"Sentence {i} of a long document says one more thing about its topic." for i in range(50))
    fake = FakeEmbed(max_prompt=300)  # no tokenizer endpoint: chunk sizes are estimated, 256 tokens ~ 760 bytes
    with fake.client() as embedder:
        first = ingestor(embedder, qdrant, collection).ingest([{"id": "long", "text": text}])
        second = ingestor(embedder, qdrant, collection).ingest([{"id": "long", "text": text}])

    assert (first.ingested, first.failed) == (1, [])
    records, _ = qdrant.scroll(collection, limit=1_000, with_payload=True)
    chunks = sorted((record.payload["metadata"] for record in records), key=lambda metadata: metadata["chunk_index"])
    assert [metadata["chunk_index"] for metadata in chunks] == list(range(len(chunks))) and len(chunks) > 5
    assert all(metadata["chunk_end"] - metadata["chunk_start"] <= 300 for metadata in chunks)  # never truncated:
    assert (chunks[0]["chunk_start"], chunks[-1]["chunk_end"]) == (0, len(text))  # they cover the text
    assert all(b["chunk_start"] <= a["chunk_end"] + 1 for a, b in zip(chunks, chunks[1:]))  # no gap but a space
    assert (second.skipped, second.embed_calls) == (1, 0)


class FailingQdrant(QdrantClient):
    """Qdrant goes away (no answer) after `allowed` upserts."""

    allowed = 2

    def upsert(self, collection_name: str, points: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if FailingQdrant.allowed <= 0:
            raise ResponseHandlingException(httpx.ConnectError("connection refused"))
        FailingQdrant.allowed -= 1
        return super().upsert(collection_name, points, **kwargs)


def test_qdrant_gone_past_the_deadline_stops_cleanly_and_a_rerun_resumes(qdrant: QdrantClient, collection: str) -> None:
    FailingQdrant.allowed = 2
    client = picky(qdrant, FailingQdrant)
    documents = [*GOOD, {"id": "blank", "text": ""}, *({"id": i, "text": f"more text {i}"} for i in range(60))]
    with FakeEmbed().client() as embedder:
        with pytest.raises(IngestStopped, match=r"Qdrant did not answer within 1 s") as raised:
            ingestor(embedder, client, collection, batch_size=10, upsert_parallelism=1, qdrant_deadline=1).ingest(documents)
        report = raised.value.report
        assert not isinstance(raised.value, IngestConfigurationError)
        assert report.ingested == 20 and report.not_reached == 81 - 20 - len(report.failed)
        assert [failure.id for failure in report.failed] == ["blank"]

        FailingQdrant.allowed = 1_000
        again = ingestor(embedder, client, collection, batch_size=10).ingest(documents)
    assert (again.skipped, again.ingested, len(again.failed)) == (20, 60, 1)
    assert client.count(collection).count == 80


async def test_a_cancelled_ingest_raises_interrupted_with_its_report(tmp_path: Path) -> None:
    fake = FakeEmbed(delay=0.01)
    progress: list[int] = []
    async with fake.async_client(concurrency=2) as embedder:
        run = ingestor(embedder, QdrantClient(path=str(tmp_path / "q")), "c", batch_size=4, upsert_parallelism=1)
        task = asyncio.ensure_future(run.aingest(GOOD * 5, on_progress=lambda r: progress.append(r.ingested)))
        while not progress or progress[-1] < 4:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(IngestInterrupted, match="interrupted. Stopped: ") as raised:
            await task
    report = raised.value.report
    assert report.ingested >= 4 and report.not_reached > 0


@pytest.mark.slow
def test_a_qdrant_server_paused_for_30_seconds_mid_ingest_loses_and_doubles_nothing(tmp_path: Path) -> None:
    server = QdrantServer(tmp_path / "paused").start()
    documents = [{"id": i, "text": f"Document {i}: " + "words " * (i % 7)} for i in range(3000)]
    qdrant = QdrantClient(url=server.url, check_compatibility=False)
    watcher = QdrantClient(url=server.url, check_compatibility=False)
    outcome: dict[str, Any] = {}

    def run() -> None:
        with FakeEmbed().client(concurrency=8) as embedder:
            outcome["report"] = ingestor(embedder, qdrant, "paused", batch_size=32).ingest(documents)

    thread = threading.Thread(target=run)
    try:
        thread.start()
        deadline = time.monotonic() + 120
        while not (watcher.collection_exists("paused") and watcher.count("paused").count >= 600):
            assert time.monotonic() < deadline and thread.is_alive()
            time.sleep(0.05)
        server.pause()
        time.sleep(30)
        assert thread.is_alive()  # the run waited through the pause (SIGSTOP of the server binary)
        server.resume()
        thread.join(180)
        assert not thread.is_alive()
        report = outcome["report"]
        assert (report.ingested, report.failed) == (3000, [])
        assert watcher.count("paused").count == 3000
        assert_documents_once(watcher, "paused", range(3000))
    finally:
        server.resume()
        server.stop()
