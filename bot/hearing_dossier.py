"""A hearing's dossier (hồ sơ phiên giải trình) as a Word document: the office heading, the
topics, the agencies' reports (filed or not, when, the file) and the speakers in order.

The heading, fonts and cell safety are those of Form 03 (bot/exports_docx.py, bot/export_cells.py).
"""

from __future__ import annotations

import io

from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt

from bot.export_cells import writable
from bot.exports_docx import _docx_document, _heading_cell, _set_widths
from bot.i18n import Translator
from bot.petition_report_files import _paragraph, _table
from storage.hearing_dossier import HearingDossier

AGENCY_COLUMNS = (
    "dossier.col.number",
    "dossier.col.agency",
    "dossier.col.topics",
    "dossier.col.report",
    "dossier.col.filed_at",
    "dossier.col.file",
)
AGENCY_CM = (1.2, 6.0, 6.2, 3.0, 4.4, 5.0)  # fills A4 landscape inside the margins
SPEAKER_COLUMNS = (
    "dossier.col.number",
    "dossier.col.delegate",
    "dossier.col.addressed",
    "dossier.col.topic",
    "dossier.col.question",
)
SPEAKER_CM = (1.2, 4.6, 5.0, 4.8, 10.2)


def dossier_filename(dossier: HearingDossier) -> str:
    """`ho-so-phien-giai-trinh-12-2026-12-10.docx`: ASCII, so every messenger keeps it."""
    return f"ho-so-phien-giai-trinh-{dossier.event_id}-{dossier.starts_at:%Y-%m-%d}.docx"


def _agency_rows(dossier: HearingDossier, t: Translator) -> list[list[str]]:
    rows = []
    for number, agency in enumerate(dossier.agencies, start=1):
        report = agency.report
        if report is None:
            state, when, file = t("dossier.report.missing"), "", ""
        else:
            state, file = t("dossier.report.filed"), report.file_name
            when = t.datetime(report.filed_at)
            if report.replaced_at is not None:
                when += "\n" + t("dossier.report.replaced", when=t.datetime(report.replaced_at))
        rows.append([str(number), agency.name, "\n".join(agency.topics), state, when, file])
    return rows


def to_docx(dossier: HearingDossier, t: Translator) -> bytes:
    """A4 landscape: the heading, the title and the hearing, I. the topics, II. the agencies'
    reports, III. the speakers in order."""
    document = _docx_document(t)
    document.core_properties.title = t("dossier.title")
    heading = document.add_table(rows=1, cols=2)
    heading.autofit = False
    _set_widths(heading, (10, 16.2))
    left, right = heading.rows[0].cells
    _heading_cell(left, [(t("export.office.parent"), False), (t("export.office.name"), True)])
    _heading_cell(right, [(t("export.nation"), True), (t("export.motto"), True)])
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(t("dossier.title"))
    run.bold, run.font.size = True, Pt(14)
    info = [
        t("dossier.info.hearing", title=dossier.title, id=dossier.event_id),
        t("dossier.info.when", when=t.datetime(dossier.starts_at)),
        t("dossier.info.deadline", deadline=t.datetime(dossier.report_deadline)),
    ]
    if dossier.host:
        info.insert(1, t("dossier.info.host", host=dossier.host))
    if dossier.online_room:
        info.append(t("dossier.info.room", room=dossier.online_room))
    for line in info:
        document.add_paragraph(writable(line)).alignment = WD_ALIGN_PARAGRAPH.CENTER

    _paragraph(document, t("dossier.section.topics"), bold=True)
    if not dossier.topics:
        document.add_paragraph(t("dossier.none"))
    for number, topic in enumerate(dossier.topics, start=1):
        document.add_paragraph(writable(f"{number}. {topic}"))

    _paragraph(
        document,
        t("dossier.section.reports", filed=dossier.filed, total=len(dossier.agencies)),
        bold=True,
    )
    if dossier.agencies:
        _table(document, [t(c) for c in AGENCY_COLUMNS], _agency_rows(dossier, t), AGENCY_CM)
    else:
        document.add_paragraph(t("dossier.none"))

    _paragraph(document, t("dossier.section.speakers", count=len(dossier.speakers)), bold=True)
    speakers = [
        [str(s.number), s.delegate or "—", s.agency or "—", s.topic or "—", s.question]
        for s in dossier.speakers
    ]
    if speakers:
        _table(document, [t(c) for c in SPEAKER_COLUMNS], speakers, SPEAKER_CM)
    else:
        document.add_paragraph(t("dossier.none"))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
