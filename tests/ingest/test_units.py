"""Unit tests of the engine's parts: spool, upsert buffer, prompt batcher (fake send), payload layouts, and the core
import without qdrant-client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from aleph_embed import BadRequestError, EmbeddingSettings, TransportError
from aleph_embed.chunking import Chunk
from aleph_embed.ingest import IngestReport, Point, ReadFailure, SourceDocument, point_id
from aleph_embed.ingest.batching import PromptBatcher
from aleph_embed.ingest.spool import Spool
from aleph_embed.ingest.upserts import UpsertBuffer, point_bytes
from aleph_embed.models import ApiAnswer, ApiRequest, BatchSemanticEmbedResponse


def test_the_engine_imports_without_qdrant_client() -> None:
    code = ("import sys; sys.modules['qdrant_client'] = None; import aleph_embed.ingest as i; "
            "print(i.Ingestor.__name__, i.MemorySink.__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Ingestor", "MemorySink"]


def test_the_spool_keeps_the_last_of_each_id_and_reports_unusable_items() -> None:
    report = IngestReport()
    spool = Spool(report, lambda document: f"hash of {document.text}")
    items = [{"id": 1, "text": "first"}, "no id", {"id": 1, "text": "second"}, ReadFailure("a.pdf", "broken", "a.pdf"),
             {"id": 2, "text": "x", "metadata": ["not", "an", "object"]}, {"id": "1", "text": "a string id"}]
    asyncio.run(spool.fill(items))
    entries = list(spool.entries())
    spool.close()
    assert [(entry.position, entry.document.text) for entry in entries] == [(1, "no id"), (2, "second"), (5, "a string id")]
    assert entries[1].point_id == point_id(SourceDocument("second", 1)) and entries[1].content_hash == "hash of second"
    assert (report.documents, report.duplicates) == (6, 1)
    assert [(failed.source, failed.reason[:17]) for failed in report.failed] == [
        ("a.pdf", "broken"), ("item 4", "unusable document")]


def _point(name: str, payload_bytes: int) -> Point:
    return Point(id=name, vector=[0.0, 1.0], payload={"t": "x" * payload_bytes})


def test_the_upsert_buffer_cuts_batches_by_count_and_bytes_and_keeps_the_last_one_until_everything() -> None:
    buffer: UpsertBuffer[str] = UpsertBuffer(batch_size=3, batch_bytes=400)
    small = point_bytes(_point("s", 10), 2)
    assert small == 20 * 2 + len(json.dumps({"t": "x" * 10}))
    buffer.add([_point(f"p{i}", 10) for i in range(7)], "doc", 2)
    assert [[point.id for point, _ in batch] for batch in buffer.batches()] == [["p0", "p1", "p2"], ["p3", "p4", "p5"]]
    assert len(buffer) == 1  # a partial batch waits for more points
    buffer.add([_point("big", 500), _point("after", 10)], "other", 2)  # over batch_bytes alone: a batch of its own
    batches = [[(point.id, owner) for point, owner in batch] for batch in buffer.batches(everything=True)]
    assert batches == [[("p6", "doc")], [("big", "other")], [("after", "other")]]
    assert len(buffer) == 0


def test_a_point_over_the_byte_limit_goes_alone() -> None:
    buffer: UpsertBuffer[int] = UpsertBuffer(batch_size=10, batch_bytes=200)
    buffer.add([_point("a", 10), _point("big", 500), _point("b", 10)], 0, 2)
    assert [[point.id for point, _ in batch] for batch in buffer.batches(everything=True)] == [["a"], ["big"], ["b"]]


class FakeSend:
    """The endpoint's side: records each call's prompts; refuses calls holding `bad` (a 400), or fails all."""

    def __init__(self, settings: EmbeddingSettings, bad: str | None = None, fail: Exception | None = None) -> None:
        self.settings, self.bad, self.fail = settings, bad, fail
        self.calls: list[list[str]] = []

    async def __call__(self, request: ApiRequest) -> ApiAnswer:
        prompts = list(request.body()["prompts"])
        self.calls.append(prompts)
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        if self.bad in prompts:
            raise BadRequestError("a prompt the host refuses", status_code=400)
        return BatchSemanticEmbedResponse(model_version="1", embeddings=[[float(len(p)), 1.0] for p in prompts],
                                          num_tokens_prompt_total=len(prompts))


async def _batch(
    send: FakeSend, texts: list[str], settings: EmbeddingSettings, stalled: bool = True, watchdog: float = 30.0
) -> list[object]:
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coroutine: object) -> None:
        tasks.add(asyncio.ensure_future(coroutine))  # type: ignore[arg-type]

    batcher = PromptBatcher(settings, send, spawn, stalled=lambda: stalled, watchdog=watchdog)
    futures = [batcher.submit(text, index) for index, text in enumerate(texts)]
    return list(await asyncio.gather(*futures, return_exceptions=True))


SEMANTIC = EmbeddingSettings(model="m", endpoint="semantic")


def test_the_batcher_fills_calls_and_sends_the_rest_when_stalled() -> None:
    send = FakeSend(SEMANTIC)
    texts = [f"text {i}" for i in range(250)]
    vectors = asyncio.run(_batch(send, texts, SEMANTIC))
    assert [len(call) for call in send.calls] == [100, 100, 50]
    assert vectors[7] == [float(len("text 7")), 1.0]


def test_the_batcher_sends_a_refused_call_again_text_by_text_so_only_the_bad_text_fails() -> None:
    send = FakeSend(SEMANTIC, bad="text 3")
    results = asyncio.run(_batch(send, [f"text {i}" for i in range(5)], SEMANTIC))
    assert isinstance(results[3], BadRequestError)
    assert all(isinstance(result, list) for index, result in enumerate(results) if index != 3)
    assert send.calls[0] == [f"text {i}" for i in range(5)] and sorted(map(len, send.calls[1:])) == [1] * 5


def test_the_batcher_fails_every_text_of_a_call_that_fails_otherwise() -> None:
    send = FakeSend(SEMANTIC, fail=TransportError("host gone"))
    results = asyncio.run(_batch(send, ["a", "b"], SEMANTIC))
    assert all(isinstance(result, TransportError) for result in results) and len(send.calls) == 1


def test_the_watchdog_sends_the_partial_call_the_stall_rule_missed_with_a_warning() -> None:
    send = FakeSend(SEMANTIC)
    with pytest.warns(RuntimeWarning, match="partial call of 50 texts"):
        vectors = asyncio.run(_batch(send, [f"t{i}" for i in range(250)], SEMANTIC, stalled=False, watchdog=0.05))
    assert [len(call) for call in send.calls] == [100, 100, 50] and all(isinstance(v, list) for v in vectors)


@pytest.mark.parametrize("layout", ["both", "langchain", "llamaindex"])
def test_every_layout_gives_back_text_metadata_hash_and_chunk_count(layout: str) -> None:
    from aleph_embed_qdrant.layout import CHUNKS_KEY, HASH_KEY, build_payload, payload_metadata, payload_text

    document = SourceDocument("whole text", "doc.md", {"source": "doc.md", "lang": "en"}, "doc.md")
    chunk = Chunk(1, "a chunk", 4, 11, ("Intro",), 2)
    payload = build_payload(layout, "id-1", document, "h", chunk, 3)  # type: ignore[arg-type]
    assert payload_text(payload) == "a chunk" and (payload[HASH_KEY], payload[CHUNKS_KEY]) == ("h", 3)
    metadata = payload_metadata(payload)
    assert metadata["lang"] == "en" and metadata["chunk_index"] == 1 and metadata["headings"] == ["Intro"]
    assert metadata["title"] == "Intro" and (metadata["chunk_start"], metadata["chunk_end"]) == (4, 11)
