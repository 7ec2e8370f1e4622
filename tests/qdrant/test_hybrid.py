"""BM25 beside the dense vectors: ingest (`--sparse bm25`), `search --mode`, on the embedded store and the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed import ConfigurationError, EmbedClient, EmbeddingSettings
from aleph_embed.cli import main
from aleph_embed.ingest.bm25 import BM25, BM25Settings
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import QdrantIngestor, recorded_settings

from ..support.qdrant_server import QdrantServer

KEYWORD_DOCUMENTS = [
    {"id": "err", "text": "The upsert failed with error code QX-4471 because the shard was read-only."},
    {"id": "fn", "text": "Call frobnicate_widget() to reset the widget cache before a reload."},
    {"id": "bake", "text": "Bread rises when yeast ferments the sugars in the dough during proofing."},
    {"id": "sea", "text": "Tides follow the moon's pull on the oceans, twice a day on most coasts."},
    {"id": "tax", "text": "Annual reports list revenue, operating margin and the tax rate of the year."},
]
GERMAN_DOCUMENTS = [
    {"id": "haus", "text": "Die Häuser am Fluss wurden im Frühjahr renoviert."},
    {"id": "zug", "text": "Der Zug nach Berlin fährt stündlich vom Hauptbahnhof."},
    {"id": "wetter", "text": "Morgen wird das Wetter sonnig und warm."},
]


def endpoint(embed_server: LocalServer) -> list[str]:
    return ["--host", embed_server.host, "--model", embed_server.default_model]


def test_server_and_client_bm25_vectors_are_identical(
    qdrant_server: QdrantServer, collection: str, embedder: EmbedClient, settings: EmbeddingSettings
) -> None:
    """The server computes the BM25 vectors of an ingest itself; they equal `BM25.document` of the same texts."""
    texts = [*(document["text"] for document in KEYWORD_DOCUMENTS + GERMAN_DOCUMENTS),
             Path(__file__).parents[1].joinpath("data", "docs", "flask", "quickstart.rst").read_text()]
    for language in ("english", "german"):
        sparse = BM25Settings(language=language, k=1.5, b=0.6, avg_len=40)
        qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
        name = f"{collection}-{language}"
        QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=name, sparse=sparse,
                       chunking=False).ingest([{"id": i, "text": text} for i, text in enumerate(texts[:-1])])
        records = qdrant.scroll(name, with_vectors=True, limit=100)[0]
        assert len(records) == len(texts) - 1
        bm25 = BM25(sparse)
        for record in records:
            stored = record.vector["bm25"]
            expected = bm25.document(texts[int(record.payload["document_id"])])
            assert stored.indices == expected.indices
            assert stored.values == pytest.approx(expected.values, rel=1e-6)
        qdrant.close()


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_cli_ingests_sparse_and_searches_every_mode(
    where: str, embed_server: LocalServer, request: pytest.FixtureRequest, collection: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = request.getfixturevalue("qdrant_server") if where == "server" else None
    qdrant_args = ["--qdrant-url", server.url] if server else ["--qdrant-path", str(tmp_path / "qdrant")]
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text("".join(json.dumps(document) + "\n" for document in KEYWORD_DOCUMENTS))
    ingest = ["ingest", str(corpus), "--collection", collection, "--sparse", "bm25", *qdrant_args,
              *endpoint(embed_server)]
    assert main(ingest) == 0
    assert "5 ingested" in capsys.readouterr().out
    assert main(ingest) == 0
    assert "0 ingested, 5 skipped unchanged" in capsys.readouterr().out  # re-runs stay free

    def search(*extra: str) -> list[dict[str, object]]:
        assert main(["search", "QX-4471", "--collection", collection, "--json", *qdrant_args,
                     *endpoint(embed_server), *extra]) == 0
        return json.loads(capsys.readouterr().out)

    sparse = search("--mode", "sparse")
    assert [hit["id"] for hit in sparse] == ["err"]  # only the document holding the code has its tokens
    for fusion in ("rrf", "dbsf"):
        hybrid = search("--mode", "hybrid", "--fusion", fusion)
        assert hybrid[0]["id"] == "err" and len(hybrid) == 5
    assert len(search()) == 5  # dense by default: every document scores
    if server is None:  # the embedded store weighs RRF's sides: a dense weight of 0 leaves BM25's order
        assert [hit["id"] for hit in search("--mode", "hybrid", "--weights", "0,1")][:1] == ["err"]
    else:  # Qdrant 1.16 accepts RRF weights and ignores them: refused, saying so
        assert main(["search", "QX-4471", "--collection", collection, "--mode", "hybrid", "--weights", "0,1",
                     *qdrant_args, *endpoint(embed_server)]) == 2
        assert "ignores RRF weights" in capsys.readouterr().err

    # a changed document replaces its sparse vector too
    changed = [{**KEYWORD_DOCUMENTS[0], "text": "The upsert failed with error code ZZ-9000."}, *KEYWORD_DOCUMENTS[1:]]
    corpus.write_text("".join(json.dumps(document) + "\n" for document in changed))
    assert main(ingest) == 0
    assert "1 ingested, 4 skipped unchanged" in capsys.readouterr().out
    assert search("--mode", "sparse") == []
    # a hybrid search of a dense-only collection is refused with what to do
    assert main(["ingest", str(corpus), "--collection", f"{collection}-dense", *qdrant_args,
                 *endpoint(embed_server)]) == 0
    capsys.readouterr()
    assert main(["search", "x", "--collection", f"{collection}-dense", "--mode", "hybrid", *qdrant_args,
                 *endpoint(embed_server)]) == 2
    assert "records no BM25 sparse vectors" in capsys.readouterr().err


def test_german_stemming_finds_another_inflection(
    embedder: EmbedClient, settings: EmbeddingSettings, tmp_path: Path
) -> None:
    """`Häuser` is stored; `Haus` finds it through the German stemmer (and not through the English one)."""
    from aleph_embed_qdrant.modes import SearchMode
    from aleph_embed_qdrant.query import query_arguments, sparse_encoder, sparse_query

    qdrant = QdrantClient(path=str(tmp_path / "qdrant"))
    for language in ("german", "english"):
        QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=language,
                       sparse=BM25Settings(language=language), chunking=False).ingest(GERMAN_DOCUMENTS)
        bm25 = sparse_encoder(language, recorded_settings(qdrant, language))
        arguments = query_arguments(SearchMode("sparse"), dense=None, using=None, limit=3,
                                    sparse=sparse_query(bm25, "Haus", local=True))
        hits = [hit.payload["document_id"] for hit in qdrant.query_points(language, **arguments, limit=3).points]
        assert hits == (["haus"] if language == "german" else [])
    assert BM25(BM25Settings(language="german")).tokens("Die Häuser, dem Hause") == ["haus", "haus"]
    qdrant.close()


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_eval_mode_all_equals_a_brute_force_computation(
    where: str, embed_server: LocalServer, embedder: EmbedClient, request: pytest.FixtureRequest, collection: str,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """dense, sparse and both fusions of `eval --mode all` score as an independent computation of the same rankings;
    `--record` makes the best the default of `search`."""
    from aleph_embed.metrics import load_qrels, load_queries

    from ..support.beir import small_beir
    from ..support.bruteforce import brute_force, ndcg_at_10

    server = request.getfixturevalue("qdrant_server") if where == "server" else None
    qdrant_args = ["--qdrant-url", server.url] if server else ["--qdrant-path", str(tmp_path / "qdrant")]
    beir = small_beir(tmp_path / "beir", queries=6, distractors=40)
    assert main(["ingest", str(beir.corpus), "--collection", collection, "--id-field", "_id", "--sparse", "bm25",
                 "--bm25-avg-len", "60", *qdrant_args, *endpoint(embed_server)]) == 0
    capsys.readouterr()
    assert main(["eval", "--queries", str(beir.queries), "--qrels", str(beir.qrels), "--collection", collection,
                 "--mode", "all", "--json", "--exact", "--record", *qdrant_args, *endpoint(embed_server)]) == 0
    reported = {row["mode"]: row["ndcg_at_10"] for row in json.loads(capsys.readouterr().out)["results"]}
    assert sorted(reported) == ["dense", "hybrid-dbsf", "hybrid-rrf", "sparse"]
    qdrant = QdrantClient(url=server.url, check_compatibility=False) if server else QdrantClient(
        path=str(tmp_path / "qdrant"))
    try:
        qrels = load_qrels(beir.qrels)
        expected = {label: ndcg_at_10(qrels, run)
                    for label, run in brute_force(qdrant, collection, load_queries(beir.queries), embedder).items()}
        recorded = recorded_settings(qdrant, collection)
    finally:
        qdrant.close()
    assert reported == pytest.approx(expected, abs=0.005)
    assert recorded is not None and recorded.search is not None
    assert recorded.search["ndcg_at_10"] == max(reported.values())


def test_frameworks_open_a_hybrid_collection(
    embed_server: LocalServer, qdrant: QdrantClient, collection: str, embedder: EmbedClient,
    settings: EmbeddingSettings,
) -> None:
    """LangChain's and LlamaIndex's own Qdrant stores search the ingest's collection in hybrid and sparse mode with
    our BM25 query vectors (matching the server's own BM25 of the documents on the server)."""
    from langchain_qdrant import QdrantVectorStore, RetrievalMode
    from llama_index.core import VectorStoreIndex
    from llama_index.vector_stores.qdrant import QdrantVectorStore as LlamaQdrantVectorStore

    from aleph_embed_langchain import AlephAlphaBM25, AlephAlphaEmbeddings
    from aleph_embed_llamaindex import AlephAlphaBM25 as LlamaBM25
    from aleph_embed_llamaindex import AlephAlphaEmbedding

    QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=collection,
                   sparse=BM25Settings(avg_len=20)).ingest(KEYWORD_DOCUMENTS)
    for mode in (RetrievalMode.HYBRID, RetrievalMode.SPARSE):
        store = QdrantVectorStore(
            client=qdrant, collection_name=collection, retrieval_mode=mode, vector_name="",
            embedding=AlephAlphaEmbeddings(model=embed_server.default_model, host=embed_server.host),
            sparse_embedding=AlephAlphaBM25.from_collection(qdrant, collection), sparse_vector_name="bm25",
        )
        assert [hit.metadata["document_id"] for hit in store.similarity_search("error QX-4471", k=1)] == ["err"]
        assert store.similarity_search("frobnicate_widget", k=1)[0].metadata["document_id"] == "fn"

    bm25 = LlamaBM25.from_collection(qdrant, collection)
    index = VectorStoreIndex.from_vector_store(
        LlamaQdrantVectorStore(client=qdrant, collection_name=collection, enable_hybrid=True,
                               sparse_vector_name="bm25", sparse_doc_fn=bm25.sparse_doc_fn,
                               sparse_query_fn=bm25.sparse_query_fn),
        embed_model=AlephAlphaEmbedding(model_name=embed_server.default_model, host=embed_server.host),
    )
    for mode in ("hybrid", "sparse"):
        nodes = index.as_retriever(vector_store_query_mode=mode, similarity_top_k=1, sparse_top_k=3).retrieve(
            "error QX-4471")
        assert [node.node.metadata["document_id"] for node in nodes] == ["err"]

    dense_only = f"{collection}-dense"
    QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection=dense_only).ingest(KEYWORD_DOCUMENTS)
    with pytest.raises(ConfigurationError, match="records no BM25 sparse vectors"):
        AlephAlphaBM25.from_collection(qdrant, dense_only)


