"""Form 03's rows as cells, the same in every file format (bot/exports.py and its XLSX and
DOCX writers), and what an XML document or a spreadsheet can hold."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from bot.i18n import Translator
from bot.reception_book import BookRow, ReceptionBook
from storage.models import SignUpStatus

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
FONT = "Times New Roman"  # has every Vietnamese letter, and is what official documents use
DATE_FORMAT = "%d/%m/%Y"

Cell = str | int | date
# What XML 1.0 refuses (XLSX and DOCX are XML): C0 controls but tab and line breaks, lone
# surrogates, U+FFFE and U+FFFF. Wider than openpyxl's ILLEGAL_CHARACTERS_RE, which python-docx
# (lxml) would still refuse a surrogate or U+FFFF past.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def writable(value: str) -> str:
    """`value` as a document can hold it. Input is cleaned when it arrives (storage.text), but a
    writer stands on its own: one odd character in one cell never takes down the whole file."""
    return NOT_XML.sub("", value)


def headers(t: Translator) -> list[str]:
    return [t(message_id) for message_id in HEADER_IDS]


def cells(row: BookRow, t: Translator) -> list[Cell]:
    """A row's ten Form 03 cells; the date stays a date so a spreadsheet can sort it."""
    notes = [t("export.code", code=row.code)] if row.code else []
    if row.status == SignUpStatus.WAITLISTED:
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


SHEET_TITLE_MAX = 31
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


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
