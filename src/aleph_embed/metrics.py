"""Retrieval metrics as BEIR reports them (trec_eval semantics), and readers of BEIR-format data.

`nDCG@10` uses graded relevance: gain = the qrels score, discount log2(rank + 1), the ideal ranking made of every
judged document of the query. `Recall@k` and `MRR@10` count documents with a score >= 1 as relevant. A query is
evaluated when it has at least one relevant document; a query with no ranking scores 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigurationError
from .jsonl import json_objects

Qrels = Mapping[str, Mapping[str, int]]
"""query id -> {document id: graded relevance}"""
Ranking = Sequence[str]
"""document ids, best first, each once"""


@dataclass(frozen=True)
class Scores:
    """The four metrics of one query, or their means over queries."""

    ndcg_at_10: float
    recall_at_10: float
    recall_at_100: float
    mrr_at_10: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


METRIC_LABELS = {"ndcg_at_10": "nDCG@10", "recall_at_10": "R@10", "recall_at_100": "R@100", "mrr_at_10": "MRR@10"}


def ndcg_at_k(ranking: Ranking, judged: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain of the first `k` documents."""
    gains = sorted((gain for gain in judged.values() if gain > 0), reverse=True)[:k]
    ideal = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))
    if ideal == 0:
        return 0.0
    dcg = sum(max(judged.get(document, 0), 0) / math.log2(rank + 2) for rank, document in enumerate(ranking[:k]))
    return dcg / ideal


def recall_at_k(ranking: Ranking, judged: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents among the first `k`."""
    relevant = {document for document, gain in judged.items() if gain >= 1}
    return len(relevant.intersection(ranking[:k])) / len(relevant) if relevant else 0.0


def mrr_at_k(ranking: Ranking, judged: Mapping[str, int], k: int) -> float:
    """1 / the rank of the first relevant document among the first `k`, else 0."""
    return next((1.0 / rank for rank, document in enumerate(ranking[:k], start=1) if judged.get(document, 0) >= 1), 0.0)


def score_query(ranking: Ranking, judged: Mapping[str, int]) -> Scores:
    return Scores(
        ndcg_at_10=ndcg_at_k(ranking, judged, 10),
        recall_at_10=recall_at_k(ranking, judged, 10),
        recall_at_100=recall_at_k(ranking, judged, 100),
        mrr_at_10=mrr_at_k(ranking, judged, 10),
    )


def evaluated_queries(qrels: Qrels) -> list[str]:
    """The queries that have at least one relevant document, sorted."""
    return sorted(query for query, judged in qrels.items() if any(gain >= 1 for gain in judged.values()))


def score_run(qrels: Qrels, run: Mapping[str, Ranking]) -> tuple[Scores, dict[str, Scores]]:
    """The means over the evaluated queries, and each query's scores."""
    per_query = {query: score_query(run.get(query, ()), qrels[query]) for query in evaluated_queries(qrels)}
    if not per_query:
        raise ConfigurationError("the qrels name no relevant document (score >= 1): nothing to evaluate")
    means = {
        name: math.fsum(getattr(scores, name) for scores in per_query.values()) / len(per_query)
        for name in METRIC_LABELS
    }
    return Scores(**means), per_query


def load_queries(path: str | Path) -> dict[str, str]:
    """BEIR queries.jsonl: one `{"_id", "text"}` per line."""
    queries: dict[str, str] = {}
    for number, item in _jsonl(path):
        if not isinstance(item.get("text"), str) or "_id" not in item:
            raise ConfigurationError(f"{path}:{number}: expected {{\"_id\": ..., \"text\": ...}}")
        queries[str(item["_id"])] = item["text"]
    return queries


def load_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """BEIR/TREC qrels: tab- or space-separated `query-id corpus-id score` (a header line is skipped); also the
    4-column TREC form `query-id 0 corpus-id score`."""
    qrels: dict[str, dict[str, int]] = {}
    try:
        with Path(path).open(encoding="utf-8", newline="") as stream:
            for number, line in enumerate(stream, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) == 4:
                    fields = [fields[0], fields[2], fields[3]]
                try:
                    query, document, score = fields[0], fields[1], int(fields[2])
                except (ValueError, IndexError):
                    if number == 1:
                        continue  # header: query-id corpus-id score
                    raise ConfigurationError(f"{path}:{number}: expected `query-id corpus-id score`") from None
                qrels.setdefault(query, {})[document] = score
    except OSError as error:
        raise ConfigurationError(f"cannot read qrels {path}: {error.strerror}") from None
    return qrels


def _jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with Path(path).open(encoding="utf-8") as stream:
            yield from json_objects(stream, str(path))
    except OSError as error:
        raise ConfigurationError(f"cannot read {path}: {error.strerror}") from None


__all__ = [
    "METRIC_LABELS",
    "Qrels",
    "Ranking",
    "Scores",
    "evaluated_queries",
    "load_qrels",
    "load_queries",
    "mrr_at_k",
    "ndcg_at_k",
    "recall_at_k",
    "score_query",
    "score_run",
]
