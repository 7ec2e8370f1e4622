"""The CLI keeps a collection in step with its sources: the failures file retried, `--prune`, `delete`,
`collections`, and `search` with the recorded settings, `--json`, `--filter`, `--min-score`; on the embedded store
and the real Qdrant server binary, against the real local /embed server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer

from ..support.corpora import stdlib_paragraphs, write_jsonl
from ..support.files import docs_with_bad_files, write_pdf
from ..support.qdrant_server import QdrantServer

Opener = Callable[[], QdrantClient]
DOCUMENTS = stdlib_paragraphs(12, modules=("bisect", "heapq", "textwrap"))


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    """The CLI's arguments for the embedded store in tmp_path, or for the session's Qdrant server binary."""
    if request.param == "embedded":
        yield ["--qdrant-path", str(tmp_path / "store")]
    else:
        server: QdrantServer = request.getfixturevalue("qdrant_server")
        yield ["--qdrant-url", server.url]


@pytest.fixture
def client(store: list[str]) -> Iterator[Opener]:
    """Opens a Qdrant client on `store` for a look (the embedded store admits one client at a time)."""
    def open_client() -> QdrantClient:
        kind, where = store
        return QdrantClient(path=where) if kind == "--qdrant-path" else QdrantClient(url=where, check_compatibility=False)
    yield open_client


def endpoint(embed_server: LocalServer) -> list[str]:
    return ["--host", embed_server.host, "--model", embed_server.default_model]


def stored(open_client: Opener, collection: str) -> dict[object, int]:
    """Points per document id."""
    qdrant = open_client()
    try:
        records, _ = qdrant.scroll(collection, limit=10_000, with_payload=["document_id"])
    finally:
        qdrant.close()
    counts: dict[object, int] = {}
    for record in records:
        counts[record.payload["document_id"]] = counts.get(record.payload["document_id"], 0) + 1
    return counts


@pytest.mark.slow
def test_bad_files_reported_then_retried_from_the_failures_file_and_a_deleted_file_pruned(
    embed_server: LocalServer, store: list[str], client: Opener, collection: str, tmp_path: Path,
) -> None:
    files = docs_with_bad_files(tmp_path / "docs", folders=("idle",))
    failures = tmp_path / "failures.jsonl"
    env = {**os.environ, "AA_COLLECTION": collection}
    command = [sys.executable, "-m", "aleph_embed.cli", "ingest", "--failures", str(failures), *store,
               *endpoint(embed_server)]

    first = subprocess.run([*command, "docs", "--progress-interval", "0"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)  # stderr is a pipe, not a terminal

    assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
    good, failing = {f"docs/{n}" for n in files["good"]}, {f"docs/{n}" for n in files["failing"]}
    assert f"2 failed of {len(good) + len(failing)} documents" in first.stdout
    assert "skipped 3 files: 2 binary, 1 empty; 2 folders: .git, node_modules" in first.stdout
    progress = [line for line in first.stderr.splitlines() if " docs | " in line]
    assert progress and all(line.startswith("aleph-embed: [") and "\r" not in line for line in progress)
    records = {json.loads(line)["id"]: json.loads(line) for line in failures.read_text().splitlines()}
    assert set(records) == failing and all(r["reason"] and r["source"] == i for i, r in records.items())
    assert set(stored(client, collection)) == good

    again = subprocess.run([*command, "docs"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and len(failures.read_text().splitlines()) == 2  # the same two, once each

    (tmp_path / "docs" / "latin1.txt").write_text("Café crème, naïve façade.")  # the causes fixed
    write_pdf(tmp_path / "docs" / "broken.pdf", ["A repaired PDF."])
    retry = subprocess.run([*command, str(failures)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert retry.returncode == 0, retry.stderr
    assert "2 ingested, 0 skipped unchanged, 0 failed of 2 documents" in retry.stdout
    assert not failures.exists()
    before = stored(client, collection)
    assert set(before) == good | failing

    gone = "docs/idle/README.txt"
    (tmp_path / gone).unlink()
    pruned = subprocess.run([*command, "docs", "--prune"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)

    assert pruned.returncode == 0, pruned.stderr
    assert f"pruned 1 document ({before[gone]} point" in pruned.stdout
    assert stored(client, collection) == {key: count for key, count in before.items() if key != gone}


def test_failures_accumulate_until_stored_and_keep_the_text_of_jsonl_documents(
    embed_server: LocalServer, store: list[str], client: Opener, collection: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    failures = tmp_path / "failures.jsonl"
    args = ["--collection", collection, "--failures", str(failures), *store, *endpoint(embed_server)]
    first = write_jsonl(tmp_path / "a.jsonl", [*DOCUMENTS[:3], {"id": 7, "text": "", "metadata": {"n": 1}}])
    second = write_jsonl(tmp_path / "b.jsonl", [*DOCUMENTS[3:5], {"id": "x", "text": "", "metadata": {}}])

    assert main(["ingest", str(first), *args]) == 1
    assert main(["ingest", str(second), *args]) == 1  # another input: the first run's failure stays
    records = [json.loads(line) for line in failures.read_text().splitlines()]
    assert [(r["id"], r["text"], r["metadata"], r["source"]) for r in records] == [
        (7, "", {"n": 1}, f"{first}:4"), ("x", "", {}, f"{second}:3")]

    write_jsonl(first, [*DOCUMENTS[:3], {"id": 7, "text": "seven, no longer empty", "metadata": {"n": 1}}])
    capsys.readouterr()
    assert main(["ingest", str(first), *args]) == 0  # stored now: dropped from the file, the other one kept
    assert "0 failed" in capsys.readouterr().out
    assert [json.loads(line)["id"] for line in failures.read_text().splitlines()] == ["x"]
    assert 7 in stored(client, collection)

    assert main(["ingest", str(failures), *args]) == 1  # retried, failing again: the record keeps its origin
    assert [json.loads(line)["source"] for line in failures.read_text().splitlines()] == [f"{second}:3"]


def test_delete_by_id_and_by_source_and_list_collections(
    embed_server: LocalServer, store: list[str], client: Opener, collection: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    for document in DOCUMENTS[:3]:
        (docs / f"{document['id']}.txt").write_text(document["text"])
    (docs / "sub" / "notes.md").write_text("Heaps keep the smallest item first.")
    corpus = write_jsonl(tmp_path / "c.jsonl", [{"id": 1, "text": "one"}, {"id": "1", "text": "the string one"},
                                                {"id": "docs/sub/other.md", "text": "a JSONL document, not a file"}])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AA_COLLECTION", collection)  # no --collection from here on
    assert main(["ingest", "docs", str(corpus), *store, *endpoint(embed_server)]) == 0
    assert len(stored(client, collection)) == 7

    assert main(["delete", "--source", "docs/sub", *store]) == 0
    assert "deleted 1 points" in capsys.readouterr().out
    assert "docs/sub/notes.md" not in (left := stored(client, collection)) and "docs/sub/other.md" in left  # not a file
    assert main(["delete", "--id", "1", *store]) == 0  # the integer and the string id
    assert main(["delete", "--id", "1", *store]) == 1
    assert "no documents with id 1" in capsys.readouterr().err
    assert set(stored(client, collection)) == {f"docs/{d['id']}.txt" for d in DOCUMENTS[:3]} | {"docs/sub/other.md"}

    assert main(["collections", "--json", *store]) == 0
    listed = {item["name"]: item for item in map(json.loads, capsys.readouterr().out.splitlines())}
    assert listed[collection]["documents"] == listed[collection]["points"] == 4
    assert listed[collection]["settings"]["model"] == embed_server.default_model
    assert main(["collections", *store]) == 0
    assert f"{collection}: 4 documents, 4 points; model {embed_server.default_model}" in capsys.readouterr().out


def test_search_uses_the_recorded_settings_with_json_filters_and_a_minimum_score(
    embed_server: LocalServer, store: list[str], collection: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCUMENTS)
    args = ["--collection", collection, *store]
    assert main(["ingest", str(corpus), "--vector", "first=0:max", "--vector", "last=-1:mean", *args,
                 *endpoint(embed_server)]) == 0
    question = DOCUMENTS[4]["text"]
    capsys.readouterr()

    for using in ("first", "last"):  # the query embedded like that vector's documents: the document itself scores ~1
        assert main(["search", question, "--using", using, "--json", "--top-k", "3", *args]) == 0
        hits = json.loads(capsys.readouterr().out)
        assert hits[0]["id"] == DOCUMENTS[4]["id"] and hits[0]["score"] > 0.99
        assert hits[0]["text"] == question and hits[0]["metadata"]["module"] == DOCUMENTS[4]["metadata"]["module"]

    module = DOCUMENTS[0]["metadata"]["module"]
    assert main(["search", question, "--using", "last", "--json", "--filter", f"module={module}", *args]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and all(hit["metadata"]["module"] == module for hit in hits)
    assert main(["search", question, "--using", "last", "--json", "--min-score", "0.99", *args]) == 0
    assert [hit["id"] for hit in json.loads(capsys.readouterr().out)] == [DOCUMENTS[4]["id"]]
    with pytest.raises(SystemExit) as usage:
        main(["search", question, "--filter", "no-equals-sign", *args])
    assert usage.value.code == 2 and "expected KEY=VALUE" in capsys.readouterr().err


def test_the_embedded_store_default_does_not_depend_on_the_directory(
    embed_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCUMENTS[:2])
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert main(["ingest", str(corpus), "--collection", "here", *endpoint(embed_server)]) == 0
    assert f"creating the embedded store in {tmp_path / 'data' / 'aleph-embed' / 'qdrant'}" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["search", "sorted", "--collection", "here", "--top-k", "1", *endpoint(embed_server)]) == 0
    assert capsys.readouterr().out.startswith("1. ")
    assert not (tmp_path / ".aleph-embed").exists() and not (tmp_path / "elsewhere" / ".aleph-embed").exists()
