"""Retrieval quality of a collection's vectors, and the sweep that finds the best (layer, pooling) for a corpus.

`evaluate` embeds each query ONCE with every evaluated vector's (layer, pooling), searches each named vector and
scores the rankings of document ids (a chunked document counts at the rank of its best chunk) with
`aleph_embed.metrics`. `sweep` ingests (a deterministic sample of) a corpus into a scratch collection holding every
requested (layer, pooling) as a named vector, all from ONE `/embed` call per document, and evaluates it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import heapq
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from qdrant_client import AsyncQdrantClient, QdrantClient, models

from aleph_embed import AsyncEmbedClient, ConfigurationError, EmbedClient, EmbeddingSettings, TextEmbedError
from aleph_embed.bridge import call
from aleph_embed.config import DEFAULT_CHUNK_TOKENS, DEFAULT_RERANK_CANDIDATES
from aleph_embed.metrics import METRIC_LABELS, Qrels, Scores, evaluated_queries, score_run
from aleph_embed.models import Pooling, RerankRequest

from ._calls import Calls
from .collection import RecordedSettings, VectorSpec
from aleph_embed.ingest.bm25 import BM25Settings
from aleph_embed.ingest.documents import ReadFailure, SourceDocument, to_source_document
from aleph_embed.ingest.vectors import SPARSE_NAME
from .ingest import FailedDocument, QdrantIngestor
from .layout import ID_KEY, payload_text
from .modes import SearchMode
from .query import check_weights, query_arguments, sparse_encoder, sparse_query

_P = ParamSpec("_P")
_R = TypeVar("_R")

DEPTH = 100
"""Documents ranked per query (Recall@100 needs 100)."""
MAX_HITS = 20 * DEPTH
"""Most points fetched per query while collecting DEPTH distinct documents from chunks; beyond, Qdrant groups them."""
RERANKED_METRICS = ("ndcg_at_10", "recall_at_10", "mrr_at_10")
"""What a reranking is scored by (it reorders the first stage's first candidates only)."""


@dataclass(frozen=True)
class VectorResult:
    """The scores of one vector of a collection searched in one mode (`SearchMode.label`). `name` None is the
    collection's unnamed vector; `spec` None for the BM25 vector alone (mode `sparse`)."""

    name: str | None
    spec: VectorSpec | None
    scores: Scores
    per_query: Mapping[str, Scores] = field(repr=False)
    mode: str = "dense"
    reranked: Scores | None = None
    """The scores of the first stage's candidates reranked (`evaluate(rerank=...)`), None without."""


@dataclass(frozen=True)
class Evaluation:
    """Every evaluated vector, best nDCG@10 first (ties: Recall@100, MRR@10, then name)."""

    collection: str
    queries: int
    results: tuple[VectorResult, ...]
    failed_queries: Mapping[str, str] = field(default_factory=dict)
    """query id -> why it could not be embedded (it scores 0)."""
    modes: tuple[SearchMode, ...] = (SearchMode(),)
    """the modes evaluated"""

    @property
    def best(self) -> VectorResult:
        return self.results[0]

    def table(self) -> str:
        """A plain-text table, one row per vector; with a reranking, its nDCG@10, R@10 and MRR@10 beside the first
        stage's."""
        header = ["mode", "vector", "layer", "pooling", *METRIC_LABELS.values()]
        reranked = any(result.reranked is not None for result in self.results)
        header += [f"reranked {METRIC_LABELS[name]}" for name in RERANKED_METRICS] if reranked else []
        rows = [
            [result.mode, result.name or "(unnamed)", *_spec_cells(result.spec),
             *(f"{value:.4f}" for value in result.scores.as_dict().values()),
             *(f"{getattr(result.reranked, name):.4f}" for name in RERANKED_METRICS if result.reranked is not None)]
            for result in self.results
        ]
        widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
        return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "collection": self.collection,
            "queries": self.queries,
            "failed_queries": dict(self.failed_queries),
            "results": [
                {"mode": result.mode, "name": result.name, "layer": result.spec.layer if result.spec else None,
                 "pooling": result.spec.pooling if result.spec else None, **result.scores.as_dict(),
                 "per_query": {query: scores.as_dict() for query, scores in sorted(result.per_query.items())},
                 **({"reranked": {name: getattr(result.reranked, name) for name in RERANKED_METRICS}}
                    if result.reranked is not None else {})}
                for result in self.results
            ],
        }


