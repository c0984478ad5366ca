"""The compiled report of a voter-contact round (Báo cáo tổng hợp ý kiến, kiến nghị cử tri)
as texts in the reader's language, its file names, and the round's /stats.

`petition_report` reads the round through `storage.compilation` (which masks denouncers and
logs every revealed identity) and groups its petitions by the level that must answer
(central, province, commune, then those not classified yet), then by field. The files are made
in `bot.petition_exports`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from bot.reception_book import field_text
from storage.compilation import LEVELS, Attendance, Compilation, PetitionLine, RoundStats, compile_round
from storage.event_kinds import Timing
from storage.models import AnswerLevel, CaseType
from storage.text import fold, mask_name


@dataclass(frozen=True)
class ReportRow:
    """One petition as the report's cells (texts in the reader's language)."""

    number: int
    content: str
    voter: str  # "name\naddress", masked for a denouncer the reader may not see
    endpoints: str  # its communes, one a line, the written ones marked
    voters: int
    agency: str
    answer: str
    notes: str
    level: str
    field: str
    written: bool  # a written petition from a commune not connected
    code: str


@dataclass(frozen=True)
class FieldGroup:
    heading: str  # "1.2. Lĩnh vực Đất đai"
    rows: list[ReportRow]


@dataclass(frozen=True)
class LevelGroup:
    level: AnswerLevel | None
    heading: str  # "1. Kiến nghị thuộc thẩm quyền giải quyết của Trung ương (3 kiến nghị, 7 lượt cử tri)"
    fields: list[FieldGroup]

    @property
    def rows(self) -> list[ReportRow]:
        return [row for group in self.fields for row in group.rows]


@dataclass(frozen=True)
class PetitionReport:
    event_id: int
    title: str
    starts_at: datetime
    info: list[str]  # the round's title, time, delegates' group, under the report's title
    dated: str  # "Ngày 12 tháng 12 năm 2026"
    attendance: list[Attendance]
    levels: list[LevelGroup]
    summary: str  # one sentence with the totals
    petitions: int
    voters: int
    written: int
    unclassified: int
    masked: int


def level_text(t: Translator, level: AnswerLevel | None) -> str:
    return t(f"report.level.{level.value if level else 'none'}")


def _field_label(t: Translator, code: str) -> str:
    return field_text(t, code) if code else t("report.field.none")


def _voter(line: PetitionLine, t: Translator) -> str:
    if line.petitioner is None:
        return t("export.anonymised")
    if line.hidden:
        return f"{mask_name(line.petitioner)}\n{t('export.hidden')}"
    return "\n".join(part for part in (line.petitioner, line.address) if part)


def _row(number: int, line: PetitionLine, t: Translator) -> ReportRow:
    communes = [
        t("report.written_mark", name=source.name or t("report.no_commune"))
        if source.written
        else source.name or t("report.no_commune")
        for source in line.sources
    ]
    notes = [t("report.code", code=line.code)] if line.code else []
    if line.written:
        notes.append(t("report.written"))
    if line.merged:
        notes.append(t("report.merged", count=line.merged))
    if line.case_type == CaseType.DENUNCIATION:
        notes.append(t("report.denunciation"))
    return ReportRow(
        number=number,
        content=line.summary,
        voter=_voter(line, t),
        endpoints="\n".join(communes),
        voters=line.voters,
        agency=line.forwarded_to,
        answer=line.outcome,
        notes="\n".join(notes),
        level=level_text(t, line.level),
        field=_field_label(t, line.field),
        written=line.written,
        code=line.code,
    )


LAST_FIELDS = ("other", "")  # "Lĩnh vực khác", then the petitions not classified yet


def _field_order(codes: set[str], t: Translator) -> list[str]:
    """By name in the reader's language, "other" and the unclassified last: the same order
    on demand and in the report sent at the deadline."""
    named = sorted(codes - set(LAST_FIELDS), key=lambda code: (fold(_field_label(t, code)), code))
    return named + [code for code in LAST_FIELDS if code in codes]


def group(compiled: Compilation, t: Translator) -> list[LevelGroup]:
    """Level (central, province, commune, not classified), then field; numbered through."""
    levels: list[LevelGroup] = []
    number = 0
    for level in LEVELS:
        lines = [line for line in compiled.petitions if line.level == level]
        if not lines:
            continue
        index = len(levels) + 1
        fields = []
        for position, code in enumerate(_field_order({line.field for line in lines}, t), start=1):
            rows = []
            for line in (line for line in lines if line.field == code):
                number += 1
                rows.append(_row(number, line, t))
            heading = t("report.field.heading", number=f"{index}.{position}", field=_field_label(t, code))
            fields.append(FieldGroup(heading, rows))
        heading = t(
            "report.level.heading",
            number=index,
            level=level_text(t, level),
            count=len(lines),
            voters=sum(line.voters for line in lines),
        )
        levels.append(LevelGroup(level, heading, fields))
    return levels


def _info(compiled: Compilation, t: Translator) -> list[str]:
    info = compiled.round
    lines = [t("report.round", title=info.title)]
    first, last = info.starts_at.astimezone(t.tz), info.last_start.astimezone(t.tz)
    if first.date() == last.date():
        lines.append(t("export.when", when=t.datetime(first)))
    else:
        lines.append(t("report.when_span", first=t.datetime(first), last=t.datetime(last)))
    if info.host:
        lines.append(t("report.host", host=info.host))
    return lines


def build(compiled: Compilation, t: Translator, *, now: datetime) -> PetitionReport:
    """The report's texts from the compiled round."""
    lines = compiled.petitions
    written = sum(1 for line in lines if line.written)
    attending = sum(row.attending for row in compiled.attendance)
    local = now.astimezone(t.tz)
    return PetitionReport(
        event_id=compiled.round.id,
        title=compiled.round.title,
        starts_at=compiled.round.starts_at.astimezone(t.tz),
        info=_info(compiled, t),
        dated=t("report.dated", day=f"{local.day:02d}", month=f"{local.month:02d}", year=local.year),
        attendance=compiled.attendance,
        levels=group(compiled, t),
        summary=t(
            "report.summary",
            endpoints=len(compiled.attendance),
            attending=attending,
            petitions=len(lines),
            voters=compiled.voters,
            written=written,
        ),
        petitions=len(lines),
        voters=compiled.voters,
        written=written,
        unclassified=compiled.unclassified,
        masked=compiled.masked,
    )


