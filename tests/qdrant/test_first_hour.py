"""What a new user meets in the first hour (issue 23), each finding reproduced through the CLI against the real local
/embed server, on the embedded store and the Qdrant server binary."""

from __future__ import annotations

import json
import os
from contextlib import closing
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed.cli import main
from aleph_embed.config import runtime_dir
from aleph_embed.server.shared import read_state
from aleph_embed.shared_host import shared_endpoint
from aleph_embed.server.launcher import LocalServer

from ..support.qdrant_server import QdrantServer


def endpoint(embed_server: LocalServer) -> list[str]:
    return ["--host", embed_server.host, "--model", embed_server.default_model]


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path, collection: str) -> list[str]:
    """The CLI's store flags (and a fresh collection) on the embedded store and on the Qdrant server binary."""
    if request.param == "embedded":
        return ["--collection", collection, "--qdrant-path", str(tmp_path / "store")]
    server: QdrantServer = request.getfixturevalue("qdrant_server")
    return ["--collection", collection, "--qdrant-url", server.url]


def test_an_empty_file_is_skipped_and_empty_text_decides_when_given(
    embed_server: LocalServer, store: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 3: an empty file made every run exit 1; `--empty-text skip` changed nothing; the hint named
    `EmbeddingSettings(empty_text=...)`."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Binary search halves the interval each step.")
    (docs / "empty.md").write_text("")
    (docs / "blank.txt").write_text("  \n\n")
    monkeypatch.chdir(tmp_path)
    failures = ["--failures", str(tmp_path / "failures.jsonl")]

    assert main(["ingest", "docs", *store, *failures, *endpoint(embed_server)]) == 0
    out = capsys.readouterr().out
    assert "1 ingested, 0 skipped unchanged, 0 failed of 1 document" in out
    assert "skipped 2 files: 2 empty" in out

    assert main(["ingest", "docs", *store, *failures, "--empty-text", "skip", *endpoint(embed_server)]) == 0
    assert "0 ingested, 1 skipped unchanged, 0 failed, 2 empty skipped of 3 documents" in capsys.readouterr().out

    assert main(["ingest", "docs", *store, *failures, "--empty-text", "error", *endpoint(embed_server)]) == 1
    record = json.loads((tmp_path / "failures.jsonl").read_text().splitlines()[0])
    assert "--empty-text skip" in record["reason"]