@dataclass(frozen=True)
class SweepResult:
    """The evaluation of every (layer, pooling) on the sampled corpus, best first."""

    evaluation: Evaluation
    documents: int
    """documents ingested into the scratch collection"""
    points: int
    """points stored (one per chunk)"""
    embed_calls: int
    """`/embed` calls of that ingest, failed ones included (one per chunk, for every vector at once)"""
    failed: tuple[FailedDocument, ...] = ()

    @property
    def best(self) -> VectorResult:
        return self.evaluation.best


def record_best(qdrant: QdrantClient, collection: str, evaluation: Evaluation) -> None:
    """Record the best result's search mode on the collection (`RecordedSettings.search`): searches without a mode
    use it."""
    from ._calls import qdrant_call
    from .collection import SETTINGS_KEY

    best = evaluation.best
    mode = SearchMode("dense") if best.mode == "dense" else next(
        candidate for candidate in evaluation.modes if candidate.label == best.mode)
    recorded = RecordedSettings.of(qdrant_call(lambda: qdrant.get_collection(collection)))
    if recorded is None:
        raise ConfigurationError(f"collection {collection!r} records no ingest settings: nothing to record the mode on")
    recorded.search = {**mode.as_dict(), "ndcg_at_10": best.scores.ndcg_at_10, "queries": evaluation.queries}
    qdrant_call(lambda: qdrant.update_collection(collection, metadata={SETTINGS_KEY: recorded.model_dump(mode="json")}))


def _spec_cells(spec: VectorSpec | None) -> list[str]:
    return ["-", "-"] if spec is None else [str(spec.layer), spec.pooling]


def sweep_vector_name(layer: int, pooling: str) -> str:
    """The scratch collection's name for the vector of (layer, pooling)."""
    return f"layer{layer}_{pooling}"


