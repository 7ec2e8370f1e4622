"""`Ingestor`: documents -> embeddings -> a `VectorSink`, streamed, concurrent, idempotent and resumable; one bad
document never stops it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from aleph_embed import ConfigurationError, EmbeddingSettings
from aleph_embed.config import DEFAULT_CHUNK_TOKENS, DEFAULT_MAX_DOCUMENT_CHARS, DEFAULT_UPSERT_BATCH_BYTES
from aleph_embed.bridge import call, run_blocking
from aleph_embed.chunking import Chunker

from .bm25 import BM25
from .report import IngestProgressCallback, IngestReport
from .run import Run
from .sink import VectorSink
from .vectors import VectorPlan, VectorSpec

if TYPE_CHECKING:
    from aleph_embed import AsyncEmbedClient, EmbedClient

    from .bm25 import BM25Settings


class Ingestor:
    """Embeds documents through `/embed` (or the endpoint of `settings`) and writes them to a `VectorSink`.

    Works with `EmbedClient` or `AsyncEmbedClient`; `ingest` runs the pipeline to completion, `aingest` awaits it
    inside a running event loop.

    - `vectors`: None stores one unnamed vector from `settings`; a mapping {name: VectorSpec} stores named vectors,
      all from ONE `/embed` call per text.
    - `sparse`: a `BM25Settings` adds a BM25 sparse vector named `bm25` to each point (`aleph_embed.ingest.bm25`).
    - `settings.endpoint`: `embed` (default) makes one `/embed` call per text; `semantic` embeds documents through
      `/batch_semantic_embed` (and `openai` through `/embeddings`), the texts of many documents 100 per call;
      `instructable` one `/instructable_embed` call per text with the document instruction.
    - Chunking (default on): each document is cut into chunks of at most `chunk_tokens` of the model's own tokens
      (`chunk_overlap` tokens repeated, default an eighth), one point per chunk, by the host's chunker
      (`EmbedClient.chunker`) or the `chunker` given. Chunk i of a document has the point id
      `chunk_point_id(point_id(document), i)`; a changed document replaces all its chunks (surplus ones of a longer
      version are deleted), an unchanged one costs no `/embed` call. `chunking=False` stores each document whole
      (a document too long for the model is then a failed document).
    - `batch_size`: points per write and ids per look-up; `batch_bytes`: a write's estimated size in bytes;
      `concurrency`: `/embed` calls in flight (default: the client's); `upsert_parallelism`: writes in flight while
      the next documents embed.
    - `id_field`, `text_field`: the keys of dict items.
    - `max_document_chars`: a longer document is a failed document naming the cap (default 10 M characters: the
      memory of an ingest grows with its longest document; `FileReader`'s cap stops reading such a file early).

    A problem of one document (unreadable item, metadata that is not a JSON object, a lone surrogate, an `/embed`
    error or a malformed answer, a point the sink refuses) is a `FailedDocument` in the report; everything else is
    stored. A run that must stop raises `IngestStopped` carrying the partial report: `IngestConfigurationError`
    (wrong token, unknown model, a store recorded with other settings), `IngestInterrupted` (Ctrl-C, cancel), or
    `IngestStopped` itself (the store or the `/embed` host gone past their deadlines). Items with the same id: the
    last one in input order is stored (the input is read once, ahead, to know which is last).
    """

    def __init__(
        self,
        *,
        embedder: EmbedClient | AsyncEmbedClient,
        settings: EmbeddingSettings,
        sink: VectorSink,
        vectors: Mapping[str, VectorSpec] | None = None,
        sparse: BM25Settings | None = None,
        chunking: bool = True,
        chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
        chunk_overlap: int | None = None,
        chunker: Chunker | None = None,
        batch_size: int = 64,
        batch_bytes: int = DEFAULT_UPSERT_BATCH_BYTES,
        concurrency: int | None = None,
        upsert_parallelism: int = 2,
        id_field: str = "id",
        text_field: str = "text",
        max_document_chars: int = DEFAULT_MAX_DOCUMENT_CHARS,
    ) -> None:
        if min(batch_size, batch_bytes, upsert_parallelism, max_document_chars) < 1 or (
            concurrency is not None and concurrency < 1
        ):
            raise ConfigurationError(
                "batch_size, batch_bytes, concurrency, upsert_parallelism and max_document_chars must be at least 1"
            )
        if chunker is not None and not chunking:
            raise ConfigurationError("chunker= was given with chunking=False: give one or the other")
        self.embedder = embedder
        self.settings = settings
        self.sink = sink
        self.plan = VectorPlan(settings, vectors, None if sparse is None else BM25(sparse))
        self.chunking = chunking
        self.chunk_tokens = chunk_tokens
        self.chunk_overlap = chunk_overlap
        self.chunker = chunker
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.concurrency = concurrency or embedder.concurrency
        self.upsert_parallelism = upsert_parallelism
        self.id_field = id_field
        self.text_field = text_field
        self.max_document_chars = max_document_chars

    def ingest(self, documents: Iterable[object], *, on_progress: IngestProgressCallback | None = None) -> IngestReport:
        """Ingest every document (str, dict, LangChain Document, LlamaIndex node, `SourceDocument`, `ReadFailure`);
        see `IngestReport` and, for a run that stops early, `IngestStopped`."""
        return run_blocking(self.aingest(documents, on_progress=on_progress), name="ingest",
                            instead="await ingestor.aingest(...)")

    async def aingest(self, documents: Iterable[object], *, on_progress: IngestProgressCallback | None = None) -> IngestReport:
        """`ingest` for a running event loop (cancelling it raises `IngestInterrupted` with the report)."""
        await self.resolve_endpoint()
        return await Run(self, on_progress).execute(documents)

    async def resolve_endpoint(self) -> None:
        """`endpoint="auto"` made the endpoint the model is meant for, read once from the host (`aingest` does it
        first; so must whatever prepares the sink without a run, since the sink records the concrete endpoint)."""
        if self.settings.endpoint == "auto":
            self.settings = await call(self.embedder, "resolve_endpoint", self.settings)
            self.plan = VectorPlan(self.settings, self.plan.named, self.plan.bm25)

    async def resolve_chunker(self) -> Chunker | None:
        """The chunker of a run: the one given, else the host's for the model (its own tokenizer, its context; see
        `EmbedClient.chunker`), None when chunking is off."""
        if self.chunker is not None or not self.chunking:
            return self.chunker
        try:
            return await call(self.embedder, "chunker", self.settings.model, max_tokens=self.chunk_tokens,
                              overlap=self.chunk_overlap)
        except ValueError as error:  # sizes the chunker refuses
            raise ConfigurationError(f"chunking: {error} (CLI: --chunk-tokens, --chunk-overlap)") from None
