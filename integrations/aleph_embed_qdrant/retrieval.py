"""`search`: the chunks of a collection nearest to a query, embedded as the collection's documents were; by BM25 or
both fused, for a collection ingested with BM25 (`modes.SearchMode`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from qdrant_client import QdrantClient, models

from aleph_embed import ConfigurationError, EmbedClient, EmbeddingSettings
from aleph_embed.config import DEFAULT_RERANK_CANDIDATES
from aleph_embed.models import RerankRequest
from aleph_embed.ingest.documents import DocumentId

from ._calls import is_local, qdrant_call
from .collection import RecordedSettings, require_collection
from .layout import ID_KEY, metadata_fields, payload_metadata, payload_text
from .modes import SearchMode
from .query import check_weights, query_arguments, sparse_encoder, sparse_query


@dataclass(frozen=True)
class Hit:
    """One point found: its score, text (the chunk's), where it comes from (`source`: the metadata's `source`, else
    the document id), the heading path of its chunk, the document id, the point id and the whole payload. After a
    reranking, `score` is the reranking model's relevance score and `first_stage_score` the vector search's."""

    score: float
    text: str
    source: str
    headings: tuple[str, ...]
    document_id: DocumentId | None
    point_id: str
    payload: dict[str, Any]
    first_stage_score: float | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        """The document's metadata (with a chunk's fields), whichever layout wrote it."""
        return payload_metadata(self.payload)


def search(
    qdrant: QdrantClient, collection: str, query: str | Sequence[float], *, embedder: EmbedClient | None = None,
    settings: EmbeddingSettings | None = None, using: str | None = None, top_k: int = 5,
    query_filter: models.Filter | None = None, min_score: float | None = None, mode: SearchMode | None = None,
    rerank: str | None = None, rerank_candidates: int = DEFAULT_RERANK_CANDIDATES,
) -> list[Hit]:
    """The `top_k` points of `collection` nearest to `query` (a text, embedded by `embedder` as a query with
    `settings`, default: those the ingest recorded for vector `using`; or a vector), best first.

    `mode`: dense (the embedded query), sparse (BM25 of the text, no embedder needed) or hybrid (both, fused in
    Qdrant), see `SearchMode`; default: what `eval --record` recorded on the collection as best, else dense.
    `rerank`: a reranking model that orders the first `rerank_candidates` points (at least `top_k`; `min_score`
    applies to them) by the relevance of their texts to the query text (`rerank_hits`; needs `embedder`)."""
    if top_k < 1:
        raise ConfigurationError(f"top_k must be at least 1, not {top_k} (CLI: --top-k)")
    if rerank is not None and (not isinstance(query, str) or embedder is None or rerank_candidates < 1):
        raise ConfigurationError("search: rerank= needs a text query, embedder= and rerank_candidates of at least 1")
    info = searchable(qdrant, collection, using)
    recorded = RecordedSettings.of(info)
    mode = mode or SearchMode.recorded(recorded)
    check_weights(mode, qdrant_call(qdrant.info).version)
    sparse = None
    if mode.mode != "dense":
        if not isinstance(query, str):
            raise ConfigurationError(f"search mode {mode.mode!r} needs the query's text, not a vector")
        sparse = sparse_query(sparse_encoder(collection, recorded), query, is_local(qdrant))
    vector = None
    if mode.mode != "sparse" and isinstance(query, str):
        if embedder is None:
            raise ConfigurationError("search: a text query needs embedder= (or pass its vector)")
        if settings is None:
            if recorded is None:
                raise ConfigurationError(f"collection {collection!r} records no settings: pass settings=")
            settings = recorded.embedding_settings(using)
        (vector,) = embedder.embed_texts([query], settings, side="query")
    elif mode.mode != "sparse" and not isinstance(query, str):
        vector = list(query)
    limit = max(top_k, rerank_candidates) if rerank is not None else top_k
    arguments = query_arguments(mode, dense=vector, using=using, sparse=sparse, limit=limit, query_filter=query_filter)
    points = qdrant_call(lambda: qdrant.query_points(
        collection, **arguments, limit=limit, with_payload=True, score_threshold=min_score,
    )).points
    hits = [_hit(point) for point in points]
    if rerank is not None and embedder is not None and isinstance(query, str):  # checked above
        return rerank_hits(embedder, rerank, query, hits, top_k)
    return hits


def rerank_hits(embedder: EmbedClient, model: str, query: str, hits: Sequence[Hit], top_k: int | None = None) -> list[Hit]:
    """`hits` ordered by `model`'s relevance of their texts to `query` (`POST /rerank`), the best `top_k` (all when
    None); each with the relevance as its `score`, the score it had as `first_stage_score`."""
    if not hits:
        return []
    answer = embedder.rerank(RerankRequest(model=model, query=query, documents=[hit.text for hit in hits], top_n=top_k))
    return [replace(hits[result.index], score=result.relevance_score, first_stage_score=hits[result.index].score)
            for result in answer.results]


def searchable(qdrant: QdrantClient, collection: str, using: str | None) -> models.CollectionInfo:
    """The collection's info; `ConfigurationError` when it does not exist or has no vector `using` to search."""
    require_collection(qdrant, collection)
    info = qdrant_call(lambda: qdrant.get_collection(collection))
    vectors = info.config.params.vectors
    if isinstance(vectors, dict) and using not in vectors:
        raise ConfigurationError(f"collection {collection!r} has named vectors {sorted(vectors)}: pass --using NAME")
    return info


def metadata_filter(filters: Iterable[tuple[str, str]]) -> models.Filter | None:
    """All `KEY=VALUE` conditions, each on the flat key (LlamaIndex's layout) or under `metadata` (LangChain's); a
    VALUE that reads as a number or boolean (2020, true) also matches that number or boolean."""
    conditions: list[models.Condition] = []
    for key, text in filters:
        values: list[str | int | bool] = [text]
        try:
            literal = json.loads(text)
        except ValueError:
            literal = None
        if isinstance(literal, (bool, int)):
            values.append(literal)
        conditions.append(models.Filter(should=[
            models.FieldCondition(key=field, match=models.MatchValue(value=value))
            for field in metadata_fields(key) for value in values
        ]))
    return models.Filter(must=conditions) if conditions else None


def _hit(point: models.ScoredPoint) -> Hit:
    payload = point.payload or {}
    metadata = payload_metadata(payload)
    document_id = payload.get(ID_KEY)
    source = metadata.get("source") or document_id
    headings = metadata.get("headings") or ()
    return Hit(point.score, payload_text(payload), str(point.id if source is None else source),
               tuple(map(str, headings)), document_id, str(point.id), payload)