async def aevaluate(
    embedder: EmbedClient | AsyncEmbedClient,
    qdrant: QdrantClient | AsyncQdrantClient,
    collection: str,
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    settings: EmbeddingSettings,
    vectors: Mapping[str, VectorSpec] | None = None,
    using: Sequence[str] | None = None,
    exact: bool = False,
    modes: Sequence[SearchMode] = (SearchMode(),),
    rerank: str | None = None,
    rerank_candidates: int = DEFAULT_RERANK_CANDIDATES,
) -> Evaluation:
    """Score the collection's vectors on `queries` (id -> text) against `qrels` (query id -> {document id: grade}).

    Queries are embedded as the collection's documents were: with the model, layer, pooling, normalisation and
    endpoint recorded on it by the ingest (`settings` must name the same model). `vectors` says how the vectors of a
    collection with no record were made (CLI: `--vector NAME=LAYER:POOLING`, as at ingest; one that contradicts a
    record is refused); an unrecorded unnamed vector is embedded with `settings`' layer and pooling. `using`: the named vectors to evaluate (default: all). `exact`: exhaustive
    search instead of the HNSW index (scores the embeddings, not the index). `modes`: how to search (default
    dense); `sparse` is evaluated once, `dense` and each hybrid on every evaluated vector; sparse and hybrid need the
    BM25 vectors of an ingest with `sparse=` (refused otherwise, see `query.sparse_encoder`). `rerank`: a reranking
    model (`POST /rerank`) that reorders each query's first `rerank_candidates` documents by the text of their best
    chunk; each result then has the reranked ranking's scores too (`VectorResult.reranked`).
    """
    if rerank_candidates < 1:
        raise ConfigurationError("rerank_candidates must be at least 1")
    calls = Calls(qdrant, threads=2)
    try:
        if not await calls.collection_exists(collection):
            raise ConfigurationError(f"no collection {collection!r} here; ingest it first")
        info = await calls.get_collection(collection)
        recorded = RecordedSettings.of(info)
        if recorded is not None:
            settings, vectors = _as_recorded(collection, recorded, settings, vectors)
        settings = await call(embedder, "resolve_endpoint", settings)  # `auto` on a collection with no record
        targets = _targets(collection, info.config.params.vectors, settings, vectors, using)
        evaluated = [query for query in evaluated_queries(qrels) if query in queries]
        if not evaluated:
            raise ConfigurationError("no query of the qrels is among the queries: check that their ids match")
        version = await calls.version()
        for mode in modes:
            check_weights(mode, version)
        lexical = any(mode.mode != "dense" for mode in modes)
        bm25 = sparse_encoder(collection, recorded) if lexical else None
        sparse_of = {q: sparse_query(bm25, queries[q], calls.local) for q in evaluated} if bm25 else {}
        vectors_of: dict[str, dict[tuple[int, str], list[float]]] = {}
        failed: dict[str, str] = {}
        if any(mode.mode != "sparse" for mode in modes):
            vectors_of, failed = await _embed_queries(embedder, settings, targets, {q: queries[q] for q in evaluated})
        params = models.SearchParams(exact=True) if exact and not calls.local else None
        results = []
        for mode in modes:
            searched = {SPARSE_NAME: None} if mode.mode == "sparse" else targets
            for name, spec in searched.items():
                run: dict[str, list[str]] = {}
                texts: dict[str, dict[str, str]] = {}  # query -> its ranked documents' texts, for the reranking
                for query in (evaluated if spec is None else vectors_of):
                    dense = None if spec is None else vectors_of[query][(spec.layer, spec.pooling)]
                    arguments = functools.partial(query_arguments, mode, dense=dense, using=name,
                                                  sparse=sparse_of.get(query), search_params=params)
                    run[query] = await _ranking(calls, collection, arguments, groups=mode.mode != "hybrid",
                                                texts=texts.setdefault(query, {}) if rerank else None)
                judged = {query: qrels[query] for query in evaluated}
                means, per_query = score_run(judged, run)
                reranked = None
                if rerank:
                    reranked_run = {query: await _reranked(embedder, rerank, queries[query], ranking, texts[query],
                                                           rerank_candidates)
                                    for query, ranking in run.items()}
                    reranked = score_run(judged, reranked_run)[0]
                results.append(VectorResult(name, spec, means, per_query, mode.label, reranked))
    finally:
        calls.close()
    results.sort(key=lambda r: (-r.scores.ndcg_at_10, -r.scores.recall_at_100, -r.scores.mrr_at_10, r.name or "",
                                r.mode))
    return Evaluation(collection, len(evaluated), tuple(results), failed, tuple(modes))


def _targets(
    collection: str,
    existing: models.VectorParams | Mapping[str, models.VectorParams] | None,
    settings: EmbeddingSettings,
    vectors: Mapping[str, VectorSpec] | None,
    using: Sequence[str] | None,
) -> dict[str | None, VectorSpec]:
    """Which vectors to evaluate (None = the unnamed one) and how each was made."""
    if not isinstance(existing, Mapping):
        if using:
            raise ConfigurationError(f"collection {collection!r} has one unnamed vector: drop --using")
        return {None: (vectors or {}).get("") or VectorSpec(settings.layer, settings.pooling)}
    names = list(using) if using else sorted(existing)
    unknown = [name for name in names if name not in existing]
    if unknown:
        raise ConfigurationError(f"collection {collection!r} has no vectors named {unknown} (it has {sorted(existing)})")
    unspecified = [name for name in names if name not in (vectors or {})]
    if unspecified:
        raise ConfigurationError(
            f"how were the vectors {unspecified} of {collection!r} made? Give them as at ingest "
            "(CLI: --vector NAME=LAYER:POOLING; Python: vectors={name: VectorSpec(layer, pooling)})"
        )
    return {name: (vectors or {})[name] for name in names}


