"""The reception book (Form 03, Thông tư 04/2021/TT-TTCP) as XLSX, DOCX and CSV, and stats as text.

Pure builders: a `ReceptionBook` from `storage.reception_book` in, file bytes out. Masking
and audit happen when the book is read, so nothing here can leak a denouncer.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta

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
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from bot.i18n import Translator
from bot.reception_book import BookRow, ReceptionBook, field_text
from bot.settings import SPREADSHEET_CELL_MAX
from storage.models import RegistrationStatus
from storage.reception_book import Stats

# The ten columns of Form 03, in order.
HEADER_IDS = (
    "export.col.number",
    "export.col.date",
    "export.col.name_address",
    "export.col.id_number",
    "export.col.content",
    "export.col.classification",
    "export.col.prior_agency",
    "export.col.route",
    "export.col.follow_up",
    "export.col.notes",
)
XLSX_WIDTHS = (6, 12, 28, 15, 50, 24, 22, 26, 24, 26)  # characters
DOCX_WIDTHS_CM = (1.1, 1.9, 3.4, 2.3, 5.3, 2.6, 2.2, 2.5, 2.3, 2.6)  # fills A4 landscape inside margins
FONT = "Times New Roman"  # has every Vietnamese letter, and is what official documents use
DATE_FORMAT = "%d/%m/%Y"
FILENAME_STEM = "so-tiep-cong-dan"
CSV_TYPE = "text/csv"

Cell = str | int | date
# Form 03 is an official document of a Vietnamese office: Vietnamese whatever the language
# of the chat of the admin who asks for it.
DOCUMENT_LOCALE = "vi"
# What XML 1.0 refuses (XLSX and DOCX are XML): C0 controls but tab and line breaks, lone
# surrogates, U+FFFE and U+FFFF. Wider than openpyxl's ILLEGAL_CHARACTERS_RE, which python-docx
# (lxml) would still refuse a surrogate or U+FFFF past.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- shared -------------------------------------------------------------------------------


def document_translator(t: Translator) -> Translator:
    """The translator documents are written with: Vietnamese, in the chat's time zone."""
    return t if t.locale == DOCUMENT_LOCALE else Translator(DOCUMENT_LOCALE, t.tz)


def writable(value: str) -> str:
    """`value` as a document can hold it. Input is cleaned when it arrives (storage.text), but a
    writer stands on its own: one odd character in one cell never takes down the whole file."""
    return NOT_XML.sub("", value)


def headers(t: Translator) -> list[str]:
    return [t(message_id) for message_id in HEADER_IDS]


def cells(row: BookRow, t: Translator) -> list[Cell]:
    """A row's ten Form 03 cells; the date stays a date so a spreadsheet can sort it."""
    notes = [t("export.code", code=row.code)] if row.code else []
    if row.status == RegistrationStatus.WAITLISTED:
        notes.append(t("registration.status.waitlisted"))
    if row.notes:
        notes.append(row.notes)
    return [
        row.number,
        row.date.astimezone(t.tz).date(),
        row.name_and_address,
        row.id_number,
        row.content,
        f"{row.classification}\n{t('export.people', count=row.people)}",
        row.prior_agency,
        row.handling_route,
        row.follow_up,
        "\n".join(notes),
    ]


def text(value: Cell) -> str:
    return value.strftime(DATE_FORMAT) if isinstance(value, date) else writable(str(value))


def info_lines(book: ReceptionBook, t: Translator) -> list[str]:
    """Session title, time and host, under the title of the book."""
    lines = [t("export.session", title=book.session_title), t("export.when", when=t.datetime(book.starts_at))]
    if book.host:
        lines.append(t("export.host", host=book.host))
    return lines


def export_filename(book: ReceptionBook, ext: str) -> str:
    """`so-tiep-cong-dan-2026-12-07.xlsx`: ASCII, so every messenger and mail client keeps it."""
    if not (ext.isascii() and ext.isalnum()):
        raise ValueError(f"odd file extension {ext!r}")
    return f"{FILENAME_STEM}-{book.starts_at:%Y-%m-%d}.{ext}"


# --- CSV ----------------------------------------------------------------------------------


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: str) -> str:
    """Citizens write the summaries: a leading "=" must not become a spreadsheet formula (OWASP)."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def to_csv(book: ReceptionBook, t: Translator) -> bytes:
    """UTF-8 with a BOM: without it Excel reads the Vietnamese as mojibake."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([t("export.col.endpoint"), *headers(t)])
    for endpoint in book.endpoints:
        for row in endpoint.rows:
            name = writable(endpoint.endpoint_name)
            writer.writerow([inert(name), *(inert(text(value)) for value in cells(row, t))])
    return buffer.getvalue().encode("utf-8-sig")


# --- XLSX ---------------------------------------------------------------------------------

SHEET_TITLE_MAX = 31
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="D9D9D9")
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
WRAP_CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")


def sheet_titles(names: Sequence[str]) -> list[str]:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique ignoring case."""
    titles: list[str] = []
    taken: set[str] = set()
    for name in names:
        base = SHEET_FORBIDDEN.sub(" ", writable(name)).strip(" '") or "Sheet"
        title, count = base[:SHEET_TITLE_MAX], 1
        while title.casefold() in taken:
            count += 1
            suffix = f" ({count})"
            title = base[: SHEET_TITLE_MAX - len(suffix)].rstrip() + suffix
        taken.add(title.casefold())
        titles.append(title)
    return titles


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


def to_xlsx(book: ReceptionBook, t: Translator) -> bytes:
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


# --- DOCX ---------------------------------------------------------------------------------


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


def to_docx(book: ReceptionBook, t: Translator) -> bytes:
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


# --- stats --------------------------------------------------------------------------------


def _local_day(moment: datetime, t: Translator) -> str:
    return moment.astimezone(t.tz).strftime(DATE_FORMAT)


def stats_table(stats: Stats, t: Translator) -> str:
    """Plain lines ("Phường Tân Bình: 12"): a chat may not show monospace."""
    last_day = stats.until - timedelta(microseconds=1)  # `until` itself is not counted
    lines = [
        t("stats.title"),
        t("stats.period", since=_local_day(stats.since, t), until=_local_day(last_day, t)),
        t("stats.total", count=stats.total),
    ]
    if not stats.total:
        return "\n".join([*lines, t("stats.empty")])
    sections = (
        ("stats.by_endpoint", [(name, count) for name, count in stats.by_endpoint]),
        ("stats.by_case_type", [(t(f"case_type.{kind.value}"), count) for kind, count in stats.by_case_type]),
        ("stats.by_field", [(field_text(t, code), count) for code, count in stats.by_field]),
    )
    for heading, counts in sections:
        lines += ["", t(heading), *(f"{label}: {count}" for label, count in counts)]
    return "\n".join(lines)
