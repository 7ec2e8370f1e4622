"""`aleph-embed ingest` / `search` against the real local /embed server and real Qdrant."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer
from aleph_embed_qdrant import point_id
from aleph_embed.ingest.documents import SourceDocument

from ..support.corpora import stdlib_paragraphs, write_jsonl
from ..support.files import docs_with_bad_files
from ..support.qdrant_server import QdrantServer, assert_documents_once

DOCUMENTS = stdlib_paragraphs(30, modules=("bisect", "heapq", "textwrap"))


def endpoint(embed_server: LocalServer) -> list[str]:
    return ["--host", embed_server.host, "--model", embed_server.default_model]


def test_ingest_a_directory_then_search_it_in_the_embedded_store(
    embed_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    for document in DOCUMENTS[:6]:
        (docs / f"{document['id']}.txt").write_text(document["text"])
    (docs / "sub" / "notes.md").write_text("Binary search on sorted sequences is logarithmic.")
    (docs / "ignored.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # the default store: a fresh one

    assert main(["ingest", "docs", "--collection", "files", *endpoint(embed_server)]) == 0
    out, err = capsys.readouterr()
    assert "7 ingested, 0 skipped unchanged, 0 failed of 7 documents" in out
    assert f"creating the embedded store in {tmp_path / 'data' / 'aleph-embed' / 'qdrant'}" in err

    assert main(["ingest", "docs", "--collection", "files", *endpoint(embed_server)]) == 0
    assert "0 ingested, 7 skipped unchanged" in capsys.readouterr().out

    assert main(["search", "insert into a sorted list", "--collection", "files", "--top-k", "2", *endpoint(embed_server)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("1. 0.") and "bisect" in lines[0]


def test_ingest_jsonl_from_stdin_reports_failures_and_exits_non_zero(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    lines = [json.dumps({"key": d["id"], "body": d["text"], "metadata": d["metadata"]}) for d in DOCUMENTS[:8]]
    lines.append(json.dumps({"key": "empty", "body": ""}))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    failures = tmp_path / "failed.jsonl"

    code = main([
        "ingest", "-", "--collection", collection, "--qdrant-url", qdrant_server.url, "--id-field", "key",
        "--text-field", "body", "--failures", str(failures), "--layout", "llamaindex", *endpoint(embed_server),
        "--prefer-grpc", "--grpc-port", str(qdrant_server.grpc_port), "--batch-bytes", "20000",
    ])

    assert code == 1
    assert "8 ingested, 0 skipped unchanged, 1 failed of 9 documents" in capsys.readouterr().out
    (failed,) = [json.loads(line) for line in failures.read_text().splitlines()]
    assert failed["id"] == "empty" and failed["reason"].startswith("empty text")
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    assert qdrant.count(collection).count == 8
    assert qdrant.retrieve(collection, [point_id(SourceDocument("", DOCUMENTS[0]["id"]))])[0].payload["doc_id"] == DOCUMENTS[0]["id"]


@pytest.mark.slow
def test_a_killed_ingest_resumes_with_nothing_lost_or_doubled(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, tmp_path: Path
) -> None:
    documents = stdlib_paragraphs(160)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", documents)
    command = [
        sys.executable, "-m", "aleph_embed.cli", "ingest", str(corpus), "--collection", collection,
        "--qdrant-url", qdrant_server.url, "--batch-size", "16", *endpoint(embed_server),
    ]
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)

    first = subprocess.Popen([*command, "--concurrency", "2"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (qdrant.collection_exists(collection) and qdrant.count(collection).count >= 32):
        assert first.poll() is None, "the first run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    stored_at_kill = qdrant.count(collection).count
    assert stored_at_kill < len(documents)

    second = subprocess.run([*command, "--concurrency", "8"], cwd=tmp_path, capture_output=True, text=True, timeout=240)

    assert second.returncode == 0, second.stderr
    assert f"skipped unchanged, 0 failed of {len(documents)} documents" in second.stdout
    skipped = int(second.stdout.split(" ingested, ")[1].split(" skipped")[0])
    assert skipped >= stored_at_kill
    assert_documents_once(qdrant, collection, [d["id"] for d in documents])


def test_named_vectors_from_the_command_line_and_searching_one_of_them(
    embed_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCUMENTS[:5])
    store = ["--qdrant-path", str(tmp_path / "store"), "--collection", "named", *endpoint(embed_server)]

    assert main(["ingest", str(corpus), "--vector", "last=-1:mean", "--vector", "early=2:max", *store]) == 0
    assert main(["search", "sorted list", *store]) == 2
    assert "has named vectors ['early', 'last']: pass --using NAME" in capsys.readouterr().err
    assert main(["search", "sorted list", "--using", "early", "--top-k", "1", *store]) == 0
    assert capsys.readouterr().out.startswith("1. ")


def test_a_documentation_folder_with_bad_files_goes_in_without_a_traceback(
    embed_server: LocalServer, tmp_path: Path
) -> None:
    files = docs_with_bad_files(tmp_path / "docs", folders=("idle",))
    failures = tmp_path / "failures.jsonl"
    command = [
        sys.executable, "-m", "aleph_embed.cli", "ingest", "docs", "--collection", "docs", "--qdrant-path",
        str(tmp_path / "store"), "--failures", str(failures), *endpoint(embed_server),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)

    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "; skipped 3 files: 2 binary, 1 empty; 2 folders: .git, node_modules" in result.stdout
    failed = {json.loads(line)["id"]: json.loads(line) for line in failures.read_text().splitlines()}
    assert {"docs/latin1.txt", "docs/broken.pdf"} <= set(failed)
    assert failed["docs/latin1.txt"]["path"] == str(tmp_path / "docs" / "latin1.txt")
    assert failed["docs/latin1.txt"]["reason"].startswith("not UTF-8")
    qdrant = QdrantClient(path=str(tmp_path / "store"))
    records, _ = qdrant.scroll("docs", limit=100, with_payload=["document_id"])
    qdrant.close()
    stored = {record.payload["document_id"] for record in records}
    assert stored | set(failed) == {f"docs/{name}" for name in files["good"] + files["failing"]}