def _as_recorded(
    collection: str, recorded: RecordedSettings, settings: EmbeddingSettings, vectors: Mapping[str, VectorSpec] | None
) -> tuple[EmbeddingSettings, dict[str, VectorSpec]]:
    """`settings` with the recorded normalisation and endpoint, and the recorded vectors; refused when the model or
    a given vector differs from the record (the queries would not be embedded as the documents were)."""
    if recorded.model != settings.model:
        raise ConfigurationError(
            f"collection {collection!r} was embedded with model {recorded.model!r}, the queries would be embedded "
            f"with {settings.model!r}: pass --model {recorded.model} (Python: settings with model={recorded.model!r})"
        )
    made = {name: VectorSpec(vector.layer, vector.pooling) for name, vector in recorded.vectors.items()}
    differing = [
        f"{name or '(unnamed)'}: recorded {made[name].layer}:{made[name].pooling}, given {spec.layer}:{spec.pooling}"
        for name, spec in (vectors or {}).items() if name in made and made[name] != spec
    ]
    if differing:
        raise ConfigurationError(f"collection {collection!r} records other vectors than given "
                                 f"({'; '.join(differing)}): drop --vector, the collection records how they were made")
    normalize = {vector.normalize for vector in recorded.vectors.values()}
    update = {**({"normalize": normalize.pop()} if len(normalize) == 1 else {}), **recorded.endpoint_options()}
    return settings.model_copy(update=update), {**made, **(vectors or {})}


async def _embed_queries(
    embedder: EmbedClient | AsyncEmbedClient,
    settings: EmbeddingSettings,
    targets: Mapping[str | None, VectorSpec],
    queries: Mapping[str, str],
) -> tuple[dict[str, dict[tuple[int, str], list[float]]], dict[str, str]]:
    """Each query's vectors by (layer, pooling): from ONE /embed call per query for all of them, or as a query
    through the settings' other endpoint (one vector); and the queries that failed. When none could be embedded,
    the first one's error is raised (a wrong model or token, an unreachable host)."""
    specs = list(dict.fromkeys((spec.layer, spec.pooling) for spec in targets.values()))
    prompts = {query: settings.prompt_text(text) for query, text in queries.items()}
    failed = {query: "empty query text" for query, prompt in prompts.items() if prompt is None}
    sent = {query: prompt for query, prompt in prompts.items() if prompt is not None}
    outcomes: list[dict[tuple[int, str], list[float]] | Exception]
    if settings.endpoint == "embed":
        layers, poolings = [layer for layer, _ in specs], [pooling for _, pooling in specs]
        requests = [settings.request(prompt, layers=layers, pooling=poolings) for prompt in sent.values()]
        if isinstance(embedder, AsyncEmbedClient):
            responses = await embedder.embed_many(requests, return_exceptions=True)
        else:
            responses = await asyncio.to_thread(embedder.embed_many, requests, return_exceptions=True)
        outcomes = [r if isinstance(r, Exception) else {spec: r.vector(*spec) for spec in specs} for r in responses]
    else:  # one unnamed vector (the ingest refuses named ones for other endpoints)
        texts = list(sent.values())
        try:
            if isinstance(embedder, AsyncEmbedClient):
                vectors = await embedder.embed_texts(texts, settings, side="query")
            else:
                vectors = await asyncio.to_thread(embedder.embed_texts, texts, settings, side="query")
        except TextEmbedError as error:
            vectors = [error.errors.get(index, vector) for index, vector in enumerate(error.results)]
        outcomes = [v if isinstance(v, Exception) else dict.fromkeys(specs, v) for v in vectors]
    embedded = {query: outcome for query, outcome in zip(sent, outcomes) if not isinstance(outcome, Exception)}
    errors = {query: outcome for query, outcome in zip(sent, outcomes) if isinstance(outcome, Exception)}
    if errors and not embedded:
        raise next(iter(errors.values()))
    return embedded, {**failed, **{query: f"{type(error).__name__}: {error}" for query, error in errors.items()}}