async def petition_report(
    db: AsyncSession,
    event_id: int,
    *,
    timing: Timing,
    endpoint_ids: frozenset[int] | None,
    reveal_denouncers: bool,
    actor: str,
    now: datetime,
    t: Translator,
) -> PetitionReport:
    """The round's report in `t`'s language. Revealing a denouncer writes an audit row; the
    caller commits. Raises NotFound."""
    compiled = await compile_round(
        db,
        event_id,
        timing=timing,
        endpoint_ids=endpoint_ids,
        reveal_denouncers=reveal_denouncers,
        actor=actor,
        now=now,
    )
    return build(compiled, t, now=now)


def _share(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


def round_stats_table(stats: RoundStats, t: Translator) -> str:
    """/stats ID for a round, as plain lines."""
    info = stats.round
    lines = [
        t("stats.round.title", id=info.id, title=info.title),
        t("stats.round.signups"),
        *(
            t(
                "stats.round.endpoint",
                name=row.name,
                signed_up=row.signed_up,
                attending=row.attending,
                capacity=row.capacity,
                waitlisted=row.waitlisted,
            )
            for row in stats.attendance
        ),
        "",
        t("stats.round.petitions", count=stats.petitions, voters=stats.voters, written=stats.written),
    ]
    if not stats.petitions:
        return "\n".join(lines)
    lines += ["", t("stats.by_field"), *(f"{_field_label(t, code)}: {n}" for code, n in stats.by_field)]
    lines += ["", t("stats.round.by_level"), *(f"{level_text(t, level)}: {n}" for level, n in stats.by_level)]
    share = _share(stats.answered, stats.petitions)
    lines += ["", t("stats.round.answered", answered=stats.answered, total=stats.petitions, share=share)]
    return "\n".join(lines)
