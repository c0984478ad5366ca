"""A hearing's citizens' questions by topic, as a Word document: the office heading of the
other exports (bot/exports_docx.py), the title, then per topic a table (No., code, question,
sender, phone, decision). python-docx is imported when a file is made."""

from __future__ import annotations

import io

from bot.i18n import Translator
from storage.hearing_questions import DECLINED, SELECTED, Hearing, Question

COLUMNS = (
    "qdoc.col.number",
    "qdoc.col.code",
    "qdoc.col.question",
    "qdoc.col.sender",
    "qdoc.col.phone",
    "qdoc.col.decision",
)
WIDTHS_CM = (1.2, 3.6, 11.0, 4.0, 3.0, 3.6)  # fills A4 landscape inside the margins


def questions_filename(hearing: Hearing) -> str:
    """`cau-hoi-giai-trinh-12-2026-12-07.docx`: ASCII, as the other exports."""
    return f"cau-hoi-giai-trinh-{hearing.id}-{hearing.starts_at:%Y-%m-%d}.docx"


def decision(question: Question, t: Translator) -> str:
    if question.route == SELECTED:
        return t("qdoc.selected", place=question.position or 0)
    if question.route == DECLINED:
        return t("qdoc.declined")
    return t("qdoc.waiting")


def questions_docx(hearing: Hearing, questions: list[Question], t: Translator, *, with_phones: bool) -> bytes:
    """A4 landscape: the office and the national motto, the title, per topic its table."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    from bot.export_cells import writable
    from bot.exports_docx import _docx_document, _heading_cell, _repeat_as_header, _set_widths, _write

    document = _docx_document(t)
    document.core_properties.title = t("qdoc.title")
    heading = document.add_table(rows=1, cols=2)
    heading.autofit = False
    _set_widths(heading, (10, 16.2))
    left, right = heading.rows[0].cells
    _heading_cell(left, [(t("export.office.parent"), False), (t("export.office.name"), True)])
    _heading_cell(right, [(t("export.nation"), True), (t("export.motto"), True)])
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(t("qdoc.title"))
    run.bold, run.font.size = True, Pt(14)
    for line in (
        t("qdoc.hearing", title=hearing.title, when=t.datetime(hearing.starts_at)),
        t("qdoc.deadline", deadline=t.datetime(hearing.questions_deadline), count=len(questions)),
    ):
        document.add_paragraph(writable(line)).alignment = WD_ALIGN_PARAGRAPH.CENTER
    for number, topic in enumerate(hearing.topics, 1):
        on_topic = [q for q in questions if q.topic_id == topic.id]
        sub = document.add_paragraph()
        sub.add_run(
            writable(t("qdoc.topic", number=number, title=topic.title, count=len(on_topic)))
        ).bold = True
        if not on_topic:
            document.add_paragraph(t("qdoc.topic_empty"))
            continue
        table = document.add_table(rows=1, cols=len(COLUMNS))
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        for cell, column in zip(table.rows[0].cells, COLUMNS, strict=True):
            _write(cell, t(column), bold=True, center=True)
        _repeat_as_header(table)
        for number_in_topic, question in enumerate(on_topic, 1):
            phone = question.phone or "" if with_phones else ""
            values = (
                str(number_in_topic),
                question.code,
                question.summary,
                question.full_name or "",
                phone,
                decision(question, t),
            )
            for place, (cell, value) in enumerate(zip(table.add_row().cells, values, strict=True)):
                _write(cell, value, center=place < 2)
        _set_widths(table, WIDTHS_CM)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