async def _ranking(
    calls: Calls, collection: str, arguments: Callable[..., dict[str, Any]], groups: bool = True,
    texts: dict[str, str] | None = None,
) -> list[str]:
    """The first DEPTH distinct document ids of a search (`arguments(limit=...)`: its `query_points` arguments); a
    document ranks at its best point (chunk). Equal scores are ordered by document id, so rankings do not depend on
    the store's internal order. `texts`, when given, gets each ranked document's best chunk's text.

    Points are fetched until DEPTH documents are among them (up to MAX_HITS); documents of more chunks than that
    are grouped by Qdrant instead (`query_points_groups` on the document id: points stored without one drop out;
    not for a fusion, whose ranks are over points: its first MAX_HITS points are ranked)."""
    payload: bool | list[str] = True if texts is not None else [ID_KEY]
    limit = DEPTH
    while True:
        response = await calls.query(collection, **arguments(limit=limit), limit=limit, with_payload=payload)
        ranking = _ordered((point.score, document_id(point)) for point in response.points)
        if len(ranking) >= DEPTH or len(response.points) < limit or (limit >= MAX_HITS and not groups):
            if texts is not None:
                for point in sorted(response.points, key=lambda point: -point.score):
                    texts.setdefault(document_id(point), payload_text(point.payload or {}))
            return ranking[:DEPTH]
        if limit >= MAX_HITS:
            grouped = await calls.query_groups(collection, ID_KEY, texts is not None, **arguments(limit=DEPTH),
                                               limit=DEPTH)
            best = {str(group.id): group.hits[0] for group in grouped.groups}
            if texts is not None:
                texts.update({document: payload_text(hit.payload or {}) for document, hit in best.items()})
            return _ordered((hit.score, document) for document, hit in best.items())[:DEPTH]
        limit = min(limit * 4, MAX_HITS)


async def _reranked(
    embedder: EmbedClient | AsyncEmbedClient, model: str, query: str, ranking: list[str], texts: Mapping[str, str],
    candidates: int,
) -> list[str]:
    """`ranking` with its first `candidates` documents ordered by `model`'s relevance of their texts to `query`
    (ties in the first stage's order), the rest after them as they were."""
    head = ranking[:candidates]
    if not head:
        return ranking
    answer = await call(embedder, "rerank", RerankRequest(model=model, query=query,
                                                          documents=[texts.get(document, "") for document in head]))
    return [head[result.index] for result in answer.results] + ranking[candidates:]


def _ordered(hits: Iterable[tuple[float, str]]) -> list[str]:
    """Distinct document ids of (score, document id) hits, best score first, ties by id."""
    return list(dict.fromkeys(document for _, document in sorted((-score, document) for score, document in hits)))


def document_id(point: models.ScoredPoint | models.Record) -> str:
    """The document id given at ingest (shared by the chunks of a document), else the point id."""
    stored = (point.payload or {}).get(ID_KEY)
    return str(stored) if stored is not None else str(point.id)