def test_hybrid_wins_on_keyword_queries(
    embed_server: LocalServer, collection: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Identifiers, error codes and flags (tests/data/keyword-queries) over passages of tests/data/docs: BM25 finds
    what the dense model misses, and both fusions keep most of it."""
    from ..support.keywords import keyword_beir

    beir = keyword_beir(tmp_path / "beir")
    store = ["--qdrant-path", str(tmp_path / "qdrant")]
    assert main(["ingest", str(beir.corpus), "--id-field", "_id", "--collection", collection, "--sparse", "bm25",
                 *store, *endpoint(embed_server)]) == 0
    capsys.readouterr()
    assert main(["eval", "--queries", str(beir.queries), "--qrels", str(beir.qrels), "--collection", collection,
                 "--mode", "all", "--json", *store, *endpoint(embed_server)]) == 0
    ndcg = {row["mode"]: row["ndcg_at_10"] for row in json.loads(capsys.readouterr().out)["results"]}
    assert ndcg["sparse"] > ndcg["dense"] + 0.05, ndcg
    assert min(ndcg["hybrid-rrf"], ndcg["hybrid-dbsf"]) > ndcg["dense"], ndcg


def test_sweep_ranks_the_modes_and_its_winner_command_ingests_bm25(
    embed_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ..support.keywords import keyword_beir

    beir = keyword_beir(tmp_path / "beir")  # keyword queries: a mode with BM25 wins
    assert main(["sweep", str(beir.corpus), "--queries", str(beir.queries), "--qrels", str(beir.qrels), "--sample",
                 "60", "--layers", "-1", "--poolings", "mean,max", "--mode", "all", "--language", "english", "--json",
                 *endpoint(embed_server)]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = {(row["mode"], row["pooling"]) for row in result["results"]}
    assert rows == {(mode, pooling) for mode in ("dense", "hybrid-rrf", "hybrid-dbsf") for pooling in ("mean", "max")
                    } | {("sparse", None)}
    best = result["results"][0]
    assert best["mode"] != "dense"
    assert "--sparse bm25 --language english" in result["command"]
