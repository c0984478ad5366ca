"""The reception book as a Word document (python-docx): imported by `bot.exports.to_docx` only."""

from __future__ import annotations

import io
from collections.abc import Sequence

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.text.font import CT_RPr
from docx.shared import Cm, Mm, Pt
from docx.table import Table, _Cell

from bot.export_cells import FONT, HEADER_IDS, cells, headers, info_lines, text, writable
from bot.i18n import Translator
from bot.reception_book import BookRow, ReceptionBook

DOCX_WIDTHS_CM = (1.1, 1.9, 3.4, 2.3, 5.3, 2.6, 2.2, 2.5, 2.3, 2.6)  # fills A4 landscape inside margins


def _set_fonts(run_properties: CT_RPr, name: str) -> None:
    # All four slots: python-docx's `font.name` sets only the Latin ones, and Word picks by script.
    fonts = run_properties.get_or_add_rFonts()
    for slot in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(slot), name)


def _docx_document(t: Translator) -> DocxDocument:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.size = Pt(12)
    _set_fonts(normal.element.get_or_add_rPr(), FONT)
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    section.left_margin, section.right_margin = Cm(2), Cm(1.5)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    document.core_properties.title = t("export.title")
    return document


def _set_widths(table: Table, widths: Sequence[float]) -> None:
    # LibreOffice reads the grid, Word the width of each cell: set both.
    for column, width in zip(table.columns, widths, strict=True):
        column.width = Cm(width)
        for cell in column.cells:
            cell.width = Cm(width)


def _write(cell: _Cell, value: str, *, bold: bool = False, center: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    if center:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    if value:
        run = paragraph.add_run(writable(value))  # "\n" becomes a line break
        run.font.size = Pt(11)
        run.bold = bold or None


def _heading_cell(cell: _Cell, lines: list[tuple[str, bool]]) -> None:
    for index, (value, bold) in enumerate(lines):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run(writable(value)).bold = bold or None


def _docx_heading(document: DocxDocument, book: ReceptionBook, t: Translator) -> None:
    """Two columns as in official documents: the office left, the national motto right."""
    heading = document.add_table(rows=1, cols=2)
    heading.autofit = False
    _set_widths(heading, (10, 16.2))
    left, right = heading.rows[0].cells
    _heading_cell(left, [(t("export.office.parent"), False), (t("export.office.name"), True)])
    _heading_cell(right, [(t("export.nation"), True), (t("export.motto"), True)])
    form = document.add_paragraph()
    form.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    form.add_run(t("export.form")).italic = True
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(t("export.title"))
    run.bold, run.font.size = True, Pt(14)
    for line in info_lines(book, t):
        document.add_paragraph(writable(line)).alignment = WD_ALIGN_PARAGRAPH.CENTER


def _repeat_as_header(table: Table) -> None:
    # Word repeats a row marked tblHeader at the top of every page the table runs onto.
    row_properties = table.rows[0]._tr.get_or_add_trPr()
    marker = OxmlElement("w:tblHeader")
    marker.set(qn("w:val"), "true")
    row_properties.append(marker)


def _docx_table(document: DocxDocument, rows: list[BookRow], t: Translator) -> None:
    table = document.add_table(rows=1, cols=len(HEADER_IDS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for cell, title in zip(table.rows[0].cells, headers(t), strict=True):
        _write(cell, title, bold=True, center=True)
    _repeat_as_header(table)
    for row in rows:
        values = cells(row, t)
        for column, (cell, value) in enumerate(zip(table.add_row().cells, values, strict=True)):
            _write(cell, text(value), center=column < 2)
    _set_widths(table, DOCX_WIDTHS_CM)


def document_bytes(book: ReceptionBook, t: Translator) -> bytes:
    """A4 landscape: the heading, the title, then per endpoint a sub-heading and its table."""
    document = _docx_document(t)
    _docx_heading(document, book, t)
    if not book.endpoints:
        document.add_paragraph(t("export.empty"))
    for endpoint in book.endpoints:
        sub_heading = document.add_paragraph()
        sub_heading.paragraph_format.space_before = Pt(12)
        sub_heading.add_run(writable(t("export.endpoint", endpoint=endpoint.endpoint_name))).bold = True
        _docx_table(document, endpoint.rows, t)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
