"""How the generated files of this folder were made (see SOURCE.md); not run by the tests. Needs pandoc, odfpy,
openpyxl, python-pptx, pypdf, pypdfium2 and Pillow; run from the repository root: python tests/data/office/make_corpus.py"""

import csv
import io
import re
import subprocess
from pathlib import Path

import openpyxl
import pypdf
import pypdfium2
from odf.opendocument import OpenDocumentPresentation, OpenDocumentSpreadsheet
from odf.draw import Frame, Page, TextBox
from odf.style import MasterPage, PageLayout
from odf.table import Table, TableCell, TableRow
from odf.text import P
from pptx import Presentation

HERE = Path(__file__).parent / "docs"
DOCS = Path(__file__).parents[1] / "docs"
ZONEINFO = Path("/usr/share/zoneinfo")


def pandoc(source: Path, target: str, *extra: str) -> None:
    subprocess.run(["pandoc", str(source), "-o", str(HERE / target), *extra], check=True)


def tab_rows(name: str) -> list[list[str]]:
    lines = (ZONEINFO / name).read_text().splitlines()
    header = next(line for line in lines if line.startswith("#codes") or line.startswith("#code\t")).lstrip("#")
    rows = [row for row in csv.reader((line for line in lines if not line.startswith("#")), delimiter="\t")]
    return [header.split("\t")] + rows


pandoc(DOCS / "flask" / "config.rst", "flask-config.docx")
pandoc(DOCS / "npm" / "scripts.md", "npm-scripts.odt")
pandoc(DOCS / "flask" / "blueprints.rst", "flask-blueprints.epub", "--metadata", "title=Modular Applications with Blueprints")
pandoc(DOCS / "npm" / "workspaces.md", "npm-workspaces.pptx", "-t", "pptx")

# speaker notes on the slides of the pptx: the paragraph of the same Markdown that follows each slide's heading
deck = Presentation(HERE / "npm-workspaces.pptx")
sections = re.split(r"^#+ ", (DOCS / "npm" / "workspaces.md").read_text(), flags=re.M)
for slide in deck.slides:
    title = slide.shapes.title.text if slide.shapes.title is not None else ""
    for section in sections:
        if title and section.startswith(title):
            paragraphs = [p for p in section.split("\n\n")[1:] if p.strip() and not p.startswith(("```", "*"))]
            if paragraphs:
                slide.notes_slide.notes_text_frame.text = " ".join(paragraphs[-1].split())
deck.save(HERE / "npm-workspaces.pptx")

# spreadsheets: tzdata's tables of time zones and country codes
book = openpyxl.Workbook()
zones = book.active
zones.title = "zones"
for row in tab_rows("zone1970.tab"):
    zones.append(row)
countries = book.create_sheet("countries")
for row in tab_rows("iso3166.tab"):
    countries.append(row)
book.save(HERE / "tz-zones.xlsx")

def services() -> list[list[str]]:
    """netbase's /etc/services: name, port/protocol, aliases, comment."""
    rows = [["service", "port/protocol", "aliases", "comment"]]
    for line in Path("/etc/services").read_text().splitlines():
        entry, _, comment = line.partition("#")
        if entry.split():
            name, port, *aliases = entry.split()
            rows.append([name, port, " ".join(aliases), comment.strip()])
    return rows


ods = OpenDocumentSpreadsheet()
table = Table(name="services")
for row in services():
    table_row = TableRow()
    for value in row:
        cell = TableCell(valuetype="string")
        cell.addElement(P(text=value))
        table_row.addElement(cell)
    table.addElement(table_row)
ods.spreadsheet.addElement(table)
ods.save(str(HERE / "netbase-services.ods"))

# a presentation: one slide per section of a real page (title, then its first paragraph)
odp = OpenDocumentPresentation()
layout = PageLayout(name="layout")
odp.automaticstyles.addElement(layout)
master = MasterPage(name="master", pagelayoutname=layout)
odp.masterstyles.addElement(master)
for section in re.split(r"^#{3,4} ", (DOCS / "npm" / "folders.md").read_text(), flags=re.M)[1:]:
    title, _, body = section.partition("\n")
    paragraph = next((p for p in body.split("\n\n") if p.strip() and not p.startswith(("```", "*", "#"))), "")
    page = Page(masterpagename=master)
    for text, y, kind in ((title.strip(), "1cm", "title"), (" ".join(paragraph.split()), "4cm", "outline")):
        frame = Frame(width="24cm", height="3cm", x="1cm", y=y)
        frame.setAttrNS("urn:oasis:names:tc:opendocument:xmlns:presentation:1.0", "class", kind)
        box = TextBox()
        box.addElement(P(text=text))
        frame.addElement(box)
        page.addElement(frame)
    odp.presentation.addElement(page)
odp.save(str(HERE / "npm-folders.odp"))

# bad files: a truncated DOCX, an encrypted PDF, a scanned PDF (pages as images, no text layer)
data = (HERE / "flask-config.docx").read_bytes()
(HERE.parent / "bad" / "truncated.docx").write_bytes(data[: len(data) // 2])
source = pypdf.PdfReader(HERE / "libtasn1.pdf")
writer = pypdf.PdfWriter()
for page in source.pages[8:10]:
    writer.add_page(page)
writer.encrypt(user_password="secret", owner_password="owner")
with open(HERE.parent / "bad" / "encrypted.pdf", "wb") as stream:
    writer.write(stream)
pdf = pypdfium2.PdfDocument(HERE / "libtasn1.pdf")
images = [pdf[i].render(scale=1).to_pil().convert("L") for i in (4, 5)]
images[0].save(HERE.parent / "bad" / "scanned.pdf", save_all=True, append_images=images[1:])