@pytest.mark.parametrize("where", ["memory", "server"])
def test_sweep_reports_a_malformed_line_as_ingest_does_and_names_the_id_flag(
    where: str, embed_server: LocalServer, tmp_path: Path, request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 4: `sweep` aborted on one malformed JSONL line with "cannot ingest a ReadFailure"; its missing-id
    message did not name `--id-field`."""
    corpus = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"_id": f"d{i}", "text": text}) for i, text in enumerate(
        ["Paris is the capital of France.", "Berlin is the capital of Germany.", "Rome is the capital of Italy."])]
    corpus.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"_id": "q1", "text": "capital of France"}) + "\n")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td0\t1\n")
    store = [] if where == "memory" else ["--qdrant-url", request.getfixturevalue("qdrant_server").url]
    args = ["--queries", str(queries), "--qrels", str(qrels), "--layers", "-1", "--poolings", "mean",
            *store, *endpoint(embed_server)]

    assert main(["sweep", str(corpus), *args, "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["documents"] == 3 and report["failed"] == 1
    assert f"document {corpus}:2 failed, left out of the sweep: not JSON" in captured.err
    assert "ReadFailure" not in captured.err

    assert main(["sweep", str(corpus), *args, "--id-field", "id"]) == 2
    error = capsys.readouterr().err
    assert "has no id" in error and "--id-field" in error and "Traceback" not in error


@pytest.fixture
def shared(data_home: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, str]:
    """(host, token, model) of the CLI's shared local server (it requires its token), started once, stopped when
    the session ends (`data_home`)."""
    monkeypatch.delenv("AA_HOST", raising=False)
    monkeypatch.delenv("AA_TOKEN", raising=False)
    monkeypatch.delenv("AA_SERVER_IDLE", raising=False)
    return shared_endpoint()


def test_a_wrong_token_is_reported_as_a_refused_token(
    shared: tuple[str, str, str], store: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 5: a wrong token was first reported as a missing model, and `search` printed
    `TextEmbedError: text 0 (...): AuthenticationError: ...`."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Binary search halves the interval each step.")
    host, token, model = shared
    wrong = ["--host", host, "--token=wrong-token"]
    right = ["--host", host, f"--token={token}", "--model", model]
    failures = ["--failures", str(tmp_path / "failures.jsonl")]

    assert main(["ingest", str(docs), *store, *failures, *wrong]) == 1  # no --model: the host is asked for it
    error = capsys.readouterr().err
    assert "the host refused the token (401" in error and "--token" in error and "no model" not in error

    assert main(["ingest", str(docs), *store, *failures, *wrong, "--model", model]) != 0
    error = capsys.readouterr().err
    assert "refused the token (401" in error and "AuthenticationError" not in error

    assert main(["ingest", str(docs), *store, *failures, *right]) == 0
    capsys.readouterr()
    assert main(["search", "binary search", *store, *wrong, "--model", model]) == 1
    error = capsys.readouterr().err
    assert error.startswith("aleph-embed: the host refused the token (401") and "TextEmbedError" not in error


def test_the_edges_a_new_user_meets(
    embed_server: LocalServer, store: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 7: `--top-k 0` printed Qdrant's raw 422; `--include '*.log'` silently ingested nothing (now the
    summary names the format without a reader); `AA_MODEL`
    was silently ignored for a collection recorded with another model; `eval --json` had no per-query rows."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "server.log").write_text("2026-01-01 ERROR disk full on /var\n2026-01-01 INFO retrying\n")
    (docs / "notes.md").write_text("Binary search halves the interval each step.")
    failures = ["--failures", str(tmp_path / "failures.jsonl")]
    monkeypatch.chdir(tmp_path)

    assert main(["ingest", "docs", "--include", "*.log", *store, *failures, *endpoint(embed_server)]) == 0
    out = capsys.readouterr().out  # not silent: the summary names the format without a reader
    assert "0 ingested, 0 skipped unchanged, 0 failed of 0 documents" in out
    assert "skipped 2 files: 1 excluded, 1 no reader for .log" in out
    (docs / "server.log").rename(docs / "server.txt")
    assert main(["ingest", "docs", *store, *failures, *endpoint(embed_server)]) == 0
    capsys.readouterr()

    with pytest.raises(SystemExit) as exited:
        main(["search", "disk full", "--top-k", "0", *store, *endpoint(embed_server)])
    assert exited.value.code == 2 and "--top-k: '0': expected a whole number of at least 1" in capsys.readouterr().err

    assert main(["search", "disk full", "--top-k", "1", "--json", *store, *endpoint(embed_server)]) == 0
    (hit,) = json.loads(capsys.readouterr().out)
    assert hit["id"] == "docs/server.txt"

    host = ["--host", embed_server.host]
    monkeypatch.setenv("AA_MODEL", "another-model")
    assert main(["search", "disk full", *store, *host]) == 1  # AA_MODEL is used, and the note says so
    err = capsys.readouterr().err
    assert "note: AA_MODEL another-model differs from the collection's" in err

    monkeypatch.delenv("AA_MODEL")
    queries, qrels = tmp_path / "queries.jsonl", tmp_path / "qrels.tsv"
    queries.write_text(json.dumps({"_id": "q1", "text": "disk full"}) + "\n"
                       + json.dumps({"_id": "q2", "text": "binary search"}) + "\n")
    qrels.write_text("q1\tdocs/server.txt\t1\nq2\tdocs/notes.md\t1\n")
    assert main(["eval", "--queries", str(queries), "--qrels", str(qrels), "--json", *store, *host]) == 0
    (result,) = json.loads(capsys.readouterr().out)["results"]
    assert sorted(result["per_query"]) == ["q1", "q2"]
    assert result["per_query"]["q1"]["ndcg_at_10"] == 1.0


def test_sigterm_during_an_ingest_ends_it_like_ctrl_c(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, tmp_path: Path,
) -> None:
    """Finding 7: SIGTERM during an ingest printed only "Terminated" (Ctrl-C prints the summary)."""
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": f"Paragraph {i} about sorting and searching lists. " * 20})
                              + "\n" for i in range(400)))
    command = [sys.executable, "-m", "aleph_embed.cli", "ingest", str(corpus), "--collection", collection,
               "--qdrant-url", qdrant_server.url, "--concurrency", "2", "--failures", str(tmp_path / "f.jsonl"),
               *endpoint(embed_server)]
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    run = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (qdrant.collection_exists(collection) and qdrant.count(collection).count >= 16):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    qdrant.close()

    assert run.returncode == 130, err
    assert "aleph-embed: interrupted" in err and "not reached" in err and "Traceback" not in err


def test_python_and_the_cli_share_one_setup(
    shared: tuple[str, str, str], qdrant_server: QdrantServer, collection: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder,
) -> None:
    """Finding 2: with no AA_HOST, the framework classes and clients raised "No host" while the CLI's shared server
    ran; the embedded store's lock was qdrant-client's message; every connection to the 1.16.3 server warned."""
    from aleph_embed import EmbedClient, EmbeddingSettings, TextEmbedder
    from aleph_embed_langchain import AlephAlphaEmbeddings
    from aleph_embed_qdrant import connect

    host, token, model = shared
    recorded = read_state()
    assert recorded is not None and (recorded.host, recorded.token) == (host, token)  # the CLI's own server
    log = (runtime_dir() / "server.log").read_text()
    assert "listening on" in log and "Loading weights" not in log  # finding 6: no model-loading bars
    embeddings = AlephAlphaEmbeddings()  # no host, no model: the shared server's
    assert (embeddings.host, embeddings.model) == (host, model)
    vector = embeddings.embed_query("binary search")
    with EmbedClient() as client:
        assert client.host == host
        assert client.embed_texts(["binary search"], EmbeddingSettings(model=model), side="query") == [vector]
    assert TextEmbedder(EmbeddingSettings(model=model)).host == host

    store = tmp_path / "store"
    holder = connect(path=store)  # a Python program holds the embedded store
    try:
        assert main(["collections", "--qdrant-path", str(store)]) == 2
    finally:
        holder.close()
    error = capsys.readouterr().err
    assert "is in use by another process" in error and "QDRANT_URL" in error and "--qdrant-path" in error

    monkeypatch.setenv("QDRANT_URL", qdrant_server.url)  # the CLI and Python on one Qdrant server
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Binary search halves the interval each step.")
    assert main(["ingest", str(docs), "--collection", collection, "--failures", str(tmp_path / "f.jsonl")]) == 0
    with closing(connect()) as qdrant:
        assert qdrant.count(collection).count == 1
    assert not [w for w in recwarn.list if "compatib" in str(w.message).lower()]


def test_the_same_files_from_another_directory_are_recognised(
    embed_server: LocalServer, store: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 1: `cd A && ingest corpus/`, then `cd .. && ingest A/corpus` re-embedded everything and every hit
    showed twice: file ids were relative to the current directory."""
    corpus = tmp_path / "A" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "search.md").write_text("Binary search halves the interval each step.")
    (corpus / "sort.md").write_text("Merge sort splits the list and merges the sorted halves.")
    failures = ["--failures", str(tmp_path / "failures.jsonl")]
    monkeypatch.chdir(tmp_path / "A")
    assert main(["ingest", "corpus", *store, *failures, *endpoint(embed_server)]) == 0
    assert "2 ingested" in capsys.readouterr().out

    monkeypatch.chdir(tmp_path)
    assert main(["ingest", "A/corpus", *store, *failures, *endpoint(embed_server)]) == 0
    captured = capsys.readouterr()
    assert "0 ingested, 2 skipped unchanged, 0 failed of 2 documents" in captured.out
    assert f"file ids are relative to {tmp_path / 'A'}" in captured.err

    assert main(["search", "binary search", "--json", *store, *endpoint(embed_server)]) == 0
    ids = [hit["id"] for hit in json.loads(capsys.readouterr().out)]
    assert sorted(ids) == ["corpus/search.md", "corpus/sort.md"]  # each once

    (corpus / "sort.md").unlink()
    assert main(["ingest", "A/corpus", "--prune", *store, *failures, *endpoint(embed_server)]) == 0
    assert "pruned 1 document (" in capsys.readouterr().out


