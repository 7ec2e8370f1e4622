"""The ingest through every endpoint: semantic documents 100 per /batch_semantic_embed call, the endpoint recorded on
the collection, and queries embedded from that record finding the right documents."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient, QdrantClient

from aleph_embed import AsyncEmbedClient, ConfigurationError, EmbedClient, EmbeddingSettings
from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import QdrantIngestor, VectorSpec, recorded_settings
from aleph_embed_qdrant.errors import IngestConfigurationError
from aleph_embed_qdrant.evaluation import evaluate

from ..support.corpora import BENCH_MODULES, DOCUMENTS, QUESTIONS, stdlib_paragraphs, write_jsonl
from ..support.qdrant_server import assert_documents_once
from ..support.scripted_server import ScriptedServer, head
from ..support.standin import StandInServer


@pytest.mark.slow
def test_the_cli_ingests_3000_semantic_documents_in_at_most_31_batch_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = stdlib_paragraphs(3000, BENCH_MODULES)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", documents)
    store = tmp_path / "qdrant"
    with StandInServer(delay=0.005) as standin:
        code = main(["ingest", str(corpus), "--collection", "semantic", "--qdrant-path", str(store), "--host",
                     standin.host, "--model", standin.model, "--endpoint", "semantic", "--compress-to-size", "128"])
        calls = standin.calls()
    assert code == 0, capsys.readouterr().err
    assert "3000 ingested" in capsys.readouterr().out
    assert 30 <= calls.get("/batch_semantic_embed", 0) <= 31 and "/embed" not in calls, calls
    with closing(QdrantClient(path=str(store))) as qdrant:
        assert_documents_once(qdrant, "semantic", [document["id"] for document in documents])  # a few in 2 chunks
        recorded = recorded_settings(qdrant, "semantic")
    assert recorded is not None
    assert recorded.endpoint == {"endpoint": "semantic", "symmetric": False, "compress_to_size": 128}
    query_settings = recorded.embedding_settings()
    assert (query_settings.endpoint, query_settings.compress_to_size) == ("semantic", 128)
    assert query_settings.calls(["a question"], "query")[0].body()["representation"] == "query"


async def test_aingest_gathers_semantic_documents_100_per_call_too() -> None:
    documents = stdlib_paragraphs(250, BENCH_MODULES)
    settings = EmbeddingSettings(model="standin", endpoint="semantic")
    qdrant = AsyncQdrantClient(":memory:")
    with StandInServer(delay=0.005) as standin:
        async with AsyncEmbedClient(standin.host, None) as client:
            ingestor = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection="c")
            report = await ingestor.aingest(documents)
        calls = standin.calls()
    assert report.ingested == 250 and (await qdrant.count("c")).count == report.points  # some in 2 chunks
    assert calls == {"/batch_semantic_embed": 3}
    await qdrant.close()


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", ["semantic", "instructable", "openai"])
def test_an_ingest_through_each_endpoint_is_searched_as_recorded(
    embed_server: LocalServer, embedder: EmbedClient, endpoint: str
) -> None:
    settings = EmbeddingSettings(model=embed_server.default_model, endpoint=endpoint)
    documents = [{"id": f"d{index}", "text": text} for index, text in enumerate(DOCUMENTS)]
    with closing(QdrantClient(":memory:")) as qdrant:
        report = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection="facts").ingest(documents)
        assert report.ingested == len(DOCUMENTS) and not report.failed
        recorded = recorded_settings(qdrant, "facts")
        assert recorded is not None and recorded.endpoint is not None and recorded.endpoint["endpoint"] == endpoint
        query_settings = recorded.embedding_settings()
        for question, answer in QUESTIONS.items():
            (vector,) = embedder.embed_texts([question], query_settings, side="query")
            hit = qdrant.query_points("facts", query=vector, limit=1, with_payload=True).points[0]
            assert hit.payload is not None and hit.payload["page_content"] == DOCUMENTS[answer]
        # eval, given only the model, embeds the queries through the recorded endpoint
        queries = {f"q{index}": question for index, question in enumerate(QUESTIONS)}
        qrels = {f"q{index}": {f"d{answer}": 1} for index, answer in enumerate(QUESTIONS.values())}
        evaluation = evaluate(embedder, qdrant, "facts", queries, qrels, settings=EmbeddingSettings(model=settings.model))
        assert evaluation.best.scores.ndcg_at_10 == 1.0 and not evaluation.failed_queries


@pytest.mark.slow
def test_a_text_the_server_refuses_fails_alone_not_its_whole_batch(embed_server: LocalServer, embedder: EmbedClient) -> None:
    settings = EmbeddingSettings(model=embed_server.default_model, endpoint="semantic")
    documents = [{"id": f"d{index}", "text": text} for index, text in enumerate(DOCUMENTS)]
    documents.insert(3, {"id": "long", "text": "far too long for the context " * 400})
    with closing(QdrantClient(":memory:")) as qdrant:
        ingestor = QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection="c", chunking=False)
        report = ingestor.ingest(documents)  # whole documents: the long one is refused (chunked, it would fit)
        assert report.ingested == len(DOCUMENTS) and qdrant.count("c").count == len(DOCUMENTS)
    assert [failure.id for failure in report.failed] == ["long"]
    assert "BadRequestError" in report.failed[0].reason


def test_a_refused_token_stops_a_semantic_ingest_with_its_report() -> None:
    body = b'{"error": "invalid token", "code": "UNAUTHENTICATED"}'
    refusing = ScriptedServer(lambda wfile: wfile.write(head("401 Unauthorized", content_length=len(body)) + body))
    documents = stdlib_paragraphs(300, BENCH_MODULES)
    with refusing, EmbedClient(refusing.host, "not-the-token") as client, closing(QdrantClient(":memory:")) as qdrant:
        ingestor = QdrantIngestor(embedder=client, settings=EmbeddingSettings(model="m", endpoint="semantic"),
                                  qdrant=qdrant, collection="c", chunking=False)  # no tokenizer look-up first
        with pytest.raises(IngestConfigurationError, match="refused the token") as stopped:
            ingestor.ingest(documents)
    assert stopped.value.report.documents == 300 and stopped.value.report.ingested == 0
    assert refusing.requests <= 4  # a few /batch_semantic_embed calls, not one per document


def test_named_vectors_need_the_embed_endpoint(embedder: EmbedClient) -> None:
    settings = EmbeddingSettings(model="m", endpoint="semantic")
    with closing(QdrantClient(":memory:")) as qdrant, pytest.raises(ConfigurationError, match="named vectors"):
        QdrantIngestor(embedder=embedder, settings=settings, qdrant=qdrant, collection="c",
                       vectors={"last": VectorSpec(-1, "mean")})


def test_an_auto_ingest_records_the_chosen_endpoint_on_the_collection() -> None:
    """`endpoint="auto"`: the collection records the concrete endpoint, so a search embeds its queries alike."""
    from ..core.conftest import sync_client
    from ..core.test_auto_endpoint import host

    paths: list[str] = []
    qdrant = QdrantClient(":memory:")
    with sync_client(host(paths)) as client:
        settings = EmbeddingSettings(model="pharia-1-embedding-4608-control", endpoint="auto")
        ingestor = QdrantIngestor(embedder=client, settings=settings, qdrant=qdrant, collection="auto", chunking=False)
        ingestor.ingest(["a text"])
    assert (recorded_settings(qdrant, "auto").endpoint or {})["endpoint"] == "instructable"
    assert paths[:2] == ["/v1/model-settings", "/v1/instructable_embed"]
