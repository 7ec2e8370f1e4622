"""`aleph-embed ingest --engine ray`: the local engine's failures file, retried by ingesting it; the embedded store
refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer

from ..support.corpora import stdlib_paragraphs, write_jsonl
from ..support.qdrant_server import QdrantServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("ray_local")]


def test_a_failed_document_is_in_the_local_engines_failures_file_and_a_retry_stores_it(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    documents = stdlib_paragraphs(4, modules=("bisect",))
    documents.append({"id": "long", "text": " ".join(["a long document of many words"] * 200), "metadata": {"n": 1}})
    corpus = write_jsonl(tmp_path / "corpus.jsonl", documents)
    common = ["--host", embed_server.host, "--model", embed_server.default_model, "--qdrant-url", qdrant_server.url]
    failures = {engine: tmp_path / f"{engine}.jsonl" for engine in ("local", "ray")}
    for engine, path in failures.items():  # too long for the model, stored whole: it fails
        code = main(["ingest", str(corpus), "--no-chunking", "--collection", f"{collection}-{engine}",
                     "--failures", str(path), "--engine", engine, *common])
        assert code == 1
    assert "1 failed of 5 documents" in capsys.readouterr().out
    records = [json.loads(line) for line in failures["ray"].read_text().splitlines()]
    assert records == [json.loads(line) for line in failures["local"].read_text().splitlines()]
    assert [(record["id"], record["text"], record["metadata"]) for record in records] == [("long", documents[-1]["text"], {"n": 1})]

    # the retry: the failures file as input, chunked this time (another collection: other settings)
    assert main(["ingest", str(failures["ray"]), "--collection", f"{collection}-retry", "--failures",
                 str(failures["ray"]), "--engine", "ray", *common]) == 0
    assert "1 ingested, 0 skipped unchanged, 0 failed of 1 document in" in capsys.readouterr().out
    assert not failures["ray"].exists()


def test_the_embedded_store_is_refused_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"id": 1, "text": "x"}])
    code = main(["ingest", str(corpus), "--collection", "c", "--qdrant-path", str(tmp_path / "store"), "--engine", "ray"])
    assert code == 2
    assert "--engine ray writes from Ray's workers" in capsys.readouterr().err
