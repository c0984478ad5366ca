"""The compiled petitions report as a Word document and an XLSX workbook: imported by
`bot.petition_report.to_docx` / `to_xlsx` only (python-docx and openpyxl are heavy).

The heading, fonts and cell safety are those of Form 03 (bot/exports_docx.py,
bot/exports_xlsx.py, bot/export_cells.py).
"""

from __future__ import annotations

import io

from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.export_cells import FONT, sheet_titles, writable
from bot.exports_docx import _docx_document, _heading_cell, _repeat_as_header, _set_widths, _write
from bot.exports_xlsx import BORDER, HEADER_FILL, WRAP_CENTER, WRAP_TOP, _merged_line, _xlsx_print_setup
from bot.i18n import Translator
from bot.petition_report import PetitionReport, ReportRow
from bot.settings import SPREADSHEET_CELL_MAX

ATTENDANCE_COLUMNS = (
    "report.attendance.col.number",
    "report.attendance.col.endpoint",
    "report.attendance.col.when",
    "report.attendance.col.capacity",
    "report.attendance.col.signed_up",
    "report.attendance.col.attending",
    "report.attendance.col.waitlisted",
    "report.attendance.col.petitions",
)
ATTENDANCE_DOCX_CM = (1.3, 6.0, 4.4, 2.0, 2.6, 3.0, 2.6, 3.0)
ATTENDANCE_XLSX = (7, 34, 24, 10, 14, 16, 14, 16)
DOCX_COLUMNS = (
    "report.col.number",
    "report.col.content",
    "report.col.voter",
    "report.col.endpoints",
    "report.col.voters",
    "report.col.agency",
    "report.col.answer",
    "report.col.notes",
)
DOCX_CM = (1.2, 7.2, 3.4, 3.2, 1.6, 3.0, 3.4, 3.0)  # fills A4 landscape inside the margins
XLSX_COLUMNS = (
    "report.col.number",
    "report.col.level",
    "report.col.field",
    "report.col.content",
    "report.col.voter",
    "report.col.endpoints",
    "report.col.voters",
    "report.col.form",
    "report.col.agency",
    "report.col.answer",
    "report.col.notes",
)
XLSX_WIDTHS = (7, 22, 20, 50, 24, 24, 9, 22, 24, 36, 26)


def _docx_cells(row: ReportRow) -> list[str]:
    return [
        str(row.number),
        row.content,
        row.voter,
        row.endpoints,
        str(row.voters),
        row.agency,
        row.answer,
        row.notes,
    ]


def _form(row: ReportRow, t: Translator) -> str:
    return t("report.form.written") if row.written else t("report.form.meeting")


def _xlsx_cells(row: ReportRow, t: Translator) -> list[str | int]:
    return [
        row.number,
        row.level,
        row.field,
        row.content,
        row.voter,
        row.endpoints,
        row.voters,
        _form(row, t),
        row.agency,
        row.answer,
        row.notes,
    ]


def _attendance_cells(report: PetitionReport, t: Translator) -> list[list[str | int]]:
    rows: list[list[str | int]] = [
        [
            number,
            row.name,
            t.datetime(row.starts_at),
            row.capacity,
            row.signed_up,
            row.attending,
            row.waitlisted,
            row.petitions,
        ]
        for number, row in enumerate(report.attendance, start=1)
    ]
    totals = [sum(int(row[column]) for row in rows) for column in range(3, 8)]
    rows.append(["", t("report.attendance.total"), "", *totals])
    return rows


# --- DOCX ---------------------------------------------------------------------------------


def _paragraph(document: DocxDocument, value: str, *, bold: bool = False, italic: bool = False) -> None:
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.space_before = Pt(6)
    run = paragraph.add_run(writable(value))
    run.bold, run.italic = bold or None, italic or None


def _table(
    document: DocxDocument, titles: list[str], rows: list[list[str]], widths: tuple[float, ...]
) -> None:
    table = document.add_table(rows=1, cols=len(titles))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for cell, title in zip(table.rows[0].cells, titles, strict=True):
        _write(cell, title, bold=True, center=True)
    _repeat_as_header(table)
    for values in rows:
        for column, (cell, value) in enumerate(zip(table.add_row().cells, values, strict=True)):
            _write(cell, value, center=column == 0)
    _set_widths(table, widths)


def document_bytes(report: PetitionReport, t: Translator) -> bytes:
    """A4 landscape: the heading, the title, the organisation of the round (attendance per
    endpoint), then the petitions by level and field."""
    document = _docx_document(t)
    document.core_properties.title = t("report.title")
    heading = document.add_table(rows=1, cols=2)
    heading.autofit = False
    _set_widths(heading, (10, 16.2))
    left, right = heading.rows[0].cells
    _heading_cell(left, [(t("export.office.parent"), False), (t("export.office.name"), True)])
    _heading_cell(right, [(t("export.nation"), True), (t("export.motto"), True)])
    dated = document.add_paragraph()
    dated.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    dated.add_run(writable(report.dated)).italic = True
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(t("report.title"))
    run.bold, run.font.size = True, Pt(14)
    for line in report.info:
        document.add_paragraph(writable(line)).alignment = WD_ALIGN_PARAGRAPH.CENTER

    _paragraph(document, t("report.section.attendance"), bold=True)
    document.add_paragraph(writable(report.summary))
    attendance = [[str(value) for value in row] for row in _attendance_cells(report, t)]
    _table(document, [t(c) for c in ATTENDANCE_COLUMNS], attendance, ATTENDANCE_DOCX_CM)

    _paragraph(document, t("report.section.petitions"), bold=True)
    if not report.levels:
        document.add_paragraph(t("report.empty"))
    for level in report.levels:
        _paragraph(document, level.heading, bold=True)
        for field in level.fields:
            _paragraph(document, field.heading, bold=True, italic=True)
            _table(document, [t(c) for c in DOCX_COLUMNS], [_docx_cells(row) for row in field.rows], DOCX_CM)
    if report.unclassified:
        _paragraph(document, t("report.unclassified", count=report.unclassified), italic=True)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- XLSX ---------------------------------------------------------------------------------


