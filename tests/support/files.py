"""Files for the reader tests: a real (minimal) PDF with a text layer, and a documentation folder with bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "data" / "docs"


def write_pdf(path: Path, lines: list[str]) -> Path:
    """A one-page PDF whose text layer holds `lines` (Helvetica; ASCII text)."""
    text = "".join(f"({line.replace('(', '[').replace(')', ']')}) Tj T* " for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text}ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def docs_with_bad_files(target: Path, folders: tuple[str, ...] = ("npm",)) -> dict[str, list[str]]:
    """Copy real documentation folders into `target` and plant bad files. Returns file paths relative to `target`:
    `good` (readable), `failing` (reported failures: not UTF-8, a broken PDF), `empty` and `binary` (skipped)."""
    for folder in folders:
        shutil.copytree(DOCS / folder, target / folder)
    (target / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me, na\xefve fa\xe7ade.".encode("latin-1"))
    (target / "empty.md").write_text("")
    (target / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64))
    (target / "data.txt").write_bytes(b"looks like text\0but is not")
    (target / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a PDF body")
    (target / ".git").mkdir()
    (target / ".git" / "HEAD.md").write_text("ref: refs/heads/main")
    (target / "node_modules" / "pkg").mkdir(parents=True)
    (target / "node_modules" / "pkg" / "README.md").write_text("# a dependency's readme")
    (target / "page.HTML").write_text(
        "<html><head><title>Guide</title><script>var x = 1;</script></head><body><h1>Install</h1>"
        "<p>Run <code>pip install</code> to install the package.</p><h2>Usage</h2><p>Import it.</p></body></html>"
    )
    write_pdf(target / "manual.pdf", ["Chapter one: the ingest reads PDF files.", "Every page has a text layer."])
    good = sorted(p.relative_to(target).as_posix() for f in folders for p in (target / f).rglob("*") if p.is_file())
    return {
        "good": sorted([*good, "page.HTML", "manual.pdf"]),
        "failing": ["broken.pdf", "latin1.txt"],
        "empty": ["empty.md"],
        "binary": ["data.txt", "image.png"],
    }