async def asweep(
    embedder: EmbedClient | AsyncEmbedClient,
    qdrant: QdrantClient | AsyncQdrantClient,
    documents: Iterable[object],
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    settings: EmbeddingSettings,
    layers: Sequence[int],
    poolings: Sequence[Pooling],
    sample: int | None = None,
    seed: int = 0,
    collection: str | None = None,
    keep: bool = False,
    chunking: bool = True,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    chunk_overlap: int | None = None,
    modes: Sequence[SearchMode] = (SearchMode(),),
    sparse: BM25Settings | None = None,
) -> SweepResult:
    """Ingest `documents` (or a `sample` of them) with every (layer, pooling) as a named vector, then evaluate each.
    The documents are cut into chunks as `QdrantIngestor` cuts them (`chunking`, `chunk_tokens`, `chunk_overlap`).
    `modes` as for `evaluate` (sparse and hybrid ones store BM25 vectors too, with `sparse`, default `BM25Settings()`).

    The sample keeps every document the qrels judge relevant (by a seeded hash of the id when there are more than
    `sample`) and fills up with others in seeded-hash order, so it is the same run to run and whatever the input
    order; qrels of documents left out are dropped. The scratch `collection` (default: a fresh name) must not exist
    and is deleted afterwards unless `keep`.
    """
    if not layers or not poolings:
        raise ConfigurationError("sweep: give at least one layer and one pooling")
    if sample is not None and sample < 1:
        raise ConfigurationError("sweep: sample must be at least 1")
    vectors = {sweep_vector_name(layer, pooling): VectorSpec(layer, pooling)
               for layer in dict.fromkeys(layers) for pooling in dict.fromkeys(poolings)}
    unreadable: list[ReadFailure] = []
    chosen = sample_documents(_set_aside(documents, unreadable), qrels, sample, seed)
    kept = {document.id for document in chosen}
    qrels = {query: {d: grade for d, grade in judged.items() if d in kept} for query, judged in qrels.items()}
    name = collection or f"aleph-embed-sweep-{uuid.uuid4().hex[:12]}"
    calls = Calls(qdrant, threads=1)
    try:
        if await calls.collection_exists(name):
            raise ConfigurationError(f"sweep: collection {name!r} exists; name a new scratch collection")
        if any(mode.mode != "dense" for mode in modes):
            sparse = sparse or BM25Settings()
        ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=name, vectors=vectors,
                                  sparse=sparse, chunking=chunking, chunk_tokens=chunk_tokens,
                                  chunk_overlap=chunk_overlap)
        report = await ingestor.aingest([*chosen, *unreadable])  # what could not be read fails as in an ingest
        evaluation = await aevaluate(embedder, qdrant, name, queries, qrels, settings=settings, vectors=vectors,
                                     exact=True, modes=modes)
    finally:
        if not keep and await calls.collection_exists(name):
            await calls.delete_collection(name)
        calls.close()
    return SweepResult(evaluation, report.ingested, report.points, report.embed_calls, tuple(report.failed))


def sample_documents(documents: Iterable[object], qrels: Qrels, sample: int | None, seed: int) -> list[SourceDocument]:
    """The documents a sweep ingests (see `sweep`): relevant ones first, each group in seeded-hash order of the ids.
    Memory holds the relevant documents and at most `sample` others."""
    relevant = {document for judged in qrels.values() for document, grade in judged.items() if grade >= 1}
    judged: list[SourceDocument] = []

    def key(document: SourceDocument) -> str:
        return hashlib.sha256(f"{seed}\0{document.id}".encode()).hexdigest()

    def others() -> Iterator[SourceDocument]:
        for item in documents:
            document = to_source_document(item)
            if document.id is None:
                raise ConfigurationError(
                    f"sweep: document {document.source or document.text[:40]!r} has no id, and the qrels name "
                    "documents by id: name the field that holds it (CLI: --id-field, default _id as in BEIR)"
                )
            if document.id in relevant:
                judged.append(document)
            else:
                yield document

    rest = sorted(others(), key=key) if sample is None else heapq.nsmallest(sample, others(), key=key)
    return [*sorted(judged, key=key), *rest][:sample]


def _set_aside(items: Iterable[object], unreadable: list[ReadFailure]) -> Iterator[object]:
    """`items` without the `ReadFailure`s (a malformed line, an unreadable file), which go to `unreadable`."""
    for item in items:
        if isinstance(item, ReadFailure):
            unreadable.append(item)
        else:
            yield item


def _blocking(coroutine_function: Callable[_P, Coroutine[Any, Any, _R]]) -> Callable[_P, _R]:
    """The blocking twin of an `a...` coroutine function (same signature), refused inside a running event loop."""
    name = coroutine_function.__name__.removeprefix("a")

    @functools.wraps(coroutine_function)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coroutine_function(*args, **kwargs))
        raise ConfigurationError(f"{name}() was called inside a running event loop: use `await a{name}(...)`")

    run.__name__ = run.__qualname__ = name
    return run


evaluate = _blocking(aevaluate)
sweep = _blocking(asweep)
