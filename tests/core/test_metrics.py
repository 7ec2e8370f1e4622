"""The metrics against a brute-force computation and against trec_eval (pytrec_eval), and the BEIR readers."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import pytest

from aleph_embed import ConfigurationError
from aleph_embed.metrics import load_qrels, load_queries, score_query, score_run


def brute_ndcg(ranking: list[str], judged: dict[str, int], k: int) -> float:
    """DCG of the first k over the best DCG of any ordering of the judged documents (tried exhaustively)."""
    def dcg(documents: tuple[str, ...] | list[str]) -> float:
        return sum(max(judged.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(documents[:k]))

    best = max(dcg(order) for order in itertools.permutations(judged))
    return dcg(ranking) / best if best else 0.0


def random_case(rng: random.Random) -> tuple[list[str], dict[str, int]]:
    documents = [f"d{i}" for i in range(rng.randint(1, 130))]
    judged = {d: rng.choice([0, 1, 1, 2, 3]) for d in rng.sample(documents, rng.randint(1, min(6, len(documents))))}
    if not any(judged.values()):
        judged[next(iter(judged))] = 1
    ranking = rng.sample(documents, rng.randint(0, len(documents)))
    return ranking, judged


def test_metrics_match_a_brute_force_computation() -> None:
    rng = random.Random(7)
    for _ in range(300):
        ranking, judged = random_case(rng)
        scores = score_query(ranking, judged)
        relevant = {d for d, g in judged.items() if g >= 1}
        assert scores.ndcg_at_10 == pytest.approx(brute_ndcg(ranking, judged, 10))
        assert scores.recall_at_10 == pytest.approx(len(relevant & set(ranking[:10])) / len(relevant))
        assert scores.recall_at_100 == pytest.approx(len(relevant & set(ranking[:100])) / len(relevant))
        ranks = [i + 1 for i, d in enumerate(ranking[:10]) if d in relevant]
        assert scores.mrr_at_10 == pytest.approx(1 / ranks[0] if ranks else 0.0)


def test_metrics_match_trec_eval() -> None:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    rng = random.Random(11)
    qrels, run = {}, {}
    for number in range(200):
        ranking, judged = random_case(rng)
        qrels[f"q{number}"], run[f"q{number}"] = judged, ranking
    means, per_query = score_run(qrels, run)
    scored_run = {q: {d: float(len(r) - i) for i, d in enumerate(r)} for q, r in run.items()}  # distinct scores
    trec = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.10,100"}).evaluate(scored_run)
    top10 = {q: {d: s for d, s in scores.items() if s > len(run[q]) - 10} for q, scores in scored_run.items()}
    trec_rr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    for query, scores in per_query.items():
        assert scores.ndcg_at_10 == pytest.approx(trec.get(query, {}).get("ndcg_cut_10", 0.0), abs=1e-4)
        assert scores.recall_at_10 == pytest.approx(trec.get(query, {}).get("recall_10", 0.0), abs=1e-4)
        assert scores.recall_at_100 == pytest.approx(trec.get(query, {}).get("recall_100", 0.0), abs=1e-4)
        assert scores.mrr_at_10 == pytest.approx(trec_rr.get(query, {}).get("recip_rank", 0.0), abs=1e-4)
    assert means.ndcg_at_10 == pytest.approx(sum(s.ndcg_at_10 for s in per_query.values()) / len(per_query))


def test_queries_without_a_relevant_document_are_not_evaluated_and_missing_rankings_score_zero() -> None:
    means, per_query = score_run({"a": {"x": 2, "y": 0}, "b": {"y": 0}, "c": {"z": 1}}, {"a": ["x"]})
    assert sorted(per_query) == ["a", "c"]
    assert per_query["a"].ndcg_at_10 == 1.0 and per_query["c"].ndcg_at_10 == 0.0 and means.ndcg_at_10 == 0.5
    with pytest.raises(ConfigurationError, match="no relevant document"):
        score_run({"b": {"y": 0}}, {})


def test_beir_readers(tmp_path: Path) -> None:
    (tmp_path / "q.jsonl").write_text('{"_id": "q1", "text": "what"}\n\n{"_id": 2, "text": "why"}\n')
    assert load_queries(tmp_path / "q.jsonl") == {"q1": "what", "2": "why"}
    (tmp_path / "with-header.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n2\td3\t1\n")
    (tmp_path / "plain.tsv").write_text("q1 d1 2\nq1 d2 0\n2 d3 1\n")
    (tmp_path / "trec.txt").write_text("q1 0 d1 2\nq1 0 d2 0\n2 0 d3 1\n")
    expected = {"q1": {"d1": 2, "d2": 0}, "2": {"d3": 1}}
    for name in ("with-header.tsv", "plain.tsv", "trec.txt"):
        assert load_qrels(tmp_path / name) == expected
    (tmp_path / "bad.tsv").write_text("q1 d1 2\nq1 d2 high\n")
    with pytest.raises(ConfigurationError, match="bad.tsv:2"):
        load_qrels(tmp_path / "bad.tsv")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_queries(tmp_path / "missing.jsonl")
