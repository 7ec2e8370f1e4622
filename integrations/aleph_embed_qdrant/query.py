"""How a search asks Qdrant: dense (the embedded query), sparse (BM25 of the query text) or hybrid (a prefetch of
each, fused in Qdrant by reciprocal rank fusion or distribution-based score fusion), through its query API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from qdrant_client import QdrantClient, models

from aleph_embed import ConfigurationError
from aleph_embed.ingest.bm25 import BM25, MODEL
from aleph_embed.ingest.vectors import SPARSE_NAME

from .collection import RecordedSettings, recorded_settings

Mode = Literal["dense", "sparse", "hybrid"]
MODES: tuple[Mode, ...] = get_args(Mode)
Fusion = Literal["rrf", "dbsf"]
FUSIONS: tuple[Fusion, ...] = get_args(Fusion)


@dataclass(frozen=True)
class SearchMode:
    """What a search ranks by: `mode`; for hybrid the `fusion`, RRF's `rrf_k` (Qdrant's default 2) and `weights`
    (dense, sparse) of RRF, and `prefetch` (points each side contributes; default the search's limit)."""

    mode: Mode = "dense"
    fusion: Fusion = "rrf"
    rrf_k: int | None = None
    weights: tuple[float, float] | None = None
    prefetch: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigurationError(f"search mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.fusion not in FUSIONS:
            raise ConfigurationError(f"fusion {self.fusion!r}: use one of {', '.join(FUSIONS)}")
        if self.rrf_k is not None and self.rrf_k < 1:
            raise ConfigurationError("rrf_k must be at least 1")
        if self.weights is not None and (self.fusion != "rrf" or len(self.weights) != 2 or min(self.weights) < 0):
            raise ConfigurationError("weights: two numbers of at least 0 (dense, sparse), for fusion rrf only")
        if self.prefetch is not None and self.prefetch < 1:
            raise ConfigurationError("prefetch must be at least 1")

    @property
    def label(self) -> str:
        """`dense`, `sparse`, or `hybrid-<fusion>` with its parameters."""
        if self.mode != "hybrid":
            return self.mode
        extras = [] if self.rrf_k is None else [f"k={self.rrf_k}"]
        if self.weights is not None:
            extras.append(f"w={self.weights[0]:g}:{self.weights[1]:g}")
        return f"hybrid-{self.fusion}{'(' + ','.join(extras) + ')' if extras else ''}"

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "fusion": self.fusion, "rrf_k": self.rrf_k,
                "weights": list(self.weights) if self.weights else None}

    @classmethod
    def recorded(cls, recorded: RecordedSettings | None) -> SearchMode:
        """The mode an evaluation recorded on the collection as best (`eval --record`), else dense."""
        found = (recorded.search if recorded is not None else None) or {}
        weights = found.get("weights")
        return cls(mode=found.get("mode", "dense"), fusion=found.get("fusion", "rrf"), rrf_k=found.get("rrf_k"),
                   weights=tuple(weights) if weights else None)


def sparse_encoder(collection: str, recorded: RecordedSettings | None) -> BM25:
    """The BM25 the collection's sparse vectors were made with; `ConfigurationError` for a collection without."""
    if recorded is None or not recorded.sparse or SPARSE_NAME not in recorded.sparse:
        raise ConfigurationError(
            f"collection {collection!r} records no BM25 sparse vectors: search it with --mode dense (Python: "
            "mode='dense'), or ingest it again with --sparse bm25 --recreate (Python: sparse=BM25Settings(...))"
        )
    return BM25(recorded.sparse[SPARSE_NAME].bm25())


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


def collection_bm25(qdrant: QdrantClient, collection: str) -> BM25:
    """The BM25 of a collection ingested with `sparse=` (CLI: `--sparse bm25`): its query vectors for the frameworks'
    hybrid stores (`aleph_embed_langchain.AlephAlphaBM25`, `aleph_embed_llamaindex.AlephAlphaBM25`)."""
    return sparse_encoder(collection, recorded_settings(qdrant, collection))


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
