"""Issue 25: hostile files and lines are failures with a reason, read in bounded memory and time, and nothing is read
from outside what was named."""

from __future__ import annotations

import json
import os
from contextlib import closing
from pathlib import Path

import pytest

from aleph_embed.config import MAX_PDF_PAGE_CHARS
from aleph_embed.ingest.report import FailedDocument
from aleph_embed.ingest.documents import WRITTEN_BY, WRITTEN_BY_FIELD, FileReader, ReadFailure, SourceDocument
from aleph_embed.ingest.failures import FailuresFile
from aleph_embed.ingest.readers import MAX_HTML_DEPTH, read_html, read_pdf_pages
from aleph_embed.jsonl import MAX_JSON_DEPTH


def shared_stream_pdf(path: Path, pages: int, characters: int) -> Path:
    """A small PDF whose `pages` pages all draw one compressed content stream of `characters` characters."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    content = DecodedStreamObject()
    lines = (b"(" + b"x" * 1000 + b") Tj T* ") * (characters // 1000)  # in tiny type: all on the page (what is read)
    content.set_data(b"BT /F1 0.1 Tf 0.12 TL 72 720 Td " + lines + b"ET")
    shared = writer._add_object(content.flate_encode())
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    resources = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Contents")] = shared
        page[NameObject("/Resources")] = resources
    writer.write(path)
    return path


def test_a_small_pdf_of_pages_sharing_one_stream_is_refused_by_the_caps(tmp_path: Path) -> None:
    """#3: 100 pages sharing one content stream (17 KB) held 30 M characters; pypdf's limits are per stream."""
    bomb = shared_stream_pdf(tmp_path / "bomb.pdf", 100, 300_000)
    assert bomb.stat().st_size < 32_000
    item = FileReader(tmp_path).read_file(bomb)
    assert isinstance(item, ReadFailure) and f"page 1 holds over {MAX_PDF_PAGE_CHARS:,} characters" in item.reason
    pages = shared_stream_pdf(tmp_path / "pages.pdf", 100, 150_000)  # each page under the page cap
    item = FileReader(tmp_path, max_chars=1_000_000).read_file(pages)
    assert isinstance(item, ReadFailure) and "cap of 1,000,000 characters" in item.reason and "by page 7" in item.reason
    assert len(read_pdf_pages(shared_stream_pdf(tmp_path / "two.pdf", 2, 1000)).text) > 1000  # small ones are read


def test_text_files_and_jsonl_lines_over_the_cap_are_failures_naming_it(tmp_path: Path) -> None:
    """#2: a document's characters are capped before it is chunked and embedded (`--max-document-chars`)."""
    (tmp_path / "big.txt").write_text("word " * 1000)
    (tmp_path / "huge.md").write_text("x" * 5000)  # over 4 bytes a character: refused without reading
    (tmp_path / "small.txt").write_text("word " * 10)
    lines = tmp_path / "lines.jsonl"
    lines.write_text(json.dumps({"id": 1, "text": "y" * 2000}) + "\n" + json.dumps({"id": 2, "text": "ok"}) + "\n")
    reader = FileReader(tmp_path, max_chars=1000)
    items = {item.source: item for item in reader.read([tmp_path / "big.txt", tmp_path / "huge.md",
                                                         tmp_path / "small.txt", lines])}
    for source in ("big.txt", "huge.md", f"{lines}:1"):
        assert isinstance(items[source], ReadFailure) and "cap of 1,000 characters" in items[source].reason
    assert isinstance(items["small.txt"], SourceDocument) and isinstance(items[f"{lines}:2"], SourceDocument)


def test_deeply_nested_html_is_refused_in_one_walk(tmp_path: Path) -> None:
    """#6: the reader was quadratic in nesting depth (20k nested divs: 19 s); now one walk, nesting capped."""
    page = tmp_path / "deep.html"
    page.write_text("<div>" * 20_000 + "deep text" + "</div>" * 20_000)
    item = FileReader(tmp_path).read_file(page)
    assert isinstance(item, ReadFailure) and f"nested deeper than {MAX_HTML_DEPTH} levels" in item.reason
    page.write_text("<head><title>T</title></head>" + "<div>" * 100 + "<h2>Inside <nav>menu</nav></h2>text" + "</div>" * 100)
    assert read_html(page) == "# T\n\n## Inside\n\ntext\n"


