"""The reception book (Form 03, Thông tư 04/2021/TT-TTCP) as XLSX, DOCX and CSV, and stats as text.

Pure builders: a `ReceptionBook` from `storage.reception_book` in, file bytes out. Masking
and audit happen when the book is read, so nothing here can leak a denouncer.

The XLSX and DOCX writers (bot/exports_xlsx.py, bot/exports_docx.py) are imported when a
file is made: openpyxl and python-docx take some 13 MB, which a process that serves chats
and never exports (most of them) does not carry.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from bot.export_cells import DATE_FORMAT, cells, headers, text, writable
from bot.i18n import Translator
from bot.reception_book import ReceptionBook, field_text
from storage.reception_book import Stats

FILENAME_STEM = "so-tiep-cong-dan"
CSV_TYPE = "text/csv"

# Form 03 is an official document of a Vietnamese office: Vietnamese whatever the language
# of the chat of the admin who asks for it.
DOCUMENT_LOCALE = "vi"


# --- shared -------------------------------------------------------------------------------


def document_translator(t: Translator) -> Translator:
    """The translator documents are written with: Vietnamese, in the chat's time zone."""
    return t.in_locale(DOCUMENT_LOCALE)


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


# --- XLSX and DOCX --------------------------------------------------------------------------


def to_xlsx(book: ReceptionBook, t: Translator) -> bytes:
    """One sheet per endpoint; a single sheet saying so when nobody registered."""
    from bot.exports_xlsx import workbook_bytes

    return workbook_bytes(book, t)


def to_docx(book: ReceptionBook, t: Translator) -> bytes:
    """A4 landscape: the heading, the title, then per endpoint a sub-heading and its table."""
    from bot.exports_docx import document_bytes

    return document_bytes(book, t)


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
