"""/dossier ID: a hearing's dossier (hồ sơ phiên giải trình) as a Word file, for admins and
officers: the topics, each agency with its report (filed or not, when, the file) and the
speakers in order. The agencies' report files themselves are sent again on request, where
the chat can carry them."""

from __future__ import annotations

from bot.dialog.flow import Answer, Ctx, Flow, Goto, Next
from bot.dialog.types import DOCX_TYPE, Attachment, Document, Reply
from bot.exports import document_translator
from handlers import inputs
from handlers.staff.common import STAFF, back_home, button_label, deliverable
from storage import audit
from storage.hearing_dossier import HearingDossier, hearing_dossier

flow = Flow("dossier", first="send", command="dossier", roles=STAFF, needs_consent=False)


async def _dossier(ctx: Ctx, event_id: int) -> HearingDossier | None:
    return await hearing_dossier(ctx.db, event_id, timing=ctx.settings.timing)


def _event_id(ctx: Ctx) -> int | None:
    if not ctx.args.isdecimal():
        return None
    return inputs.whole_number(ctx.args, inputs.MAX_ROW_ID)


@flow.ask("send")
async def ask_send(ctx: Ctx) -> Reply | Next:
    if not ctx.args.isdecimal():
        ctx.say("staff.usage.dossier")
        return Goto("staff_home", data={})
    event_id = _event_id(ctx)
    dossier = None if event_id is None else await _dossier(ctx, event_id)
    if dossier is None:
        ctx.say("dossier.not_found", id=ctx.args)
        return Goto("staff_home", data={})
    if not ctx.capabilities.documents:  # the Zalo Bot API sends no files
        ctx.say("staff.export.no_files_here")
        return Goto("staff_home", data={})
    from bot.hearing_dossier import dossier_filename, to_docx  # python-docx is heavy: when asked

    file = Document(dossier_filename(dossier), to_docx(dossier, document_translator(ctx.t)), DOCX_TYPE)
    if not deliverable(ctx, [file]):
        return Goto("staff_home", data={})
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="hearing.dossier",
        target_type="session",
        target_id=dossier.event_id,
        filed=dossier.filed,
        speakers=len(dossier.speakers),
    )
    text = ctx.t(
        "dossier.ready",
        title=dossier.title,
        topics=len(dossier.topics),
        filed=dossier.filed,
        total=len(dossier.agencies),
        speakers=len(dossier.speakers),
    )
    ctx.replies.append(Reply(text, document=file))
    filed = [agency for agency in dossier.agencies if agency.report is not None and agency.report.file]
    if not filed or not ctx.capabilities.file_uploads:  # files on the platform go back where they came from
        return Goto("staff_home", data={})
    ctx.data["event_id"] = dossier.event_id
    options = tuple(
        ctx.option(f"f:{index}", "dossier.resend_button", agency=button_label(agency.name, 45))
        for index, agency in enumerate(dossier.agencies)
        if agency.report is not None and agency.report.file
    )
    return Reply(ctx.t("dossier.resend_ask"), (*options, ctx.option("done", "dossier.done")))


@flow.handle("send")
async def on_send(ctx: Ctx, answer: Answer) -> Next:
    choice = answer.choice or ""
    if not choice.startswith("f:") or not choice[2:].isdecimal() or "event_id" not in ctx.data:
        if choice == "done":
            return Goto("staff_home", data={})
        return await back_home(ctx, answer)
    dossier = await _dossier(ctx, int(ctx.data["event_id"]))
    index = int(choice[2:])
    if dossier is None or index >= len(dossier.agencies) or dossier.agencies[index].report is None:
        return Goto("staff_home", data={})
    agency = dossier.agencies[index]
    report = agency.report
    assert report is not None
    file = report.file
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="hearing.report.resend",
        target_type="session",
        target_id=dossier.event_id,
        agency=agency.name,
    )
    attachment = Attachment(
        str(file.get("kind", "document")),
        str(file.get("file_id", "")),
        str(file.get("name", "")),
        str(file.get("mime_type", "")),
        int(file.get("size", 0)),
    )
    ctx.replies.append(
        Reply(ctx.t("dossier.resent", agency=agency.name, file=report.file_name), files=(attachment,))
    )
    return Goto("staff_home", data={})