def _cell(sheet: Worksheet, row: int, column: int, value: str | int, font: Font) -> None:
    if isinstance(value, str):  # Excel holds at most so much in a cell
        value = writable(value)[:SPREADSHEET_CELL_MAX]
    cell = sheet.cell(row=row, column=column, value=value)
    cell.font, cell.border, cell.alignment = font, BORDER, WRAP_TOP
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would store "=..." as a formula


def _heading(sheet: Worksheet, report: PetitionReport, last: int, t: Translator) -> int:
    """The administrative heading; returns the next free row."""
    plain, bold = Font(name=FONT, size=12), Font(name=FONT, size=12, bold=True)
    middle = max(2, last // 2)
    _merged_line(sheet, 1, 1, middle - 1, t("export.office.parent"), plain)
    _merged_line(sheet, 2, 1, middle - 1, t("export.office.name"), bold)
    _merged_line(sheet, 1, middle, last, t("export.nation"), bold)
    _merged_line(sheet, 2, middle, last, t("export.motto"), bold)
    _merged_line(sheet, 3, middle, last, report.dated, Font(name=FONT, size=11, italic=True))
    _merged_line(sheet, 5, 1, last, t("report.title"), Font(name=FONT, size=14, bold=True))
    for offset, line in enumerate(report.info):
        _merged_line(sheet, 6 + offset, 1, last, line, plain)
    return 6 + len(report.info) + 1


def _header_row(sheet: Worksheet, row: int, titles: list[str], widths: tuple[int, ...]) -> None:
    for column, (title, width) in enumerate(zip(titles, widths, strict=True), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
        cell = sheet.cell(row=row, column=column, value=title)
        cell.font = Font(name=FONT, size=11, bold=True)
        cell.alignment, cell.border, cell.fill = WRAP_CENTER, BORDER, HEADER_FILL
    # The header stays in view while scrolling and is printed on every page.
    sheet.freeze_panes = f"A{row + 1}"
    sheet.print_title_rows = f"{row}:{row}"


def _group_line(sheet: Worksheet, row: int, last: int, value: str, font: Font) -> None:
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=last)
    cell = sheet.cell(row=row, column=1, value=writable(value))
    cell.font, cell.alignment = font, WRAP_TOP


def workbook_bytes(report: PetitionReport, t: Translator) -> bytes:
    """Two sheets: the petitions (group lines by level and field, then one row each) and
    the attendance per endpoint."""
    workbook = Workbook()
    for default in workbook.worksheets:  # a new workbook has one empty sheet
        workbook.remove(default)
    petitions_title, attendance_title = sheet_titles(
        [t("report.sheet.petitions"), t("report.sheet.attendance")]
    )
    body, bold = Font(name=FONT, size=11), Font(name=FONT, size=11, bold=True)

    sheet = workbook.create_sheet(petitions_title)
    last = len(XLSX_COLUMNS)
    header = _heading(sheet, report, last, t)
    _header_row(sheet, header, [t(c) for c in XLSX_COLUMNS], XLSX_WIDTHS)
    row = header + 1
    if not report.levels:
        _group_line(sheet, row, last, t("report.empty"), body)
    for level in report.levels:
        _group_line(sheet, row, last, level.heading, bold)
        row += 1
        for field in level.fields:
            _group_line(sheet, row, last, field.heading, Font(name=FONT, size=11, bold=True, italic=True))
            row += 1
            for entry in field.rows:
                for column, value in enumerate(_xlsx_cells(entry, t), start=1):
                    _cell(sheet, row, column, value, body)
                row += 1
    if report.unclassified:
        _group_line(sheet, row + 1, last, t("report.unclassified", count=report.unclassified), body)
    _xlsx_print_setup(sheet)

    sheet = workbook.create_sheet(attendance_title)
    last = len(ATTENDANCE_COLUMNS)
    header = _heading(sheet, report, last, t)
    _merged_line(sheet, header, 1, last, report.summary, body)
    header += 1
    _header_row(sheet, header, [t(c) for c in ATTENDANCE_COLUMNS], ATTENDANCE_XLSX)
    for offset, values in enumerate(_attendance_cells(report, t), start=1):
        for column, value in enumerate(values, start=1):
            _cell(sheet, header + offset, column, value, body)
    _xlsx_print_setup(sheet)

    workbook.properties.title = t("report.title")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
