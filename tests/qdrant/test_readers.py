"""File readers: formats, ids relative to the root, skipped files counted, unreadable input reported (never raised)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from aleph_embed import ConfigurationError
from aleph_embed.ingest.documents import FileReader, ReadFailure, SourceDocument
from aleph_embed.ingest.readers import UnreadableFile, read_html, read_pdf_pages

from ..support.files import docs_with_bad_files, write_pdf


def test_a_documentation_folder_with_bad_files_reads_every_good_file_and_reports_or_counts_every_bad_one(
    tmp_path: Path,
) -> None:
    files = docs_with_bad_files(tmp_path / "docs")
    reader = FileReader(root=tmp_path)
    items = list(reader.read([tmp_path / "docs"]))

    documents = [item for item in items if isinstance(item, SourceDocument)]
    failures = {item.id: item.reason for item in items if isinstance(item, ReadFailure)}
    assert sorted(d.id for d in documents) == sorted(f"docs/{name}" for name in files["good"])
    assert sorted(failures) == ["docs/broken.pdf", "docs/latin1.txt"]
    assert failures["docs/latin1.txt"].startswith("not UTF-8 (byte 0xe9 at offset 3)")
    assert failures["docs/broken.pdf"].startswith("not a readable PDF")
    assert reader.skipped.summary() == "skipped 3 files: 2 binary, 1 empty; 2 folders: .git, node_modules"
    assert reader.count([tmp_path / "docs"]) == len(items)
    page = next(d for d in documents if d.id == "docs/page.HTML")
    assert page.text == "# Install\n\nRun pip install to install the package.\n\n## Usage\n\nImport it.\n"
    assert page.metadata == {"source": "docs/page.HTML"} and page.source == "docs/page.HTML"


def test_ids_do_not_depend_on_the_folder_named(tmp_path: Path) -> None:
    (tmp_path / "docs" / "npm").mkdir(parents=True)
    (tmp_path / "docs" / "npm" / "a.md").write_text("alpha")
    reader = FileReader(root=tmp_path)
    (whole,) = reader.read([tmp_path / "docs"])
    (part,) = reader.read([tmp_path / "docs" / "npm"])
    (named,) = reader.read([tmp_path / "docs" / "npm" / "a.md"])
    assert whole.id == part.id == named.id == "docs/npm/a.md"
    outside = FileReader(root=tmp_path / "docs" / "npm" / "elsewhere").file_id(tmp_path / "docs" / "npm" / "a.md")
    assert outside == (tmp_path / "docs" / "npm" / "a.md").as_posix()


def test_include_and_exclude_globs_and_case_insensitive_suffixes(tmp_path: Path) -> None:
    for name in ("A.MD", "b.markdown", "c.rst", "d.txt", "api/e.md", "api/deep/f.md", "g.Htm", "h.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"text of {name}")
    everything = FileReader(root=tmp_path)
    assert [d.id for d in everything.read([tmp_path])] == [
        "A.MD", "b.markdown", "c.rst", "d.txt", "g.Htm", "api/e.md", "api/deep/f.md",
    ]
    assert everything.skipped.summary() == "skipped 1 file: 1 other format"
    excluded = FileReader(root=tmp_path, exclude=["api", "*.rst"])
    assert [d.id for d in excluded.read([tmp_path])] == ["A.MD", "b.markdown", "d.txt", "g.Htm"]
    assert excluded.skipped.summary() == "skipped 2 files: 1 excluded, 1 other format; 1 folder: excluded"
    included = FileReader(root=tmp_path, include=["*.md"], exclude=["api/deep/*"])
    assert [d.id for d in included.read([tmp_path])] == ["api/e.md"]  # fnmatch is case-sensitive here
    assert included.skipped.files["excluded"] == 7


def test_malformed_jsonl_lines_are_failures_with_their_line_number(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_bytes(
        b'{"id": 1, "text": "one"}\nnot json\n\n[1, 2]\n{"id": "x", "text": "caf\xe9"}\n{"id": 2}\n{"id": 3, "text": "three"}\n'
    )
    items = list(FileReader(root=tmp_path).read([corpus]))
    assert [item.id for item in items if isinstance(item, SourceDocument)] == [1, 3]
    failures = [(item.source, item.reason.split(" (")[0]) for item in items if isinstance(item, ReadFailure)]
    name = str(corpus)
    assert failures == [
        (f"{name}:2", "not JSON"), (f"{name}:4", "expected a JSON object, got list"),
        (f"{name}:5", "not UTF-8"), (f"{name}:6", "document 2 has no string field 'text'; pass text_field=..."),
    ]


def test_a_first_line_without_the_text_field_is_a_configuration_error(tmp_path: Path) -> None:
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": 1, "body": "one"}\n')
    with pytest.raises(ConfigurationError, match=r"c.jsonl:1: .*pass text_field"):
        list(FileReader(root=tmp_path).read([corpus]))
    assert [d.text for d in FileReader(root=tmp_path, text_field="body").read([corpus])] == ["one"]


def test_stdin_and_paths_that_cannot_be_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"text": "from stdin"}\n')))
    assert [d.text for d in FileReader().read(["-"])] == ["from stdin"]
    reader = FileReader(root=tmp_path)
    with pytest.raises(ConfigurationError, match="no such file or directory"):
        reader.check([tmp_path / "missing"])
    reader.check([tmp_path / "missing"], missing_ok=True)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ConfigurationError, match="cannot read this format"):
        reader.check([tmp_path / "x.json"])


def test_pdf_and_html_readers(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "m.pdf", ["First line of the manual.", "Second line."])
    assert read_pdf_pages(pdf).text.split() == "First line of the manual. Second line.".split()
    page = tmp_path / "p.html"
    page.write_bytes(
        b'<html><head><meta charset="latin-1"><title>Caf\xe9</title><style>p{}</style></head>'
        b"<body><nav>menu</nav><p>Cr\xe8me <b>br\xfbl\xe9e</b></p><ul><li>one</li><li>two</li></ul></body></html>"
    )
    assert read_html(page) == "# Caf\u00e9\n\nCr\u00e8me br\u00fbl\u00e9e\n\none\n\ntwo\n"


@pytest.mark.parametrize(("reader", "module"), [(read_pdf_pages, "pypdfium2"), (read_html, "trafilatura")])
def test_a_missing_parsing_library_makes_the_file_unreadable_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: Callable[[Path], str], module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it raises ImportError
    with pytest.raises(UnreadableFile, match=r"pip install 'aleph-embed\[qdrant\]'"):
        reader(write_pdf(tmp_path / "m.pdf", ["text"]))