def test_deep_json_lines_are_failures_and_the_next_lines_are_read(tmp_path: Path) -> None:
    """#9: a line with deeply nested metadata killed the run with a RecursionError."""
    lines = tmp_path / "deep.jsonl"
    deep = '{"id": 1, "text": "a", "metadata": {"m": ' + "[" * 5000 + "]" * 5000 + "}}"
    store_deep = json.dumps({"id": 2, "text": "b", "metadata": {"m": json.loads("[" * 900 + "]" * 900)}})
    lines.write_text(deep + "\n" + store_deep + "\n" + json.dumps({"id": 3, "text": "c"}) + "\n")
    items = list(FileReader(tmp_path).read([lines]))
    assert [type(item).__name__ for item in items] == ["ReadFailure", "ReadFailure", "SourceDocument"]
    assert all(f"nested deeper than {MAX_JSON_DEPTH} levels" in item.reason for item in items[:2])


def test_links_out_of_the_named_folder_are_skipped_unless_followed(tmp_path: Path) -> None:
    """#7: `docs/notes.md -> /etc/...` went into the collection."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "real.md").write_text("real")
    os.symlink(secret, docs / "notes.md")
    os.symlink(docs / "real.md", docs / "alias.md")  # inside: read
    reader = FileReader(tmp_path)
    assert sorted(item.source or "" for item in reader.read([docs])) == ["docs/alias.md", "docs/real.md"]
    assert reader.skipped.files == {"link outside": 1}
    followed = FileReader(tmp_path, follow_symlinks=True)
    assert "docs/notes.md" in {item.source for item in followed.read([docs])}


def test_path_lines_are_read_only_from_failures_files_and_under_the_root(tmp_path: Path) -> None:
    """#7: any `.jsonl` line `{"id": ..., "path": ...}` made the ingest read that local file."""
    root = tmp_path / "project"
    root.mkdir()
    inside, outside = root / "inside.md", tmp_path / "outside.md"
    inside.write_text("inside text")
    outside.write_text("outside text")
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps({"id": "x", "path": str(inside)}) + "\n")
    (item,) = FileReader(root).read([forged])
    assert isinstance(item, ReadFailure) and "only from a failures file" in item.reason
    marked = tmp_path / "marked.jsonl"
    marked.write_text(json.dumps({"id": "y", "path": str(outside), WRITTEN_BY_FIELD: WRITTEN_BY}) + "\n")
    (item,) = FileReader(root).read([marked])
    assert isinstance(item, ReadFailure) and "outside" in item.reason
    failures = FailuresFile(tmp_path / "failures.jsonl")  # what the ingest writes is read back
    failures.write([FailedDocument("inside.md", None, "was busy", "inside.md", path=str(inside))], completed=True)
    (item,) = FileReader(root).read([tmp_path / "failures.jsonl"])
    assert isinstance(item, SourceDocument) and item.text == "inside text" and item.id == "inside.md"


@pytest.mark.parametrize("metadata_depth", [900])
def test_the_ingest_refuses_deep_metadata_and_long_texts_before_the_store(
    tmp_path: Path, metadata_depth: int
) -> None:
    """#9 and #2 at the ingest: documents given as objects are checked too (the embedded store overflowed at 900)."""
    from qdrant_client import QdrantClient

    from aleph_embed import EmbedClient, EmbeddingSettings
    from aleph_embed_qdrant import QdrantIngestor
    from tests.support.standin import StandInServer

    deep: object = []
    for _ in range(metadata_depth):
        deep = [deep]
    documents = [{"id": 1, "text": "deep", "metadata": {"m": deep}}, {"id": 2, "text": "z" * 101},
                 {"id": 3, "text": "fine"}]
    with StandInServer(delay=0) as standin, EmbedClient(standin.host) as client, \
            closing(QdrantClient(path=str(tmp_path / "store"))) as qdrant:
        ingestor = QdrantIngestor(embedder=client, settings=EmbeddingSettings(model=standin.model), qdrant=qdrant,
                                  collection="c", chunking=False, max_document_chars=100)
        report = ingestor.ingest(documents)
    reasons = {failed.id: failed.reason for failed in report.failed}
    assert report.ingested == 1 and sorted(reasons) == [1, 2]
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in reasons[1] and "cap of 100 characters" in reasons[2]
