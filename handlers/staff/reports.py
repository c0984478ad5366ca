"""/report ID: the compiled report of a voter-contact round (Báo cáo tổng hợp ý kiến, kiến
nghị cử tri) as Word and Excel files, and /stats ID for a round."""

from __future__ import annotations

from bot.dialog.flow import Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import DOCX_TYPE, XLSX_TYPE, Document, Reply
from bot.exports import document_translator
from bot.petition_exports import report_filename, to_docx, to_xlsx
from bot.petition_report import petition_report, round_stats_table
from handlers.staff.common import STAFF, back_home, deliverable
from handlers.staff.sessions import session_from_args, session_to_send
from storage import audit, hearing_questions, hearings
from storage.compilation import round_stats
from storage.event_kinds import policy
from storage.hearing_questions import DECLINED, SELECTED
from storage.models import EventKind, SubmissionStatus

report = Flow("report", first="send", command="report", roles=STAFF, needs_consent=False)


@report.ask("send")
async def ask_report(ctx: Ctx) -> Reply | Next:
    session = await session_to_send(ctx, "report", "petitions", "staff.report.not_round")
    if session is None:
        return Goto("staff_home", data={})
    t = document_translator(ctx.t)  # the document in Vietnamese; the chat in the staff's language
    found = await petition_report(
        ctx.db,
        session.id,
        timing=ctx.settings.timing,
        endpoint_ids=ctx.actor.endpoint_ids,
        reveal_denouncers=ctx.actor.see_denouncers,
        actor=str(ctx.actor),
        now=ctx.now,
        t=t,
    )
    # Every format the chat can carry (Zalo OA takes Word files only, up to 5 MB).
    files = [
        Document(report_filename(found, "docx"), to_docx(found, t), DOCX_TYPE),
        Document(report_filename(found, "xlsx"), to_xlsx(found, t), XLSX_TYPE),
    ]
    files = deliverable(ctx, files)
    if not files:
        return Goto("staff_home", data={})
    extensions = [file.filename.rsplit(".", 1)[1] for file in files]
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="round.report",
        target_type="session",
        target_id=session.id,
        petitions=found.petitions,
        masked=found.masked,
        formats=extensions,
    )
    text = ctx.t(
        "staff.report.ready",
        title=found.title,
        petitions=found.petitions,
        voters=found.voters,
        written=found.written,
        unclassified=found.unclassified,
        masked=found.masked,
        formats=", ".join(extension.upper() for extension in extensions),
    )
    ctx.replies += [Reply(text if index == 0 else "", document=file) for index, file in enumerate(files)]
    return Goto("staff_home", data={})


report.handle("send")(back_home)  # never waits there: the ask always moves on


async def show_round_stats(ctx: Ctx) -> None:
    """/stats ID: a voter-contact round's sign-ups per endpoint, petitions per field and level,
    and the share answered; a hearing's reports, speakers and questions. Raises Invalid."""
    session = await session_from_args(ctx, "stats")
    if session.kind == EventKind.HEARING:
        await show_hearing_stats(ctx, session.id)
        return
    if "petitions" not in policy(session.kind).exports:
        raise Invalid("staff.report.not_round", id=session.id)
    found = await round_stats(
        ctx.db, session.id, timing=ctx.settings.timing, endpoint_ids=ctx.actor.endpoint_ids
    )
    ctx.say_text(round_stats_table(found, ctx.t))


async def show_hearing_stats(ctx: Ctx, event_id: int) -> None:
    """/stats ID of a hearing: the agencies' reports filed, the speakers, the citizens' questions
    per topic (selected, declined, waiting)."""
    timing = ctx.settings.timing
    info = await hearings.hearing_info(ctx.db, event_id, timing)
    if info is None:
        raise Invalid("staff.report.not_round", id=event_id)
    questions = [
        q
        for q in await hearing_questions.for_hearing(ctx.db, event_id, timing)
        if q.status == SubmissionStatus.ACTIVE
    ]
    lines = [
        ctx.t(
            "staff.hearing_stats.topic",
            topic=topic.title,
            count=sum(1 for q in questions if q.topic_id == topic.id),
            selected=sum(1 for q in questions if q.topic_id == topic.id and q.route == SELECTED),
            declined=sum(1 for q in questions if q.topic_id == topic.id and q.route == DECLINED),
        )
        for topic in info.topics
    ]
    ctx.say(
        "staff.hearing_stats",
        id=info.id,
        title=info.title,
        filed=sum(1 for agency in info.agencies if agency.filed),
        agencies=len(info.agencies),
        speakers=info.speakers,
        questions=len(questions),
        topics="\n".join(lines),
    )
