"""Documents -> /embed (or another endpoint) -> Qdrant: the `Ingestor` over a `QdrantSink`, in one constructor."""

from __future__ import annotations

from collections.abc import Mapping

from qdrant_client import AsyncQdrantClient, QdrantClient

from aleph_embed import AsyncEmbedClient, EmbedClient, EmbeddingSettings
from aleph_embed.config import (
    DEFAULT_CHUNK_TOKENS, DEFAULT_MAX_DOCUMENT_CHARS, DEFAULT_QDRANT_DEADLINE, DEFAULT_UPSERT_BATCH_BYTES,
)
from aleph_embed.chunking import Chunker
from aleph_embed.ingest import FailedDocument, IngestReport, chunk_point_id, point_id
from aleph_embed.ingest.bm25 import BM25Settings
from aleph_embed.ingest.engine import Ingestor
from aleph_embed.ingest.vectors import VectorSpec

from ._calls import classify_qdrant
from .collection import CollectionOptions
from .layout import Layout
from .sink import QdrantSink

__all__ = ["FailedDocument", "IngestReport", "QdrantIngestor", "chunk_point_id", "classify_qdrant", "point_id"]


class QdrantIngestor(Ingestor):
    """Embeds documents through `/embed` (or the endpoint of `settings`) and upserts them into a Qdrant collection:
    an `Ingestor` writing to a `QdrantSink` (`sink`).

    Works with `EmbedClient` or `AsyncEmbedClient` and `QdrantClient` or `AsyncQdrantClient` in any mix;
    `ingest` runs the pipeline to completion, `aingest` awaits it inside a running event loop.

    - `vectors`: None stores one unnamed vector from `settings`; a mapping {name: VectorSpec} stores named
      vectors, all from ONE `/embed` call per text.
    - `sparse`: a `BM25Settings` (language, k, b, avg_len) adds a BM25 sparse vector named `bm25` (Qdrant's `idf`
      modifier) beside the dense one(s), for `search(..., mode="sparse" | "hybrid")`: a Qdrant server computes it
      itself (its `qdrant/bm25` model, sent the same options), the embedded store gets it from
      `aleph_embed.ingest.bm25` (the same vectors). Recorded on the collection with the other settings.
    - `settings.endpoint`: `embed` (default) makes one `/embed` call per text; `semantic` embeds documents through
      `/batch_semantic_embed` (and `openai` through `/embeddings`), the texts of many documents 100 per call;
      `instructable` one `/instructable_embed` call per text with the document instruction. The endpoint and its
      options are recorded on the collection with the other settings.
    - `layout`: the payload shape: `both` (default; LangChain's and LlamaIndex's stores read it), `langchain` or
      `llamaindex` (see `aleph_embed_qdrant.layout`).
    - Chunking (default on): each document is cut into chunks of at most `chunk_tokens` of the model's own tokens
      (`chunk_overlap` tokens repeated, default an eighth), one point per chunk, by the host's chunker
      (`EmbedClient.chunker`: the model's tokenizer, capped at its context; a host without a tokenizer endpoint gets
      estimated sizes, and a chunk it rejects as too long is split further) or the `chunker` given. Chunk i of a
      document has the point id `chunk_point_id(point_id(document), i)`; a changed document replaces all its chunks
      (surplus ones of a longer version are deleted), an unchanged one costs no `/embed` call. `chunking=False`
      stores each document whole (a document too long for the model is then a failed document).
    - `recreate`: drop an existing collection first (needed when its recorded settings differ from these).
    - `batch_size`: points per upsert and ids per look-up; `batch_bytes`: an upsert's estimated size in bytes (8 MiB;
      big vectors make smaller batches); `concurrency`: `/embed` calls in flight (default: the client's);
      `upsert_parallelism`: upserts in flight while the next documents embed. Upserts do not wait for Qdrant to
      apply them, except the last one of a run (and every one on a collection of several shards or replicas): when
      the run returns, its points are searchable. A `QdrantClient(..., prefer_grpc=True)` upserts over gRPC.
    - `qdrant_deadline`: seconds each Qdrant call retries while Qdrant is away (default 120).
    - `max_document_chars`: a longer document is a failed document naming the cap (default 10 M characters).

    A problem of one document (unreadable item, metadata that is not a JSON object, a lone surrogate, an `/embed`
    error or a malformed answer, a point Qdrant refuses) is a `FailedDocument` in the report; everything else is
    stored. A run that must stop raises `IngestStopped` carrying the partial report: `IngestConfigurationError`
    (wrong token, unknown model, a collection recorded with other settings), `IngestInterrupted` (Ctrl-C, cancel),
    or `IngestStopped` itself (Qdrant or the `/embed` host gone past their deadlines). Items with the same id: the
    last one in input order is stored (the input is read once, ahead, to know which is last).
    """

    sink: QdrantSink

    def __init__(
        self,
        *,
        embedder: EmbedClient | AsyncEmbedClient,
        settings: EmbeddingSettings,
        qdrant: QdrantClient | AsyncQdrantClient,
        collection: str,
        vectors: Mapping[str, VectorSpec] | None = None,
        sparse: BM25Settings | None = None,
        layout: Layout = "both",
        chunking: bool = True,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        chunk_overlap: int | None = None,
        chunker: Chunker | None = None,
        options: CollectionOptions | None = None,
        recreate: bool = False,
        batch_size: int = 64,
        batch_bytes: int = DEFAULT_UPSERT_BATCH_BYTES,
        concurrency: int | None = None,
        upsert_parallelism: int = 2,
        qdrant_deadline: float = DEFAULT_QDRANT_DEADLINE,
        id_field: str = "id",
        text_field: str = "text",
        max_document_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
    ) -> None:
        threads = (concurrency or embedder.concurrency) + upsert_parallelism + 1
        sink = QdrantSink(qdrant, collection, layout=layout, options=options, recreate=recreate,
                          qdrant_deadline=qdrant_deadline, threads=threads)
        super().__init__(
            embedder=embedder, settings=settings, sink=sink, vectors=vectors, sparse=sparse, chunking=chunking,
            chunk_tokens=chunk_tokens, chunk_overlap=chunk_overlap, chunker=chunker, batch_size=batch_size,
            batch_bytes=batch_bytes, concurrency=concurrency, upsert_parallelism=upsert_parallelism,
            id_field=id_field, text_field=text_field, max_document_chars=max_document_chars,
        )

    @property
    def qdrant(self) -> QdrantClient | AsyncQdrantClient:
        return self.sink.qdrant

    @property
    def collection(self) -> str:
        return self.sink.collection

    @property
    def layout(self) -> Layout:
        return self.sink.layout

    @property
    def recreate(self) -> bool:
        return self.sink.recreate
