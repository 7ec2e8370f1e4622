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
from aleph_embed_qdrant import QdrantIngestor, VectorSpec
from aleph_embed_qdrant.collection import SETTINGS_KEY
from aleph_embed.ingest.documents import read_paths
from aleph_embed_qdrant.evaluation import DEPTH, MAX_HITS, aevaluate, asweep, evaluate, sample_documents, sweep
from aleph_embed_qdrant.layout import ID_KEY

from ..support.beir import BeirSet, small_beir
from ..support.corpora import DOC_QUESTIONS, DOCS_FOLDER, SMALL_DOCS
from ..support.qdrant_server import QdrantServer

VECTORS = {"first": (0, "mean"), "last": (-1, "max")}


@pytest.fixture(scope="module")
def beir(tmp_path_factory: pytest.TempPathFactory) -> BeirSet:
    return small_beir(tmp_path_factory.mktemp("beir"))


def endpoint(embed_server: LocalServer) -> list[str]:
    return ["--host", embed_server.host, "--model", embed_server.default_model]


def brute_force_run(qdrant: QdrantClient, collection: str, name: str | None,
                    query_vectors: dict[str, list[float]]) -> dict[str, list[str]]:
    """Each query's documents by an exhaustive numpy search over the stored vectors, each at its best point (chunk),
    ties by document id."""
    records, _ = qdrant.scroll(collection, limit=10_000, with_payload=[ID_KEY], with_vectors=[name] if name else True)
    ids = [str(record.payload[ID_KEY]) for record in records]  # type: ignore[index]
    matrix = np.array([record.vector[name] if name else record.vector for record in records])  # type: ignore[index]
    run = {}
    for query, vector in query_vectors.items():
        best: dict[str, float] = {}
        for document, score in zip(ids, matrix @ np.array(vector)):
            best[document] = max(best.get(document, -np.inf), float(score))
        run[query] = sorted(best, key=lambda document: (-best[document], document))
    return run


def brute_force_ndcg(qdrant: QdrantClient, collection: str, beir: BeirSet, embedder: EmbedClient, model: str,
                     name: str, layer: int, pooling: str) -> float:
    """nDCG@10 of an exhaustive numpy search over the stored vectors."""
    queries = load_queries(beir.queries)
    settings = EmbeddingSettings(model=model, layer=layer, pooling=pooling)  # type: ignore[arg-type]
    run = brute_force_run(qdrant, collection, name,
                          dict(zip(queries, embedder.embed_texts(list(queries.values()), settings))))
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

    # no --vector: the ingest recorded how each vector was made
    assert main(["eval", "--collection", collection, "--queries", str(beir.queries), "--qrels", str(beir.qrels),
                 "--json", "--exact", *qdrant_args, *endpoint(embed_server)]) == 0
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


def test_eval_of_a_chunked_collection_counts_each_document_at_its_best_chunk(
    embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    documents = [{"id": name, "text": (DOCS_FOLDER / name).read_text(encoding="utf-8")} for name in SMALL_DOCS]
    queries = {f"q{i}": question for i, question in enumerate(DOC_QUESTIONS)}
    qrels = {f"q{i}": {next(name for name in SMALL_DOCS if name.endswith(source)): 1}
             for i, source in enumerate(DOC_QUESTIONS.values())}
    with closing(QdrantClient(":memory:")) as qdrant:
        report = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection="docs",
                                chunker=embedder.chunker(settings.model, max_tokens=128)).ingest(documents)
        assert report.ingested == len(documents) and report.points > 5 * len(documents)  # long documents, many chunks
        result = evaluate(embedder, qdrant, "docs", queries, qrels, settings=settings).best
        run = brute_force_run(qdrant, "docs", None,
                              dict(zip(queries, embedder.embed_texts(list(queries.values()), settings))))
    assert all(len(ranking) == len(documents) for ranking in run.values())
    assert result.name is None and result.scores == score_run(qrels, run)[0]
    assert result.scores.recall_at_10 == 1.0  # every document once in the top 10, however many chunks rank above


