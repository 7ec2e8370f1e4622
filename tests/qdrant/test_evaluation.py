"""`evaluate` / `sweep` and `aleph-embed eval` / `sweep`: real local /embed server, real Qdrant (embedded and server)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient, models

from aleph_embed import AsyncEmbedClient, ConfigurationError, EmbedClient, EmbeddingSettings
from aleph_embed.cli import main
from aleph_embed.metrics import load_qrels, load_queries, score_run
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant.documents import read_paths
from aleph_embed_qdrant.evaluation import aevaluate, asweep, evaluate, sample_documents, sweep

from ..support.beir import BeirSet, small_beir

VECTORS = {"first": (0, "mean"), "last": (-1, "max")}


@pytest.fixture(scope="module")
def beir(tmp_path_factory: pytest.TempPathFactory) -> BeirSet:
    return small_beir(tmp_path_factory.mktemp("beir"))


def endpoint(embed_server: LocalServer) -> list[str]:
    return ["--host", embed_server.host, "--model", embed_server.default_model]


def brute_force_ndcg(qdrant: QdrantClient, collection: str, beir: BeirSet, embedder: EmbedClient, model: str,
                     name: str, layer: int, pooling: str) -> float:
    """nDCG@10 of an exhaustive numpy search over the stored vectors."""
    records, _ = qdrant.scroll(collection, limit=10_000, with_payload=True, with_vectors=[name])
    ids = [record.payload["document_id"] for record in records]
    matrix = np.array([record.vector[name] for record in records])
    queries = load_queries(beir.queries)
    settings = EmbeddingSettings(model=model, layer=layer, pooling=pooling)  # type: ignore[arg-type]
    run = {}
    for query, vector in zip(queries, embedder.embed_texts(list(queries.values()), settings)):
        scores = matrix @ np.array(vector)
        run[query] = [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))]
    return score_run({q: j for q, j in load_qrels(beir.qrels).items() if q in queries}, run)[0].ndcg_at_10


@pytest.mark.slow
def test_eval_of_a_cli_ingested_collection_equals_brute_force(
    beir: BeirSet, qdrant: QdrantClient, collection: str, embed_server: LocalServer, embedder: EmbedClient,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    url = qdrant.init_options.get("url")
    qdrant_args = ["--qdrant-url", url] if url else ["--qdrant-path", qdrant.init_options["path"]]
    vector_args = [arg for name, (layer, pooling) in VECTORS.items() for arg in ("--vector", f"{name}={layer}:{pooling}")]
    if not url:
        qdrant.close()  # the embedded store admits one client at a time
    assert main(["ingest", str(beir.corpus), "--collection", collection, "--id-field", "_id", *vector_args,
                 *qdrant_args, *endpoint(embed_server)]) == 0
    capsys.readouterr()

    assert main(["eval", "--collection", collection, "--queries", str(beir.queries), "--qrels", str(beir.qrels),
                 "--json", "--exact", *vector_args, *qdrant_args, *endpoint(embed_server)]) == 0
    report = json.loads(capsys.readouterr().out)

    assert [r["ndcg_at_10"] for r in report["results"]] == sorted((r["ndcg_at_10"] for r in report["results"]), reverse=True)
    client = QdrantClient(url=url, check_compatibility=False) if url else QdrantClient(path=qdrant_args[1])
    try:
        for result in report["results"]:
            layer, pooling = VECTORS[result["name"]]
            expected = brute_force_ndcg(client, collection, beir, embedder, embed_server.default_model,
                                        result["name"], layer, pooling)
            assert result["ndcg_at_10"] == pytest.approx(expected, abs=0.005)
    finally:
        client.close()


def test_eval_needs_to_know_how_named_vectors_were_made(
    beir: BeirSet, embed_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ["--qdrant-path", str(tmp_path / "store")]
    with closing(QdrantClient(path=str(tmp_path / "store"))) as qdrant:
        qdrant.create_collection("c", vectors_config={"first": models.VectorParams(size=4, distance=models.Distance.DOT)})
    code = main(["eval", "--collection", "c", "--queries", str(beir.queries), "--qrels", str(beir.qrels), *store,
                 *endpoint(embed_server)])
    assert code != 0 and "--vector NAME=LAYER:POOLING" in capsys.readouterr().err


def test_a_chunked_document_ranks_at_its_best_chunk(embedder: EmbedClient, settings: EmbeddingSettings) -> None:
    question = "How do I sort a list in place?"
    texts = [question, "Bananas are yellow.", "list.sort() sorts a list in place, stably."]
    vectors = embedder.embed_texts(texts, settings)
    with closing(QdrantClient(":memory:")) as qdrant:
        qdrant.create_collection("c", vectors_config=models.VectorParams(size=len(vectors[0]), distance=models.Distance.DOT))
        qdrant.upsert("c", [
            models.PointStruct(id=i, vector=v, payload={"document_id": doc})
            for i, (v, doc) in enumerate(zip(vectors, ["A", "A", "B"]))
        ])
        result = evaluate(embedder, qdrant, "c", {"q": question}, {"q": {"B": 1}}, settings=settings).best
    assert result.name is None and result.scores.mrr_at_10 == 0.5  # A (best chunk first), then B: not rank 3
    assert result.scores.recall_at_10 == 1.0


def test_sweep_is_reproducible_and_makes_one_embed_call_per_document(
    beir: BeirSet, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    queries, qrels = load_queries(beir.queries), load_qrels(beir.qrels)
    documents = list(read_paths([beir.corpus], id_field="_id"))
    runs = []
    for order in (documents, random.Random(3).sample(documents, len(documents))):  # input order does not matter
        before = embedder.usage.requests
        with closing(QdrantClient(":memory:")) as qdrant:
            result = sweep(embedder, qdrant, order, queries, qrels, settings=settings, layers=[0, 3, -1],
                           poolings=["mean", "max"], sample=20, seed=1)
        assert result.documents == result.embed_calls == 20 and not result.failed
        assert embedder.usage.requests - before == 20 + len(queries)  # and one call per query
        runs.append([(r.spec, r.scores) for r in result.evaluation.results])
    assert runs[0] == runs[1] and len(runs[0]) == 6
    assert [s.ndcg_at_10 for _, s in runs[0]] == sorted((s.ndcg_at_10 for _, s in runs[0]), reverse=True)


def test_sweep_command_prints_the_ranking_the_winner_command_and_a_heatmap(
    beir: BeirSet, embed_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "heatmap.png"
    args = ["sweep", str(beir.corpus), "--queries", str(beir.queries), "--qrels", str(beir.qrels), "--sample", "15",
            "--layers", "0,-1", "--poolings", "mean,max", "--plot", str(plot), *endpoint(embed_server)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["documents"] == report["embed_calls"] == 15 and len(report["results"]) == 4
    best = report["results"][0]
    assert f"--layer {best['layer']} --pooling {best['pooling']}" in report["command"]
    assert report["command"].startswith(f"aleph-embed ingest {beir.corpus} --collection ")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nDCG@10" in out and report["command"] in out
    with pytest.raises(SystemExit) as exited:
        main(["sweep", str(beir.corpus), "--queries", str(beir.queries), "--qrels", str(beir.qrels),
              "--poolings", "mean,median"])
    assert exited.value.code == 2 and "expected comma-separated poolings" in capsys.readouterr().err


def test_sweep_with_plot_but_no_matplotlib_stops_before_sweeping(beir: BeirSet, tmp_path: Path) -> None:
    code = (f"import sys\nsys.modules['matplotlib'] = None\nfrom aleph_embed.cli import main\n"
            f"sys.exit(main(['sweep', {str(beir.corpus)!r}, '--queries', {str(beir.queries)!r}, '--qrels', "
            f"{str(beir.qrels)!r}, '--plot', 'x.png', '--host', 'http://127.0.0.1:9', '--model', 'm']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and "pip install 'aleph-embed[plot]'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


async def test_the_async_twins_give_the_same_scores(
    beir: BeirSet, embed_server: LocalServer, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    queries, qrels = load_queries(beir.queries), load_qrels(beir.qrels)
    documents = list(read_paths([beir.corpus], id_field="_id"))
    arguments: dict[str, Any] = {"settings": settings, "layers": [-1], "poolings": ["mean"], "sample": 20}
    expected = await asyncio.to_thread(
        lambda: sweep(embedder, QdrantClient(":memory:"), documents, queries, qrels, **arguments)
    )
    async with AsyncEmbedClient(embed_server.host, embed_server.token) as client:
        qdrant = AsyncQdrantClient(":memory:")
        result = await asweep(client, qdrant, documents, queries, qrels, **arguments, collection="kept", keep=True)
        kept = {document.id for document in sample_documents(documents, qrels, 20, seed=0)}
        judged = {query: {d: grade for d, grade in judgements.items() if d in kept} for query, judgements in qrels.items()}
        again = await aevaluate(client, qdrant, "kept", queries, judged, settings=settings,
                                vectors={r.name: r.spec for r in result.evaluation.results if r.name})
        await qdrant.close()
    assert result.best.scores == expected.best.scores == again.best.scores
    with pytest.raises(ConfigurationError, match="await asweep"):
        sweep(embedder, QdrantClient(":memory:"), documents, queries, qrels, **arguments)
