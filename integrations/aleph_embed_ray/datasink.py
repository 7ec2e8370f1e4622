"""`VectorDatasink`: the ingest's write stage, a Ray `Datasink` over our `VectorSink` (Qdrant first)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from ray.data import Datasink
from ray.data.block import Block, BlockAccessor

from aleph_embed.config import DEFAULT_UPSERT_BATCH_BYTES
from aleph_embed.ingest import FailedDocument, IngestReport
from aleph_embed.ingest.documents import ReadFailure
from aleph_embed.ingest.upserts import UpsertBuffer, write_points

from .columns import failed_document, read_failure, read_points
from .stages import SinkFactory


class VectorDatasink(Datasink[dict[str, Any]]):
    """`points.write_datasink(VectorDatasink(sink))`: each write task upserts its blocks' points (`columns.
    POINT_SCHEMA`) through its own sink from `sink` (a factory), `batch_size` points or `batch_bytes` per write, its
    last write waited for; a batch the store refuses is sent again point by point, so only the refused points'
    documents fail. Writes are by id: a retried task rewrites the same points.

    Once the write completes, `report` (an `IngestReport` of the whole run, summed over the blocks' reports) and
    `unreadable` (the files and lines that could not be read) are set on the driver's object, with `usage` (the
    embedding clients' requests and retries) and `seen` (see
    `EmbedDocuments`' `report_seen`)."""

    def __init__(self, sink: SinkFactory, *, batch_size: int = 64, batch_bytes: int = DEFAULT_UPSERT_BATCH_BYTES) -> None:
        self.sink = sink
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.report: IngestReport | None = None
        self.unreadable: list[ReadFailure] = []
        self.usage = {"requests": 0, "retries": 0}  # the embedding clients' requests and retries
        self.seen: list[list[Any]] = []  # [id, point id, source] of each document, when the blocks report them

    def write(self, blocks: Iterable[Block], ctx: Any) -> dict[str, Any]:
        return asyncio.run(self._write(blocks))

    async def _write(self, blocks: Iterable[Block]) -> dict[str, Any]:
        sink = self.sink()
        buffer: UpsertBuffer[str] = UpsertBuffer(self.batch_size, self.batch_bytes)
        result: dict[str, Any] = {"points": 0, "refused": {}, "reports": []}

        async def flush(everything: bool) -> None:
            for batch in buffer.batches(everything=everything):
                refused = await write_points(sink, [point for point, _ in batch], last=everything)
                result["points"] += len(batch) - len(refused)
                for index, error in refused.items():
                    result["refused"].setdefault(batch[index][1], str(error))

        try:
            for block in blocks:
                points, reports = read_points(BlockAccessor.for_block(block).to_arrow())
                result["reports"] += reports
                for point, document in points:
                    vector = point.vector
                    buffer.add([point], document, len(vector) if isinstance(vector, list) else 0)
                await flush(everything=False)
            await flush(everything=True)
        finally:
            sink.close()
        return result

    def on_write_complete(self, write_result: Any) -> None:
        report = IngestReport()
        refused: dict[str, str] = {}
        for result in write_result.write_returns:
            report.points += result["points"]
            refused.update(result["refused"])
            for block in result["reports"]:
                for name in ("documents", "ingested", "skipped", "duplicates", "embed_calls"):
                    setattr(report, name, getattr(report, name) + block[name])
                report.failed += [failed_document(record) for record in block["failed"]]
                self.unreadable += [read_failure(record) for record in block["unreadable"]]
                self.seen += block.get("seen", [])
                for name, count in block["usage"].items():
                    self.usage[name] += count
        report.ingested -= len(refused)
        report.failed += [FailedDocument(None, document, reason, f"point {document}") for document, reason in refused.items()]
        self.report = report

    def get_name(self) -> str:
        return "VectorSink"
