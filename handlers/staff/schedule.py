"""/reschedule ID and /cancelsession ID for admins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import Reply
from handlers.staff.common import ADMIN, short_text
from handlers.staff.sessions import parse_date_and_time, parse_start, session_from_args
from storage import schedule, staff_sessions
from storage.rules import OPEN_STATUSES
from storage.staff_sessions import SessionInfo


@dataclass
class ChangeDraft(Draft):
    session_id: int | None = None  # None: not read yet from `/command ID`
    reason: str = ""  # told to every citizen affected
    override_shown: bool = False  # the confirmation warned of the short notice


@dataclass
class MoveDraft(ChangeDraft):
    date: list[int] = field(default_factory=list)  # [year, month, day], local: the new day
    new_start: str = ""  # ISO 8601, aware


move = Flow(
    "reschedule", first="date", command="reschedule", roles=ADMIN, needs_consent=False, draft=MoveDraft
)
drop = Flow(
    "cancelsession",
    first="reason",
    command="cancelsession",
    roles=ADMIN,
    needs_consent=False,
    draft=ChangeDraft,
)

REASON_LONGEST = 500


async def chosen(ctx: Ctx, command: str) -> SessionInfo | Next:
    """The session of `/command ID` (read again at every step: another admin may have
    cancelled it, or it may have started, meanwhile), or where to go instead."""
    draft = ChangeDraft.of(ctx)
    if draft.session_id is not None:
        session = await staff_sessions.session_info(ctx.db, draft.session_id)
        if session is None:  # sessions are never deleted; should one be, say so
            ctx.say("staff.session.not_found", id=draft.session_id)
            return Goto("staff_home", data={})
    else:
        try:
            session = await session_from_args(ctx, command)
        except Invalid as invalid:
            ctx.say(invalid.message_id, **invalid.fields)
            return Goto("staff_home", data={})
    if session.status not in OPEN_STATUSES or session.starts_at <= ctx.now:
        ctx.say("staff.schedule.closed", id=session.id)
        return Goto("staff_home", data={})
    draft.session_id = session.id
    return session


# --- /reschedule ID -----------------------------------------------------------------


@move.ask("date")
async def ask_date(ctx: Ctx) -> Reply | Next:
    session = await chosen(ctx, "reschedule")
    if not isinstance(session, SessionInfo):
        return session
    return Reply(ctx.t("staff.schedule.new_date", title=session.title, when=ctx.dt(session.starts_at)))


@move.handle("date")
async def on_date(ctx: Ctx, answer: Answer) -> Next:
    draft = MoveDraft.of(ctx)
    draft.date, new_start = parse_date_and_time(ctx, answer.text)
    return "time" if new_start is None else await moved_to(ctx, new_start)


@move.ask("time")
async def ask_time(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.new.time"))


@move.handle("time")
async def on_time(ctx: Ctx, answer: Answer) -> Next:
    return await moved_to(ctx, parse_start(ctx, MoveDraft.of(ctx).date, answer.text))


async def moved_to(ctx: Ctx, new_start: datetime) -> Next:
    session = await chosen(ctx, "reschedule")
    if not isinstance(session, SessionInfo):
        return session
    if new_start == session.starts_at:  # citizens would be told of a move that is none
        ctx.say("staff.schedule.same_time", when=ctx.dt(new_start))
        return "date"
    MoveDraft.of(ctx).new_start = new_start.isoformat()
    return "reason"


@move.ask("reason")
async def ask_move_reason(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.schedule.reason"))


@move.handle("reason")
async def on_move_reason(ctx: Ctx, answer: Answer) -> Next:
    ChangeDraft.of(ctx).reason = short_text(answer, "staff.schedule.reason_invalid", REASON_LONGEST)
    return "confirm"


def window_warning(ctx: Ctx, *starts: datetime) -> tuple[bool, str]:
    days = ctx.settings.change_notice_days
    late = schedule.inside_notice_window(ctx.now, days, *starts)
    return late, ctx.t("staff.schedule.short_notice", days=days) if late else ""


@move.ask("confirm")
async def ask_move_confirm(ctx: Ctx) -> Reply | Next:
    session = await chosen(ctx, "reschedule")
    if not isinstance(session, SessionInfo):
        return session
    draft = MoveDraft.of(ctx)
    new_start = datetime.fromisoformat(draft.new_start)
    late, warning = window_warning(ctx, session.starts_at, new_start)
    draft.override_shown = late
    people = await schedule.affected_count(ctx.db, session.id)
    text = ctx.t(
        "staff.schedule.move_review",
        title=session.title,
        old=ctx.dt(session.starts_at),
        new=ctx.dt(new_start),
        reason=draft.reason,
        people=people,
    )
    confirm = "staff.schedule.confirm_override" if late else "staff.schedule.confirm"
    return Reply(
        f"{warning}\n\n{text}".strip(), (ctx.option("yes", confirm), ctx.option("no", "common.no_keep"))
    )


@move.handle("confirm")
async def on_move_confirm(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        ctx.say("common.cancelled")
        return Goto("staff_home", data={})
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    session = await chosen(ctx, "reschedule")
    if not isinstance(session, SessionInfo):
        return session
    draft = MoveDraft.of(ctx)
    new_start = datetime.fromisoformat(draft.new_start)
    late, _ = window_warning(ctx, session.starts_at, new_start)
    if late and not draft.override_shown:
        return "confirm"  # the notice window began since it was asked: ask again, with the warning
    told = await schedule.reschedule(
        ctx.db,
        session.id,
        new_start,
        reason=draft.reason,
        override=late,
        lead_days=ctx.settings.summary_lead_days,
        actor=ctx.actor,
        now=ctx.now,
    )
    ctx.say("staff.schedule.moved", id=session.id, when=ctx.dt(new_start), people=told)
    return Goto("staff_home", data={})


# --- /cancelsession ID --------------------------------------------------------------


@drop.ask("reason")
async def ask_drop_reason(ctx: Ctx) -> Reply | Next:
    session = await chosen(ctx, "cancelsession")
    if not isinstance(session, SessionInfo):
        return session
    return Reply(ctx.t("staff.schedule.cancel_reason", title=session.title, when=ctx.dt(session.starts_at)))


@drop.handle("reason")
async def on_drop_reason(ctx: Ctx, answer: Answer) -> Next:
    ChangeDraft.of(ctx).reason = short_text(answer, "staff.schedule.reason_invalid", REASON_LONGEST)
    return "confirm"


@drop.ask("confirm")
async def ask_drop_confirm(ctx: Ctx) -> Reply | Next:
    session = await chosen(ctx, "cancelsession")
    if not isinstance(session, SessionInfo):
        return session
    draft = ChangeDraft.of(ctx)
    late, warning = window_warning(ctx, session.starts_at)
    draft.override_shown = late
    people = await schedule.affected_count(ctx.db, session.id)
    text = ctx.t(
        "staff.schedule.cancel_review",
        title=session.title,
        when=ctx.dt(session.starts_at),
        reason=draft.reason,
        people=people,
    )
    confirm = "staff.schedule.confirm_override" if late else "staff.schedule.confirm"
    return Reply(
        f"{warning}\n\n{text}".strip(), (ctx.option("yes", confirm), ctx.option("no", "common.no_keep"))
    )


@drop.handle("confirm")
async def on_drop_confirm(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        ctx.say("common.cancelled")
        return Goto("staff_home", data={})
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    session = await chosen(ctx, "cancelsession")
    if not isinstance(session, SessionInfo):
        return session
    draft = ChangeDraft.of(ctx)
    late, _ = window_warning(ctx, session.starts_at)
    if late and not draft.override_shown:
        return "confirm"  # the notice window began since it was asked: ask again, with the warning
    told = await schedule.cancel(
        ctx.db, session.id, reason=draft.reason, override=late, actor=ctx.actor, now=ctx.now
    )
    ctx.say("staff.schedule.cancelled", id=session.id, people=told)
    return Goto("staff_home", data={})
