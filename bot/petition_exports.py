"""The compiled petitions report as files: their names, and the DOCX and XLSX.

The writers (bot/petition_report_files.py) are imported when a file is made: python-docx and
openpyxl are heavy, as `bot.exports` says of Form 03.
"""

from __future__ import annotations

from bot.i18n import Translator
from bot.petition_report import PetitionReport

FILENAME_STEM = "bao-cao-tong-hop-kien-nghi-cu-tri"


def report_filename(report: PetitionReport, ext: str) -> str:
    """`bao-cao-tong-hop-kien-nghi-cu-tri-12-2026-12-07.docx`: ASCII, as every messenger keeps it."""
    if not (ext.isascii() and ext.isalnum()):
        raise ValueError(f"odd file extension {ext!r}")
    return f"{FILENAME_STEM}-{report.event_id}-{report.starts_at:%Y-%m-%d}.{ext}"


def to_docx(report: PetitionReport, t: Translator) -> bytes:
    from bot.petition_report_files import document_bytes

    return document_bytes(report, t)


def to_xlsx(report: PetitionReport, t: Translator) -> bytes:
    from bot.petition_report_files import workbook_bytes

    return workbook_bytes(report, t)
