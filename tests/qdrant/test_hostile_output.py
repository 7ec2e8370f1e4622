"""Human-readable output cannot be hijacked by what was ingested: file names, texts, headings and metadata with
escape sequences, bidi overrides and newlines are shown escaped, one hit per line; `--json` stays exact (issue 25,
finding 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer

CLEAR = "\x1b[2J\x1b[H"
TITLE = "\x1b]0;pwned\x07"
LINK = "\x1b]8;;https://evil.example\x1b\\sorted lists\x1b]8;;\x1b\\"
FAKE_LINE = "\n9. 0.9999  fake-hit.md  all is well"


def shown_safely(output: str) -> bool:
    return not any(not line.isprintable() or "\u202e" in line for line in output.splitlines())


def test_search_and_collections_escape_what_was_ingested(
    embed_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / f"notes{FAKE_LINE}.md").write_text(f"# Sorting {TITLE}\n\nBinary search {CLEAR} on {LINK} is fast.")
    (docs / "report\u202etxt.md").write_text("Insertion into sorted lists keeps them sorted \x9b2J.")
    (docs / "plain.txt").write_text("Heaps give the smallest item first.")
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"id": f"rec{CLEAR}", "text": f"sorted bisect {TITLE}",
                                   "metadata": {"source": f"src{FAKE_LINE}"}}) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    endpoint = ["--host", embed_server.host, "--model", embed_server.default_model]

    assert main(["ingest", "docs", "records.jsonl", "--collection", "hostile", *endpoint]) == 0
    out, err = capsys.readouterr()
    assert "4 ingested" in out and shown_safely(out) and shown_safely(err)

    assert main(["search", "sorted lists", "--collection", "hostile", "--top-k", "10", *endpoint]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert [line.split(".")[0] for line in lines] == ["1", "2", "3", "4"]  # one hit per line, no planted ones
    assert shown_safely(out) and "\\x1b]8;;" in out and "\\n9. 0.9999" in out and "\\u202e" in out

    assert main(["search", "sorted lists", "--collection", "hostile", "--top-k", "10", "--json", *endpoint]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert any(LINK in hit["text"] for hit in hits) and any(hit["id"] == f"rec{CLEAR}" for hit in hits)
    assert any(hit["metadata"].get("source") == f"src{FAKE_LINE}" for hit in hits)  # exact in --json

    assert main(["collections"]) == 0
    assert shown_safely(capsys.readouterr().out)
    assert main(["ingest", f"missing{CLEAR}.md", "--collection", "hostile", *endpoint]) != 0
    err = capsys.readouterr().err
    assert "missing\\x1b[2J" in err and shown_safely(err)
