"""The reception book as an XLSX workbook (openpyxl): imported by `bot.exports.to_xlsx` only."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from bot.export_cells import FONT, HEADER_IDS, cells, headers, info_lines, sheet_titles, writable
from bot.i18n import Translator
from bot.reception_book import BookRow, ReceptionBook
from bot.settings import SPREADSHEET_CELL_MAX

XLSX_WIDTHS = (6, 12, 28, 15, 50, 24, 22, 26, 24, 26)  # characters
THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
WRAP_CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")


def _merged_line(sheet: Worksheet, row: int, first: int, last: int, value: str, font: Font) -> None:
    sheet.merge_cells(start_row=row, start_column=first, end_row=row, end_column=last)
    cell = sheet.cell(row=row, column=first, value=writable(value))
    cell.font = font
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _xlsx_heading(sheet: Worksheet, book: ReceptionBook, endpoint_name: str | None, t: Translator) -> int:
    """The administrative heading; returns the row of the column headers."""
    last = len(HEADER_IDS)
    plain, bold = Font(name=FONT, size=12), Font(name=FONT, size=12, bold=True)
    _merged_line(sheet, 1, 1, 4, t("export.office.parent"), plain)
    _merged_line(sheet, 2, 1, 4, t("export.office.name"), bold)
    _merged_line(sheet, 1, 6, last, t("export.nation"), bold)
    _merged_line(sheet, 2, 6, last, t("export.motto"), bold)
    _merged_line(sheet, 3, 6, last, t("export.form"), Font(name=FONT, size=11, italic=True))
    _merged_line(sheet, 5, 1, last, t("export.title"), Font(name=FONT, size=14, bold=True))
    lines = info_lines(book, t)
    if endpoint_name is not None:
        lines.append(t("export.endpoint", endpoint=endpoint_name))
    for offset, line in enumerate(lines):
        _merged_line(sheet, 6 + offset, 1, last, line, plain)
    return 6 + len(lines) + 1


def _xlsx_table(sheet: Worksheet, header_row: int, rows: list[BookRow], t: Translator) -> None:
    for column, (title, width) in enumerate(zip(headers(t), XLSX_WIDTHS, strict=True), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
        cell = sheet.cell(row=header_row, column=column, value=title)
        cell.font = Font(name=FONT, size=11, bold=True)
        cell.alignment, cell.border, cell.fill = WRAP_CENTER, BORDER, HEADER_FILL
    body = Font(name=FONT, size=11)
    for index, row in enumerate(rows, start=header_row + 1):
        for column, value in enumerate(cells(row, t), start=1):
            if isinstance(value, str):  # Excel holds at most so much in a cell
                value = writable(value)[:SPREADSHEET_CELL_MAX]
            cell = sheet.cell(row=index, column=column, value=value)
            cell.font, cell.border, cell.alignment = body, BORDER, WRAP_TOP
            if isinstance(value, str):
                cell.data_type = "s"  # openpyxl would store "=..." as a formula
            elif isinstance(value, date):
                cell.number_format = "DD/MM/YYYY"
    # The header stays in view while scrolling and is printed on every page.
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.print_title_rows = f"{header_row}:{header_row}"


def _xlsx_print_setup(sheet: Worksheet) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def workbook_bytes(book: ReceptionBook, t: Translator) -> bytes:
    """One sheet per endpoint; a single sheet saying so when nobody registered."""
    workbook = Workbook()
    for default in workbook.worksheets:  # a new workbook has one empty sheet
        workbook.remove(default)
    if not book.endpoints:
        [title] = sheet_titles([t("export.title")])
        sheet = workbook.create_sheet(title)
        header_row = _xlsx_heading(sheet, book, None, t)
        _xlsx_table(sheet, header_row, [], t)
        _merged_line(sheet, header_row + 1, 1, len(HEADER_IDS), t("export.empty"), Font(name=FONT, size=11))
        _xlsx_print_setup(sheet)
    titles = sheet_titles([endpoint.endpoint_name for endpoint in book.endpoints])
    for title, endpoint in zip(titles, book.endpoints, strict=True):
        sheet = workbook.create_sheet(title)
        header_row = _xlsx_heading(sheet, book, endpoint.endpoint_name, t)
        _xlsx_table(sheet, header_row, endpoint.rows, t)
        _xlsx_print_setup(sheet)
    workbook.properties.title = t("export.title")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
