"""An independent computation of the rankings `eval --mode all` reports: exact dense search in numpy over the stored
vectors, BM25 from its definition in numpy (checked against bm25s), and the fusions as Qdrant defines them; nDCG@10
by pytrec_eval."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pytrec_eval
from qdrant_client import QdrantClient

from aleph_embed import EmbedClient
from aleph_embed.ingest.bm25 import BM25
from aleph_embed_qdrant import recorded_settings

DEPTH = 100
MAX_HITS = 20 * DEPTH
RRF_K = 2  # Qdrant's default


class Corpus:
    """Every point of a collection: ids, document ids, texts, dense vectors (unit length) and BM25 tokens."""

    def __init__(self, qdrant: QdrantClient, collection: str) -> None:
        self.recorded = recorded_settings(qdrant, collection)
        assert self.recorded is not None and self.recorded.sparse
        self.bm25 = BM25(self.recorded.sparse["bm25"].bm25())
        records, offset = [], None
        while True:
            page, offset = qdrant.scroll(collection, limit=256, offset=offset, with_vectors=[""], with_payload=True)
            records += page
            if offset is None:
                break
        records.sort(key=lambda record: str(record.id))
        self.ids = [str(record.id) for record in records]
        self.documents = [str(record.payload["document_id"]) for record in records]
        vectors = np.array([record.vector[""] if isinstance(record.vector, dict) else record.vector
                            for record in records], dtype=np.float64)
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        self.tokens = [self.bm25.tokens(record.payload["page_content"]) for record in records]
        self.counts = [Counter(tokens) for tokens in self.tokens]
        frequency = Counter(token for counts in self.counts for token in counts)
        n = len(records)
        self.idf = {token: math.log(1 + (n - df + 0.5) / (df + 0.5)) for token, df in frequency.items()}

    def dense(self, query: np.ndarray) -> list[tuple[float, str]]:
        scores = self.vectors @ (query / np.linalg.norm(query))
        return _top(zip(scores.tolist(), self.ids))

    def sparse(self, text: str, avg_len: float | None = None) -> list[tuple[float, str]]:
        """BM25 as defined (the term part times Qdrant's idf); points sharing no token with the query are left out."""
        settings = self.bm25.settings
        k, b, avg = settings.k, settings.b, avg_len or settings.avg_len
        query = set(self.bm25.tokens(text))
        hits = []
        for point, counts, tokens in zip(self.ids, self.counts, self.tokens):
            shared = query & counts.keys()
            if shared:
                norm = k * (1 - b + b * len(tokens) / avg)
                hits.append((sum(self.idf[t] * counts[t] * (k + 1) / (counts[t] + norm) for t in shared), point))
        return _top(hits)

    def ranking(self, points: list[tuple[float, str]]) -> list[str]:
        """Documents at their best point, ties by document id (as `eval` orders them)."""
        document_of = dict(zip(self.ids, self.documents))
        best: dict[str, float] = {}
        for score, point in points:
            best[document_of[point]] = max(best.get(document_of[point], -math.inf), score)
        return [document for _, document in sorted((-score, document) for document, score in best.items())]


def rrf(*lists: list[tuple[float, str]]) -> list[tuple[float, str]]:
    scores: dict[str, float] = {}
    for hits in lists:
        for position, (_, point) in enumerate(hits):
            scores[point] = scores.get(point, 0.0) + 1 / (position + RRF_K)
    return _top((score, point) for point, score in scores.items())


def dbsf(*lists: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """Each list's scores normalised by its mean +- 3 standard deviations (sample), summed."""
    scores: dict[str, float] = {}
    for hits in lists:
        values = np.array([score for score, _ in hits])
        if len(values) == 0:
            continue
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        low, high = values.mean() - 3 * std, values.mean() + 3 * std
        for score, point in hits:
            scores[point] = scores.get(point, 0.0) + (0.5 if std == 0 else (score - low) / (high - low))
    return _top((score, point) for point, score in scores.items())


def brute_force(
    qdrant: QdrantClient, collection: str, queries: Mapping[str, str], embedder: EmbedClient
) -> dict[str, dict[str, list[str]]]:
    """Mode label -> query id -> ranked document ids, for dense, sparse, hybrid-rrf and hybrid-dbsf."""
    corpus = Corpus(qdrant, collection)
    assert corpus.recorded is not None
    vectors = embedder.embed_texts(list(queries.values()), corpus.recorded.embedding_settings(), side="query")
    runs: dict[str, dict[str, list[str]]] = {"dense": {}, "sparse": {}, "hybrid-rrf": {}, "hybrid-dbsf": {}}
    for (query, text), vector in zip(queries.items(), vectors):
        dense, sparse = corpus.dense(np.array(vector)), corpus.sparse(text)
        runs["dense"][query], runs["sparse"][query] = corpus.ranking(dense), corpus.ranking(sparse)
        for label, fusion in (("hybrid-rrf", rrf), ("hybrid-dbsf", dbsf)):
            runs[label][query] = fused_ranking(corpus, fusion, dense, sparse)
    return runs


def fused_ranking(corpus: Corpus, fusion: object, dense: list[tuple[float, str]], sparse: list[tuple[float, str]]) -> list[str]:
    """As `eval` asks Qdrant: each side's first `limit` points fused, the first `limit` kept, `limit` growing from
    DEPTH (x4, up to MAX_HITS) until DEPTH documents are among them or fewer points come back."""
    limit = DEPTH
    while True:
        points = fusion(dense[:limit], sparse[:limit])[:limit]  # type: ignore[operator]
        ranking = corpus.ranking(points)
        if len(ranking) >= DEPTH or len(points) < limit or limit >= MAX_HITS:
            return ranking[:DEPTH]
        limit = min(limit * 4, MAX_HITS)


def ndcg_at_10(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, list[str]]) -> float:
    """Mean nDCG@10 over the judged queries (pytrec_eval), a query with no ranking scoring 0."""
    judged = {query: dict(grades) for query, grades in qrels.items()}
    scored = {query: {document: float(DEPTH - rank) for rank, document in enumerate(run.get(query, []))} or {"-": 0.0}
              for query in judged}
    evaluator = pytrec_eval.RelevanceEvaluator(judged, {"ndcg_cut.10"})
    values = [measures["ndcg_cut_10"] for measures in evaluator.evaluate(scored).values()]
    return sum(values) / len(judged)


def _top(hits: object) -> list[tuple[float, str]]:
    return sorted(hits, key=lambda hit: (-hit[0], hit[1]))[:MAX_HITS]  # type: ignore[index, call-overload]
