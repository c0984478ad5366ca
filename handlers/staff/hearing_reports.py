"""/hearings: an agency's liaison (đầu mối cơ quan giải trình) sees what is asked of their agency
only (each coming hearing, its topics, the report deadline, whether the report is filed and
when) and sends the written report, a PDF or DOCX file, before the deadline; until then a
new file replaces the one filed. The liaison stays here: it is their home."""

from __future__ import annotations

import dataclasses

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Invalid, Next
from bot.dialog.types import Attachment, Reply
from handlers.staff.common import button_label
from storage import audit, hearing_reports
from storage.hearing_reports import AskedHearing, Liaison, ReportRefused
from storage.models import StaffRole

# The report's file: a PDF or a Word document (DOCX), by extension or by the type the platform says.
REPORT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
MEGABYTE = 1_000_000


@dataclasses.dataclass
class HearingsDraft(Draft):
    event_id: int = 0  # the hearing the next file is for


flow = Flow(
    "hearings",
    first="list",
    command="hearings",
    roles=frozenset({StaffRole.LIAISON}),
    needs_consent=False,
    draft=HearingsDraft,
)


async def _liaison(ctx: Ctx) -> Liaison | None:
    return await hearing_reports.liaison_of(ctx.db, ctx.actor.key)


def _report_line(ctx: Ctx, hearing: AskedHearing) -> str:
    report = hearing.report
    if report is None:
        return ctx.t("hearings.report.missing")
    if report.replaced_at is None:
        return ctx.t("hearings.report.filed", file=report.file_name, when=ctx.dt(report.filed_at))
    return ctx.t(
        "hearings.report.replaced",
        file=report.file_name,
        when=ctx.dt(report.filed_at),
        replaced=ctx.dt(report.replaced_at),
    )


def _block(ctx: Ctx, hearing: AskedHearing) -> str:
    deadline = "hearings.deadline.open" if hearing.open_at(ctx.now) else "hearings.deadline.closed"
    return ctx.t(
        "hearings.item",
        title=hearing.title,
        when=ctx.dt(hearing.starts_at),
        topics="\n".join(f"  - {topic}" for topic in hearing.topics) or "  —",
        deadline=ctx.t(deadline, deadline=ctx.dt(hearing.deadline)),
        report=_report_line(ctx, hearing),
    )


@flow.ask("list")
async def ask_list(ctx: Ctx) -> Reply:
    liaison = await _liaison(ctx)
    if liaison is None:
        return Reply(ctx.t("hearings.no_agency"))
    asked = await hearing_reports.asked_of(ctx.db, liaison.agency_id, now=ctx.now, timing=ctx.settings.timing)
    if not asked:
        return Reply(ctx.t("hearings.none", agency=liaison.agency_name))
    blocks = [_block(ctx, hearing) for hearing in asked]
    text = ctx.t("hearings.header", agency=liaison.agency_name) + "\n\n" + "\n\n".join(blocks)
    open_now = [hearing for hearing in asked if hearing.open_at(ctx.now)]
    if not open_now:
        return Reply(text)
    if not ctx.capabilities.file_uploads:
        return Reply(text + "\n\n" + ctx.t("hearings.no_uploads_here"))
    options = tuple(
        ctx.option(
            f"h:{hearing.event_id}",
            "hearings.send_button" if hearing.report is None else "hearings.replace_button",
            title=button_label(hearing.title, 40),
        )
        for hearing in open_now
    )
    return Reply(text + "\n\n" + ctx.t("hearings.how_to_send"), options)


