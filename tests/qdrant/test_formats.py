"""Each reader on the real documents of tests/data/office: the structure the chunker gets (headings, slides,
sheets, chapters, pages), and the per-file limits (no server needed)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from aleph_embed.ingest.limits import ReadLimits, UnreadableFile, use_limits
from aleph_embed.ingest.paged import describe_pages, page_fields, pages_of
from aleph_embed.ingest.readers import PagedText, read_text, text_kind

DOCS = Path(__file__).parents[1] / "data" / "office" / "docs"


def _headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"#{1,6} ", line)]


def test_pdf_pages_and_outline_headings_only() -> None:
    paged = read_text(DOCS / "libtasn1.pdf")
    assert isinstance(paged, PagedText) and len(paged.page_starts) == 36 and paged.page_starts[0] == 0
    headings = _headings(paged.text)
    assert len(headings) == 21 and headings[:3] == ["# 1 Introduction", "# 2 ASN.1 structure handling", "## ASN.1 syntax"]
    for phrase, page in (("no check is done on them", 6), ("asn1Decoding generates an ASN.1 structure", 10)):
        at = paged.text.index(phrase)
        assert pages_of(paged.page_starts, at, at + len(phrase)) == [page]
    naming = paged.text.index("## Naming")
    assert paged.text[naming:].split("\n")[2] == "2.2 Naming"  # placed at the line holding its title
    assert "\x02" not in paged.text  # PDFium's hyphenation marks are dropped


def test_page_fields_of_spans() -> None:
    metadata = {"page_starts": [0, 100, 250]}
    assert page_fields(metadata, 90, 120) == {"page": 1, "pages": [1, 2]}
    assert page_fields(metadata, 250, 300) == {"page": 3, "pages": [3]}
    assert page_fields(metadata, None, None) == {"page": 1, "pages": [1, 2, 3]}
    assert page_fields({}, 0, 10) == {}
    assert describe_pages({"pages": [14]}) == " p. 14" and describe_pages({"pages": [3, 4]}) == " pp. 3-4"


def test_word_headings_and_escaped_lines() -> None:
    text = read_text(DOCS / "flask-config.docx")
    assert isinstance(text, str) and text.startswith("# Configuration Handling\n\n")
    assert "## Configuration Basics" in _headings(text)
    assert "\\# or via open_instance_resource:" in text  # a code comment is not a heading


def test_slides_are_sections_with_their_notes() -> None:
    text = read_text(DOCS / "npm-workspaces.pptx")
    assert isinstance(text, str)
    section = text[text.index("# Ignoring missing scripts"):]
    assert "npm run test --workspaces --if-present" in section
    assert "Notes: By running the command with the `--if-present` flag" in section
    slides = read_text(DOCS / "npm-folders.odp")
    assert isinstance(slides, str) and _headings(slides)[:2] == ["# Description", "# tl;dr"]


@pytest.mark.parametrize(("name", "sheets"), [("tz-zones.xlsx", ["# zones", "# countries"]),
                                              ("netbase-services.ods", ["# services"])])
def test_sheets_are_sections_whose_every_block_starts_with_the_header_row(name: str, sheets: list[str]) -> None:
    text = read_text(DOCS / name)
    assert isinstance(text, str) and _headings(text) == sheets
    for sheet in text.split("\n# ")[0:]:
        blocks = [block for block in sheet.split("\n\n") if block.startswith("|")]
        header = blocks[0].split("\n")[0]
        assert len(blocks) > 1 and all(block.split("\n")[0] == header for block in blocks)
        assert all(len(block) < 700 for block in blocks)


def test_text_and_epub_chapters() -> None:
    odt = read_text(DOCS / "npm-scripts.odt")
    assert isinstance(odt, str) and "### Pre & Post Scripts" in _headings(odt)
    book = read_text(DOCS / "live-manual.en.epub")
    assert isinstance(book, str) and len(_headings(book)) > 100 and "lb build" in book
    assert book.count("1.1 For the impatient") < 4  # a file named once per section in the spine is read once


def test_a_web_page_without_navigation() -> None:
    page = read_text(DOCS / "shelve.html")
    assert isinstance(page, str) and page.startswith("# `shelve` — Python object persistence")
    assert "## Restrictions" in _headings(page) and "Navigation" not in page and "Previous topic" not in page


def test_every_parsed_format_is_read_as_markdown() -> None:
    assert {text_kind(f"a{suffix}") for suffix in (".pdf", ".docx", ".xlsm", ".odp", ".epub", ".HTML")} == {"markdown"}
    assert (text_kind("a.rst"), text_kind("a.txt"), text_kind("x.jsonl:3")) == ("rst", "text", "text")


def test_limits_refuse_before_parsing(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", bytes(3 * 2**20))
    with use_limits(ReadLimits(max_unpacked_mb=2)), pytest.raises(UnreadableFile, match=r"unpacks to 3 MB, over"):
        read_text(bomb)
    with use_limits(ReadLimits(max_file_mb=0.1)), pytest.raises(UnreadableFile, match=r"per-file limit of 0.1 MB"):
        read_text(DOCS / "libtasn1.pdf")
    with use_limits(ReadLimits(max_chars=10_000)), pytest.raises(UnreadableFile, match=r"cap of 10,000 characters"):
        read_text(DOCS / "libtasn1.pdf")
    (tmp_path / "locked.pptx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    with pytest.raises(UnreadableFile, match=r"password-protected PowerPoint presentation"):
        read_text(tmp_path / "locked.pptx")
