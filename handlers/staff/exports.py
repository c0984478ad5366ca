"""/export ID (the list for the Standing Committee, Form 03) and /stats [FROM] [TO] | [ID]."""

from __future__ import annotations

from datetime import MAXYEAR, MINYEAR, datetime, timedelta

from bot.dialog.flow import Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import DOCX_TYPE, XLSX_TYPE, Document, Reply
from bot.exports import (
    CSV_TYPE,
    document_translator,
    export_filename,
    stats_table,
    to_csv,
    to_docx,
    to_xlsx,
)
from bot.reception_book import reception_book
from handlers.staff.common import STAFF, back_home, deliverable, usage
from handlers.staff.reports import show_round_stats
from handlers.staff.sessions import DATE, session_to_send
from storage import audit
from storage.reception_book import registration_stats

export = Flow("export", first="send", command="export", roles=STAFF, needs_consent=False)
stats = Flow("stats", first="show", command="stats", roles=STAFF, needs_consent=False)


@export.ask("send")
async def ask_export(ctx: Ctx) -> Reply | Next:
    session = await session_to_send(ctx, "export", "book", "staff.export.other_kind")  # Form 03: reception
    if session is None:
        return Goto("staff_home", data={})
    t = document_translator(ctx.t)  # the document in Vietnamese; the chat in the admin's language
    book = await reception_book(
        ctx.db,
        session.id,
        endpoint_ids=ctx.actor.endpoint_ids,
        reveal_denouncers=ctx.actor.see_denouncers,
        actor=str(ctx.actor),
        now=ctx.now,
        t=t,
    )
    # Every format the chat can carry (Zalo OA takes Word files only, up to 5 MB).
    files = [
        Document(export_filename(book, "xlsx"), to_xlsx(book, t), XLSX_TYPE),
        Document(export_filename(book, "docx"), to_docx(book, t), DOCX_TYPE),
        Document(export_filename(book, "csv"), to_csv(book, t), CSV_TYPE),
    ]
    files = deliverable(ctx, files)
    if not files:
        return Goto("staff_home", data={})
    extensions = [file.filename.rsplit(".", 1)[1] for file in files]
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="session.export",
        target_type="session",
        target_id=session.id,
        rows=book.row_count,
        masked=book.masked,
        formats=extensions,
    )
    formats = ", ".join(extension.upper() for extension in extensions)
    title, rows, masked = book.session_title, book.row_count, book.masked
    text = ctx.t("staff.export.ready", title=title, rows=rows, masked=masked, formats=formats)
    ctx.replies += [Reply(text if index == 0 else "", document=file) for index, file in enumerate(files)]
    return Goto("staff_home", data={})


export.handle("send")(back_home)  # never waits there: the ask always moves on


def parse_day(ctx: Ctx, text: str) -> datetime:
    match = DATE.match(text)
    if not match:
        raise usage("stats")
    day, month, year = (int(part) for part in match.groups())
    if not MINYEAR < year < MAXYEAR:  # the first and last years overflow in UTC or the day after
        raise usage("stats")
    try:
        return datetime(year, month, day, tzinfo=ctx.settings.tz)
    except ValueError:
        raise usage("stats") from None


@stats.ask("show")
async def ask_stats(ctx: Ctx) -> Reply | Next:
    words = ctx.args.split()
    try:
        if len(words) == 1 and words[0].isdecimal():  # /stats ID: a voter-contact round
            await show_round_stats(ctx)
            return Goto("staff_home", data={})
        if not words:  # this year so far and the rest of it
            year = ctx.now.astimezone(ctx.settings.tz).year
            since = datetime(year, 1, 1, tzinfo=ctx.settings.tz)
            until = datetime(year + 1, 1, 1, tzinfo=ctx.settings.tz)
        elif len(words) == 2:
            since, until = parse_day(ctx, words[0]), parse_day(ctx, words[1]) + timedelta(days=1)
            if until <= since:
                raise usage("stats")
        else:
            raise usage("stats")
    except Invalid as invalid:
        ctx.say(invalid.message_id, **invalid.fields)
        return Goto("staff_home", data={})
    found = await registration_stats(ctx.db, since=since, until=until, endpoint_ids=ctx.actor.endpoint_ids)
    ctx.say_text(stats_table(found, ctx.t))
    return Goto("staff_home", data={})


stats.handle("show")(back_home)
