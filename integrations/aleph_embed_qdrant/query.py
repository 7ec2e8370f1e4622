"""How a search asks Qdrant: dense (the embedded query), sparse (BM25 of the query text) or hybrid (a prefetch of
each, fused in Qdrant by reciprocal rank fusion or distribution-based score fusion), through its query API."""

from __future__ import annotations

from typing import Any, TypeVar

from qdrant_client import QdrantClient, models

from aleph_embed import ConfigurationError
from aleph_embed.ingest.bm25 import BM25, MODEL, BM25Settings
from aleph_embed.ingest.vectors import SPARSE_NAME

from .collection import RecordedSettings, recorded_settings
from .modes import SearchMode

_Adapter = TypeVar("_Adapter", bound="CollectionBM25")

WEIGHTS_SINCE = (1, 17)
"""The first Qdrant server that weighs RRF's sources (1.16 accepts `weights` and ignores them)."""


def check_weights(mode: SearchMode, version: str) -> None:
    """`ConfigurationError` when `mode` weighs RRF's sources and the Qdrant (its `info().version`) would ignore it."""
    if mode.mode != "hybrid" or mode.weights is None:
        return
    parts = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
    if parts < WEIGHTS_SINCE:
        raise ConfigurationError(
            f"weights: this Qdrant ({version}) ignores RRF weights (Qdrant {'.'.join(map(str, WEIGHTS_SINCE))}+ "
            "weighs them): drop them, or tune --rrf-k, or use --fusion dbsf"
        )


def sparse_encoder(collection: str, recorded: RecordedSettings | None) -> BM25:
    """The BM25 the collection's sparse vectors were made with; `ConfigurationError` for a collection without."""
    if recorded is None or not recorded.sparse or SPARSE_NAME not in recorded.sparse:
        raise ConfigurationError(
            f"collection {collection!r} records no BM25 sparse vectors: search it with --mode dense (Python: "
            "mode='dense'), or ingest it again with --sparse bm25 --recreate (Python: sparse=BM25Settings(...))"
        )
    return BM25(recorded.sparse[SPARSE_NAME].bm25())


def collection_bm25(qdrant: QdrantClient, collection: str) -> BM25:
    """The BM25 of a collection ingested with `sparse=` (CLI: `--sparse bm25`): its query vectors for the frameworks'
    hybrid stores (`aleph_embed_langchain.AlephAlphaBM25`, `aleph_embed_llamaindex.AlephAlphaBM25`)."""
    return sparse_encoder(collection, recorded_settings(qdrant, collection))


class CollectionBM25:
    """The base of the frameworks' BM25 adapters (`aleph_embed_langchain.AlephAlphaBM25`,
    `aleph_embed_llamaindex.AlephAlphaBM25`): `bm25` from settings, or from those recorded on a collection."""

    def __init__(self, settings: BM25Settings | None = None) -> None:
        self.bm25 = BM25(settings)

    @classmethod
    def from_collection(cls: type[_Adapter], qdrant: QdrantClient, collection: str) -> _Adapter:
        """The BM25 recorded on `collection` (refused for one ingested without `--sparse bm25`)."""
        return cls(collection_bm25(qdrant, collection).settings)


def sparse_query(bm25: BM25, text: str, local: bool) -> models.SparseVector | models.Document:
    """The query's BM25 vector: computed here for the embedded store, as a `qdrant/bm25` document for a server."""
    if not local:
        return models.Document(text=text, model=MODEL, options=bm25.server_options)
    vector = bm25.query(text)
    return models.SparseVector(indices=vector.indices, values=vector.values)


def query_arguments(
    mode: SearchMode, *, dense: list[float] | None, using: str | None, sparse: Any, limit: int,
    query_filter: models.Filter | None = None, search_params: models.SearchParams | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `query_points` for `mode` (the `dense` vector and the `sparse` query as needed)."""
    if mode.mode == "dense":
        return {"query": dense, "using": using, "query_filter": query_filter, "search_params": search_params}
    if mode.mode == "sparse":
        return {"query": sparse, "using": SPARSE_NAME, "query_filter": query_filter}
    depth = max(mode.prefetch or limit, limit)
    prefetch = [
        models.Prefetch(query=dense, using=using, limit=depth, filter=query_filter, params=search_params),
        models.Prefetch(query=sparse, using=SPARSE_NAME, limit=depth, filter=query_filter),
    ]
    if mode.fusion == "dbsf":
        fused: models.Query = models.FusionQuery(fusion=models.Fusion.DBSF)
    elif mode.rrf_k is None and mode.weights is None:
        fused = models.FusionQuery(fusion=models.Fusion.RRF)
    else:
        fused = models.RrfQuery(rrf=models.Rrf(k=mode.rrf_k, weights=list(mode.weights) if mode.weights else None))
    return {"prefetch": prefetch, "query": fused}