def test_documents_of_more_chunks_than_the_scan_fetches_are_grouped_by_qdrant(
    qdrant: QdrantClient, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    question = "How do I sort a list in place?"
    query = np.array(embedder.embed_texts([question], settings)[0])
    noise = np.random.default_rng(0).normal(size=(MAX_HITS + 200, len(query)))
    near = query + 0.05 * noise[:MAX_HITS]  # 5 long documents fill the first MAX_HITS hits
    far = -query + noise[MAX_HITS:]  # then 200 one-chunk documents
    owners = [f"long{i % 5}" for i in range(MAX_HITS)] + [f"short{i:03}" for i in range(200)]
    qdrant.create_collection(collection, vectors_config=models.VectorParams(size=len(query),
                             distance=models.Distance.COSINE))
    vectors = [*near, *far]
    for start in range(0, len(owners), 500):
        qdrant.upsert(collection, [models.PointStruct(id=i, vector=vectors[i].tolist(), payload={ID_KEY: owners[i]})
                                   for i in range(start, min(start + 500, len(owners)))])
    run = brute_force_run(qdrant, collection, None, {"q": query.tolist()})
    qrels = {"q": {run["q"][60]: 1}}  # a short document at rank 61: only Recall@100 finds it
    result = evaluate(embedder, qdrant, collection, {"q": question}, qrels, settings=settings, exact=True).best
    assert result.scores == score_run(qrels, {"q": run["q"][:DEPTH]})[0]
    assert result.scores.recall_at_100 == 1.0 and result.scores.recall_at_10 == 0.0


def test_eval_embeds_queries_with_the_recorded_settings_and_refuses_others(
    embedder: EmbedClient, settings: EmbeddingSettings, embed_server: LocalServer, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorded = {"model": settings.model, "host_kind": "local", "layout": "both",
                "vectors": {"first": {"layer": 0, "pooling": "max", "normalize": True}}}
    question = "How do I sort a list in place?"
    vector = embedder.embed_texts([question], settings.model_copy(update={"layer": 0, "pooling": "max"}))[0]
    with closing(QdrantClient(":memory:")) as qdrant:
        qdrant.create_collection("c", vectors_config={"first": models.VectorParams(size=len(vector),
                                 distance=models.Distance.COSINE)}, metadata={SETTINGS_KEY: recorded})
        qdrant.upsert("c", [models.PointStruct(id=0, vector={"first": vector}, payload={ID_KEY: "A"})])
        result = evaluate(embedder, qdrant, "c", {"q": question}, {"q": {"A": 1}}, settings=settings).best
        assert result.spec == VectorSpec(0, "max") and result.scores.mrr_at_10 == 1.0
        with pytest.raises(ConfigurationError, match="was embedded with model"):
            evaluate(embedder, qdrant, "c", {"q": question}, {"q": {"A": 1}},
                     settings=settings.model_copy(update={"model": "another-model"}))
        with pytest.raises(ConfigurationError, match="first: recorded 0:max, given -1:mean"):
            evaluate(embedder, qdrant, "c", {"q": question}, {"q": {"A": 1}}, settings=settings,
                     vectors={"first": VectorSpec(-1, "mean")})
    store, queries, qrels = tmp_path / "store", tmp_path / "queries.jsonl", tmp_path / "qrels.tsv"
    queries.write_text(json.dumps({"_id": "q", "text": question}) + "\n", encoding="utf-8")
    qrels.write_text("q\tA\t1\n", encoding="utf-8")
    with closing(QdrantClient(path=str(store))) as qdrant:
        qdrant.create_collection("c", vectors_config={"first": models.VectorParams(size=len(vector),
                                 distance=models.Distance.COSINE)}, metadata={SETTINGS_KEY: {**recorded, "model": "another-model"}})
    # no --model: the queries go to the recorded model (which this host lacks: the error says so, nothing scores 0)
    code = main(["eval", "--collection", "c", "--queries", str(queries), "--qrels", str(qrels), "--qdrant-path",
                 str(store), "--host", embed_server.host])
    error = capsys.readouterr().err
    assert code == 1 and "another-model" in error and "scored 0" not in error, error


def test_eval_embeds_queries_through_the_endpoint_the_collection_records(
    beir: BeirSet, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    instructable = settings.model_copy(update={"endpoint": "instructable"})  # the query instruction changes vectors
    queries, qrels = load_queries(beir.queries), load_qrels(beir.qrels)
    with closing(QdrantClient(":memory:")) as qdrant:
        QdrantIngestor(embedder=embedder, settings=instructable, qdrant=qdrant, collection="c").ingest(
            read_paths([beir.corpus], id_field="_id")
        )
        result = evaluate(embedder, qdrant, "c", queries, qrels, settings=settings).best  # /embed settings given
        asked = embedder.embed_texts(list(queries.values()), instructable, side="query")
        run = brute_force_run(qdrant, "c", None, dict(zip(queries, asked)))
    assert result.scores == score_run({query: qrels[query] for query in queries if query in qrels}, run)[0]


def test_sweep_is_reproducible_and_makes_one_embed_call_per_document(
    beir: BeirSet, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    queries, qrels = load_queries(beir.queries), load_qrels(beir.qrels)
    documents = list(read_paths([beir.corpus], id_field="_id"))
    embedder.chunker(settings.model)  # its tokenizer look-up (counted as a request) once, before counting
    runs = []
    for order in (documents, random.Random(3).sample(documents, len(documents))):  # input order does not matter
        before = embedder.usage.requests
        with closing(QdrantClient(":memory:")) as qdrant:
            result = sweep(embedder, qdrant, order, queries, qrels, settings=settings, layers=[0, 3, -1],
                           poolings=["mean", "max"], sample=20, seed=1)
        assert result.documents == 20 and result.embed_calls == result.points >= 20 and not result.failed
        assert embedder.usage.requests - before == result.embed_calls + len(queries)  # and one per query
        runs.append([(r.spec, r.scores) for r in result.evaluation.results])
    assert runs[0] == runs[1] and len(runs[0]) == 6
    assert [s.ndcg_at_10 for _, s in runs[0]] == sorted((s.ndcg_at_10 for _, s in runs[0]), reverse=True)


def test_sweep_command_prints_the_ranking_the_winner_command_and_a_heatmap(
    beir: BeirSet, embed_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "heatmap.png"
    args = ["sweep", str(beir.corpus), "--queries", str(beir.queries), "--qrels", str(beir.qrels), "--sample", "15",
            "--layers", "0,-1", "--poolings", "mean,max", "--plot", str(plot), "--chunk-tokens", "64",
            *endpoint(embed_server)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["documents"] == 15 and report["embed_calls"] == report["points"] > 15  # one call per chunk
    assert len(report["results"]) == 4
    best = report["results"][0]
    assert f"--layer {best['layer']} --pooling {best['pooling']}" in report["command"]
    assert report["command"].endswith("--chunk-tokens 64")  # chunked as the sweep chunked
    assert report["command"].startswith(f"aleph-embed ingest {beir.corpus} --collection ")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "nDCG@10" in out and report["command"] in out
    with pytest.raises(SystemExit) as exited:
        main(["sweep", str(beir.corpus), "--queries", str(beir.queries), "--qrels", str(beir.qrels),
              "--poolings", "mean,median"])
    assert exited.value.code == 2 and "expected comma-separated poolings" in capsys.readouterr().err


def test_sweep_holds_its_scratch_collection_on_a_qdrant_server_and_drops_it(
    beir: BeirSet, embed_server: LocalServer, qdrant_server: QdrantServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with closing(QdrantClient(url=qdrant_server.url, check_compatibility=False)) as qdrant:
        before = sorted(c.name for c in qdrant.get_collections().collections)
    for grpc in ([], ["--prefer-grpc", "--grpc-port", str(qdrant_server.grpc_port)]):
        assert main(["sweep", str(beir.corpus), "--queries", str(beir.queries), "--qrels", str(beir.qrels), "--sample",
                     "8", "--layers", "-1", "--poolings", "mean", "--json", "--qdrant-url", qdrant_server.url, *grpc,
                     *endpoint(embed_server)]) == 0, capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)["documents"] == 8
    with closing(QdrantClient(url=qdrant_server.url, check_compatibility=False)) as qdrant:
        assert sorted(c.name for c in qdrant.get_collections().collections) == before  # in no set order


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