def test_the_output_names_what_was_skipped_in_one_line_each(
    embed_server: LocalServer, tmp_path: Path,
) -> None:
    """Finding 6: pypdf's "EOF marker not found" printed raw; progress and summary disagreed on calls; "1 documents
    failed"; skipped files never named."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Binary search halves the interval each step.")
    (docs / "empty.md").write_text("")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64))
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n")
    command = [sys.executable, "-m", "aleph_embed.cli", "ingest", "docs", "--verbose", "--collection", "docs",
               "--qdrant-path", str(tmp_path / "store"), "--failures", str(tmp_path / "f.jsonl"),
               "--progress-interval", "0", *endpoint(embed_server)]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)

    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("aleph-embed: ") for line in lines), lines  # third-party output included
    assert "aleph-embed: skipped docs/empty.md (empty)" in lines
    assert "aleph-embed: skipped docs/image.png (binary)" in lines
    assert any(line.startswith("aleph-embed: cannot read docs/broken.pdf: ") for line in lines)
    assert any(line.startswith("aleph-embed: 1 document failed; see") for line in lines)
    summary = result.stdout.strip()
    assert "1 ingested, 0 skipped unchanged, 1 failed of 2 documents" in summary
    calls = int(summary.split("(")[1].split(" embed calls")[0])
    progress = [line for line in lines if " docs | " in line]
    assert progress and f"| {calls} calls," in progress[-1]  # the summary's count


def test_a_second_run_on_a_collection_refuses_while_the_first_holds_its_lease(
    embed_server: LocalServer, qdrant_server: QdrantServer, collection: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Finding 9: two concurrent ingests of one collection on a Qdrant server both paid the full cost, silently."""
    from aleph_embed_qdrant.lease import LEASE_KEY, Lease

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": i, "text": f"Paragraph {i} on sorting."}) + "\n" for i in range(20)))
    command = ["ingest", str(corpus), "--collection", collection, "--qdrant-url", qdrant_server.url,
               "--failures", str(tmp_path / "f.jsonl"), *endpoint(embed_server)]
    assert main(command) == 0
    capsys.readouterr()
    qdrant = QdrantClient(url=qdrant_server.url, check_compatibility=False)
    try:
        with Lease(qdrant, collection, settle=0.0):  # another run holds it
            assert main(command) == 2
            error = capsys.readouterr().err
            assert f"collection {collection!r} is being ingested by another run (pid {os.getpid()}" in error
        assert qdrant.get_collection(collection).config.metadata.get(LEASE_KEY) is None  # released

        killed = {"owner": "killed-run", "pid": 1, "host": "elsewhere", "expires": time.time() - 1}
        qdrant.update_collection(collection, metadata={LEASE_KEY: killed})  # a run killed before it released it
        assert main(command) == 0
        assert "0 ingested, 20 skipped unchanged" in capsys.readouterr().out
        assert qdrant.get_collection(collection).config.metadata.get(LEASE_KEY) is None
    finally:
        qdrant.close()
