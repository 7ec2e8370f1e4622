"""A folder of real documents of every kind (tests/data/office, see its SOURCE.md) through the CLI with its defaults,
against the real local /embed server and embedded Qdrant; bad files of these kinds reported one by one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from aleph_embed.cli import main
from aleph_embed.server.launcher import LocalServer

DATA = Path(__file__).parents[1] / "data" / "office"

KNOWN_ANSWERS = [  # (question, the file that answers it)
    ("which tool decodes a binary DER file into an ASN.1 structure", "libtasn1.pdf"),
    ("how to load the SECRET_KEY from an environment variable", "flask-config.docx"),
    ("run a script in every workspace and ignore workspaces missing it with --if-present", "npm-workspaces.pptx"),
    ("time zone of Kabul Afghanistan coordinates", "tz-zones.xlsx"),
    ("SSH remote login protocol port", "netbase-services.ods"),
    ("prepublishOnly prepare lifecycle scripts order", "npm-scripts.odt"),
    ("where global installs put man pages", "npm-folders.odp"),
    ("build a live system image with lb build", "live-manual.en.epub"),
    ("register a blueprint with a url_prefix", "flask-blueprints.epub"),
    ("shelf writeback persistent dictionary", "shelve.html"),
]


def _cli(*arguments: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aleph_embed.cli", *arguments], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def _endpoint(server: LocalServer) -> list[str]:
    return ["--host", server.host, "--model", server.default_model]


@pytest.mark.slow
def test_a_folder_of_every_kind_goes_in_with_the_defaults_and_answers_with_pages(
    embed_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(DATA / "docs", tmp_path / "docs")
    store = ["--collection", "office", "--qdrant-path", str(tmp_path / "store")]
    result = _cli("ingest", "docs", *store, "--failures", str(tmp_path / "failures.jsonl"), *_endpoint(embed_server),
                  cwd=tmp_path)

    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    files = sorted(p.name for p in (DATA / "docs").iterdir())
    assert f"{len(files)} ingested, 0 skipped unchanged, 0 failed of {len(files)} documents" in result.stdout
    assert f"read {len(files)} files (" in result.stdout and " s of reading in " in result.stdout

    for question, answer in KNOWN_ANSWERS:
        assert main(["search", question, *store, "--top-k", "20", "--json", *_endpoint(embed_server)]) == 0
        top_files = list(dict.fromkeys(hit["id"] for hit in json.loads(capsys.readouterr().out)))[:5]
        assert f"docs/{answer}" in top_files, (question, top_files)

    assert main(["search", KNOWN_ANSWERS[0][0], *store, "--top-k", "5", *_endpoint(embed_server)]) == 0
    printed = capsys.readouterr().out.splitlines()
    lines = [line for line in printed if "asn1Decoding generates an ASN.1 structure" in line]
    assert lines and "docs/libtasn1.pdf p. 10  (3 Utilities > Invoking asn1Decoding)" in lines[0], printed

    qdrant = QdrantClient(path=str(tmp_path / "store"))
    records, _ = qdrant.scroll("office", limit=1000, with_payload=True)
    qdrant.close()
    payloads = [record.payload or {} for record in records]
    assert {payload["document_id"] for payload in payloads} == {f"docs/{name}" for name in files}
    pdf = [payload for payload in payloads if payload["document_id"] == "docs/libtasn1.pdf"]
    for payload in pdf:  # both frameworks read the pages: LangChain's `metadata`, LlamaIndex's flat keys and node
        node = json.loads(payload["_node_content"])["metadata"]
        assert payload["metadata"]["pages"] == payload["pages"] == node["pages"]
        assert payload["page"] == payload["pages"][0] and "page_starts" not in payload["metadata"]
    assert sorted({page for payload in pdf for page in payload["pages"]}) == list(range(1, 37))
    titles = {payload["metadata"].get("title") for payload in pdf}
    assert "nameString value" not in titles and "4 Function reference" in titles  # from the outline, never a line
    chunks = {name: [p for p in payloads if p["document_id"] == f"docs/{name}"] for name in files}
    assert all(p["metadata"]["headings"] for p in chunks["npm-workspaces.pptx"])  # a section per slide
    headers = ("| codes | coordinates | TZ | comments |", "| code | name of country, territory, area, or subdivision |")
    assert len(chunks["tz-zones.xlsx"]) > 2 and all(  # every chunk of a sheet names its columns
        any(header in p["page_content"] for header in headers) for p in chunks["tz-zones.xlsx"])
    html = " ".join(p["page_content"] for p in chunks["shelve.html"])
    assert "persistent" in html and "Navigation" not in html and "Previous topic" not in html


def _zip_bomb(path: Path, megabytes: int) -> None:
    """A .docx that is a zip of `megabytes` MB of zeros (about 1 MB packed)."""
    zeros = bytes(2**20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("word/document.xml", "w") as member:
        for _ in range(megabytes):
            member.write(zeros)


@pytest.mark.slow
def test_bad_files_of_every_kind_are_reported_one_by_one_and_the_rest_stored(
    embed_server: LocalServer, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(DATA / "bad", docs)
    for name in ("flask-config.docx", "npm-folders.odp", "libtasn1.pdf"):
        shutil.copy(DATA / "docs" / name, docs / name)
    _zip_bomb(docs / "bomb.docx", 1100)
    with (docs / "huge.xlsx").open("wb") as stream:  # 200 MB: a spreadsheet's start, then a sparse tail
        stream.write((DATA / "docs" / "tz-zones.xlsx").read_bytes())
        stream.truncate(200 * 2**20)
    (docs / "protected.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096))  # an encrypted Office file
    failures = tmp_path / "failures.jsonl"

    started = time.monotonic()
    result = _cli("ingest", "docs", "--collection", "bad", "--qdrant-path", str(tmp_path / "store"), "--failures",
                  str(failures), *_endpoint(embed_server), cwd=tmp_path)
    assert time.monotonic() - started < 240  # bounded: nothing is unpacked or parsed past its limit

    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    reasons = {json.loads(line)["id"]: json.loads(line)["reason"] for line in failures.read_text().splitlines()}
    assert reasons.keys() == {f"docs/{name}" for name in
                              ("truncated.docx", "encrypted.pdf", "scanned.pdf", "bomb.docx", "huge.xlsx",
                               "protected.xlsx")}
    assert "not a complete zip archive" in reasons["docs/truncated.docx"]
    assert reasons["docs/encrypted.pdf"].startswith("encrypted PDF")
    assert reasons["docs/scanned.pdf"].startswith("no text layer") and "OCR is not supported" in reasons["docs/scanned.pdf"]
    assert "unpacks to 1,100 MB, over the limit of 1024 MB" in reasons["docs/bomb.docx"]
    assert "over the per-file limit of 100 MB (raise --max-file-mb)" in reasons["docs/huge.xlsx"]
    assert reasons["docs/protected.xlsx"].startswith("password-protected Excel workbook")
    for name, reason in reasons.items():
        assert f"aleph-embed: cannot read {name}: {reason}" in result.stderr
    assert "3 ingested, 0 skipped unchanged, 6 failed of 9 documents" in result.stdout
