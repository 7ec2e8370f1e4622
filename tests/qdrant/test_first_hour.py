"""What a new user meets in the first hour (issue 23), each finding reproduced through the CLI against the real local
/embed server, on the embedded store and the Qdrant server binary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer

from ..support.qdrant_server import QdrantServer


def endpoint(embed_server: LocalServer) -> list[str]:
    return ["--host", embed_server.host, "--token", embed_server.token, "--model", embed_server.default_model]


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
    assert "1 ingested, 0 skipped unchanged, 0 failed of 1 documents" in out
    assert "skipped 2 files: 2 empty" in out

    assert main(["ingest", "docs", *store, *failures, "--empty-text", "skip", *endpoint(embed_server)]) == 0
    assert "0 ingested, 1 skipped unchanged, 0 failed, 2 empty skipped of 3 documents" in capsys.readouterr().out

    assert main(["ingest", "docs", *store, *failures, "--empty-text", "error", *endpoint(embed_server)]) == 1
    record = json.loads((tmp_path / "failures.jsonl").read_text().splitlines()[0])
    assert "--empty-text skip" in record["reason"]