@flow.handle("list", files=True)
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    liaison = await _liaison(ctx)
    if liaison is None:
        return "list"
    draft = HearingsDraft.of(ctx)
    if answer.choice and answer.choice.startswith("h:") and answer.choice[2:].isdecimal():
        draft.event_id = int(answer.choice[2:])
        return "upload"
    if not answer.attachments:
        return "list"  # anything else: the list again, as it reads now
    asked = await hearing_reports.asked_of(ctx.db, liaison.agency_id, now=ctx.now, timing=ctx.settings.timing)
    open_now = [hearing for hearing in asked if hearing.open_at(ctx.now)]
    if len(open_now) > 1:  # a file straight on the list: only when it can be for one hearing only
        raise Invalid("hearings.choose_first")
    if not open_now:
        passed = [hearing.deadline for hearing in asked if hearing.deadline <= ctx.now]
        if passed:  # too late: say until when it was
            raise Invalid("hearings.closed", deadline=ctx.dt(max(passed)))
        raise Invalid("hearings.nothing_open")
    await _file(ctx, liaison, open_now[0].event_id, answer)
    return "list"


@flow.ask("upload")
async def ask_upload(ctx: Ctx) -> Reply | Next:
    liaison = await _liaison(ctx)
    event_id = HearingsDraft.of(ctx).event_id
    asked = (
        []
        if liaison is None
        else await hearing_reports.asked_of(
            ctx.db, liaison.agency_id, now=ctx.now, timing=ctx.settings.timing
        )
    )
    hearing = next((h for h in asked if h.event_id == event_id), None)
    if hearing is None:
        return "list"
    if not hearing.open_at(ctx.now):
        ctx.say("hearings.closed", deadline=ctx.dt(hearing.deadline))
        return "list"
    text = ctx.t(
        "hearings.upload.ask",
        title=hearing.title,
        deadline=ctx.dt(hearing.deadline),
        max_mb=_max_mb(ctx),
    )
    if hearing.report is not None:
        text += "\n" + ctx.t("hearings.upload.replaces", file=hearing.report.file_name)
    return Reply(text, (ctx.option("list", "hearings.upload.back"),))


@flow.handle("upload", files=True)
async def on_upload(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "list":
        return "list"
    liaison = await _liaison(ctx)
    if liaison is None:
        return "list"
    if not answer.attachments:
        raise Invalid("hearings.upload.hint", max_mb=_max_mb(ctx))
    await _file(ctx, liaison, HearingsDraft.of(ctx).event_id, answer)
    return "list"


def _max_mb(ctx: Ctx) -> str:
    return f"{ctx.settings.report_max_mb:g}"


def _check(ctx: Ctx, attachment: Attachment) -> None:
    """A PDF or DOCX document, not larger than REPORT_MAX_MB."""
    name = attachment.name or attachment.kind
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    typed = REPORT_TYPES.get(extension) == attachment.mime_type or (
        not extension and attachment.mime_type in REPORT_TYPES.values()
    )
    if attachment.kind != "document" or not (extension in REPORT_TYPES or typed):
        raise Invalid("hearings.upload.kind", name=name)
    if attachment.size > ctx.settings.report_max_mb * MEGABYTE:
        raise Invalid(
            "hearings.upload.too_big",
            name=name,
            size=f"{attachment.size / MEGABYTE:.1f}",
            max_mb=_max_mb(ctx),
        )


async def _file(ctx: Ctx, liaison: Liaison, event_id: int, answer: Answer) -> None:
    if len(answer.attachments) > 1:
        raise Invalid("hearings.upload.one_file")
    [attachment] = answer.attachments
    _check(ctx, attachment)
    file = {
        "kind": attachment.kind,
        "file_id": attachment.file_id,
        "name": attachment.name,
        "mime_type": attachment.mime_type,
        "size": attachment.size,
    }
    try:
        report, replaced = await hearing_reports.file_report(
            ctx.db, event_id=event_id, liaison=liaison, file=file, now=ctx.now, timing=ctx.settings.timing
        )
    except ReportRefused as refused:
        if refused.reason == "closed" and refused.deadline is not None:
            raise Invalid("hearings.closed", deadline=ctx.dt(refused.deadline)) from None
        raise Invalid("hearings.nothing_open") from None
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="hearing.report",
        target_type="session",
        target_id=event_id,
        agency_id=liaison.agency_id,
        file=report.file_name,
        replaced=replaced,
    )
    ctx.say(
        "hearings.upload.replaced" if replaced else "hearings.upload.filed",
        file=report.file_name,
        agency=liaison.agency_name,
        when=ctx.dt(ctx.now),
    )
