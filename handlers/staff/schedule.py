"""/reschedule ID and /cancelsession ID for admins.

A reception session (or a hearing) moves whole; a hearing's change is told to the citizens who
sent questions, the delegates registered to speak and its agencies' liaisons
(storage.hearing_schedule), its default deadlines moving with it. A voter-contact round has a
time per endpoint: the admin moves ONE endpoint, or the whole round (its first meeting to the new time, every
other endpoint by the same span). Either way the change-notice rule (CHANGE_NOTICE_DAYS) is
checked against every start that changes, old and new, and the voters it concerns are told
at once (storage.schedule)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers.staff.common import ADMIN, button_label, short_text
from handlers.staff.sessions import parse_date_and_time, parse_start, session_from_args
from storage import hearing_schedule, schedule, staff_sessions
from storage.models import EventKind
from storage.rules import OPEN_STATUSES
from storage.staff_sessions import Seats, SessionInfo


@dataclass
class ChangeDraft(Draft):
    session_id: int | None = None  # None: not read yet from `/command ID`
    reason: str = ""  # told to every citizen affected
    override_shown: bool = False  # the confirmation warned of the short notice


@dataclass
class MoveDraft(ChangeDraft):
    date: list[int] = field(default_factory=list)  # [year, month, day], local: the new day
    new_start: str = ""  # ISO 8601, aware
    which: str = ""  # a round: "all", or the id of the one endpoint that moves ("" for the others)


ALL = "all"

move = Flow(
    "reschedule", first="which", command="reschedule", roles=ADMIN, needs_consent=False, draft=MoveDraft
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
    if session.status not in OPEN_STATUSES or session.last_start <= ctx.now:
        ctx.say("staff.schedule.closed", id=session.id)
        return Goto("staff_home", data={})
    if not session.per_endpoint and session.starts_at <= ctx.now:
        ctx.say("staff.schedule.closed", id=session.id)
        return Goto("staff_home", data={})
    draft.session_id = session.id
    return session


def still_to_meet(ctx: Ctx, session: SessionInfo) -> list[Seats]:
    """The endpoints of a round whose meeting has not begun, soonest first."""
    return sorted(
        (link for link in session.endpoints if link.starts_at > ctx.now),
        key=lambda link: (link.starts_at, link.endpoint_name),
    )


def moving(ctx: Ctx, session: SessionInfo) -> Seats | None:
    """The endpoint of the round chosen to move (None: the whole round)."""
    which = MoveDraft.of(ctx).which
    return next((link for link in session.endpoints if str(link.endpoint_id) == which), None)


def current_start(ctx: Ctx, session: SessionInfo) -> datetime:
    """What the move changes: the endpoint's start, else the (round's first) start."""
    link = moving(ctx, session) if session.per_endpoint else None
    return session.starts_at if link is None else link.starts_at


# --- /reschedule ID -----------------------------------------------------------------


@move.ask("which")
async def ask_which(ctx: Ctx) -> Reply | Next:
    session = await chosen(ctx, "reschedule")
    if not isinstance(session, SessionInfo):
        return session
    if not session.per_endpoint:
        return "date"
    left = still_to_meet(ctx, session)
    options = [ctx.option(ALL, "events.schedule.all")] if session.starts_at > ctx.now else []
    options += [
        Option(
            str(link.endpoint_id),
            button_label(
                ctx.t("events.schedule.stop_option", endpoint=link.endpoint_name, when=ctx.dt(link.starts_at))
            ),
        )
        for link in left
        if ctx.actor.sees_endpoint(link.endpoint_id)
    ]
    return Reply(ctx.t("events.schedule.which", title=session.title), tuple(options))


@move.handle("which")
async def on_which(ctx: Ctx, answer: Answer) -> Next:
    session = await chosen(ctx, "reschedule")
    if not isinstance(session, SessionInfo):
        return session
    left = {str(link.endpoint_id) for link in still_to_meet(ctx, session)}
    if answer.choice == ALL and session.starts_at > ctx.now:
        MoveDraft.of(ctx).which = ALL
    elif answer.choice in left:
        MoveDraft.of(ctx).which = answer.choice
    else:
        raise Invalid("common.choose_option")
    return "date"


@move.ask("date")
async def ask_date(ctx: Ctx) -> Reply | Next:
    session = await chosen(ctx, "reschedule")
    if not isinstance(session, SessionInfo):
        return session
    if not session.per_endpoint:
        return Reply(ctx.t("staff.schedule.new_date", title=session.title, when=ctx.dt(session.starts_at)))
    link = moving(ctx, session)
    if link is None:
        return Reply(
            ctx.t("events.schedule.new_date_all", title=session.title, when=ctx.dt(session.starts_at))
        )
    return Reply(
        ctx.t(
            "events.schedule.new_date_at",
            title=session.title,
            endpoint=link.endpoint_name,
            when=ctx.dt(link.starts_at),
        )
    )


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
    if new_start == current_start(ctx, session):  # citizens would be told of a move that is none
        ctx.say(
            "events.schedule.same_time" if session.per_endpoint else "staff.schedule.same_time",
            when=ctx.dt(new_start),
        )
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
    if session.per_endpoint:
        return await ask_round_move_confirm(ctx, session, new_start)
    late, warning = window_warning(ctx, session.starts_at, new_start)
    draft.override_shown = late
    hearing = session.kind == EventKind.HEARING
    if hearing:
        people = await hearing_schedule.concerned_count(ctx.db, session.id, now=ctx.now)
    else:
        people = await schedule.affected_count(ctx.db, session.id)
    text = ctx.t(
        "hsetup.schedule.move_review" if hearing else "staff.schedule.move_review",
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
    if session.per_endpoint:
        return await move_round(ctx, session, new_start)
    late, _ = window_warning(ctx, session.starts_at, new_start)
    if late and not draft.override_shown:
        return "confirm"  # the notice window began since it was asked: ask again, with the warning
    if session.kind == EventKind.HEARING:
        told = await hearing_schedule.move(
            ctx.db,
            session.id,
            new_start,
            reason=draft.reason,
            override=late,
            timing=ctx.settings.timing,
            actor=ctx.actor,
            now=ctx.now,
        )
        ctx.say("hsetup.schedule.moved", id=session.id, when=ctx.dt(new_start), people=told)
        return Goto("staff_home", data={})
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


def round_endpoint(ctx: Ctx, session: SessionInfo) -> Next | int | None:
    """The endpoint that moves (None: all), or where to go when it has begun meanwhile."""
    draft = MoveDraft.of(ctx)
    if draft.which == ALL:
        return None if session.starts_at > ctx.now else "which"
    link = moving(ctx, session)
    if link is None or link.starts_at <= ctx.now:
        return "which"  # begun since it was chosen: choose again
    return link.endpoint_id


async def ask_round_move_confirm(ctx: Ctx, session: SessionInfo, new_start: datetime) -> Reply | Next:
    endpoint_id = round_endpoint(ctx, session)
    if isinstance(endpoint_id, str | Goto):
        return endpoint_id
    plan = await schedule.plan_round_move(ctx.db, session.id, endpoint_id, new_start, ctx.settings.timing)
    late, warning = window_warning(ctx, *plan.moved_starts)
    MoveDraft.of(ctx).override_shown = late
    names = {link.endpoint_id: link.endpoint_name for link in session.endpoints}
    stops = "\n".join(
        ctx.t(
            "events.schedule.stop_move",
            endpoint=names[key],
            old=ctx.dt(plan.old_starts[key]),
            new=ctx.dt(new),
        )
        for key, new in sorted(plan.new_starts.items(), key=lambda item: (item[1], names[item[0]]))
        if new != plan.old_starts[key]
    )
    text = ctx.t(
        "events.schedule.move_review",
        title=session.title,
        stops=stops,
        compile=ctx.dt(plan.compile_deadline),
        materials=ctx.dt(plan.materials_deadline),
        reason=MoveDraft.of(ctx).reason,
        people=len(plan.told),
    )
    confirm = "staff.schedule.confirm_override" if late else "staff.schedule.confirm"
    return Reply(
        f"{warning}\n\n{text}".strip(), (ctx.option("yes", confirm), ctx.option("no", "common.no_keep"))
    )


async def move_round(ctx: Ctx, session: SessionInfo, new_start: datetime) -> Next:
    endpoint_id = round_endpoint(ctx, session)
    if isinstance(endpoint_id, str | Goto):
        return endpoint_id
    draft = MoveDraft.of(ctx)
    plan = await schedule.plan_round_move(ctx.db, session.id, endpoint_id, new_start, ctx.settings.timing)
    late, _ = window_warning(ctx, *plan.moved_starts)
    if late and not draft.override_shown:
        return "confirm"  # the notice window began since it was asked: ask again, with the warning
    told = await schedule.move_round(
        ctx.db,
        session.id,
        endpoint_id,
        new_start,
        reason=draft.reason,
        override=late,
        timing=ctx.settings.timing,
        actor=ctx.actor,
        now=ctx.now,
    )
    ctx.say("events.schedule.moved", id=session.id, people=told)
    return Goto("staff_home", data={})


# --- /cancelsession ID --------------------------------------------------------------


def cancel_window(ctx: Ctx, session: SessionInfo) -> tuple[bool, str]:
    """The notice window, from the first meeting still to come."""
    if not session.per_endpoint:
        return window_warning(ctx, session.starts_at)
    return window_warning(ctx, *(link.starts_at for link in session.endpoints if link.starts_at > ctx.now))


@drop.ask("reason")
async def ask_drop_reason(ctx: Ctx) -> Reply | Next:
    session = await chosen(ctx, "cancelsession")
    if not isinstance(session, SessionInfo):
        return session
    message = "events.schedule.cancel_reason" if session.per_endpoint else "staff.schedule.cancel_reason"
    return Reply(ctx.t(message, title=session.title, when=ctx.dt(session.starts_at)))


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
    late, warning = cancel_window(ctx, session)
    draft.override_shown = late
    hearing = session.kind == EventKind.HEARING
    if session.per_endpoint:
        people = len(await schedule.round_voters(ctx.db, session.id))
    elif hearing:
        people = await hearing_schedule.concerned_count(ctx.db, session.id, now=ctx.now)
    else:
        people = await schedule.affected_count(ctx.db, session.id)
    message = "events.schedule.cancel_review" if session.per_endpoint else "staff.schedule.cancel_review"
    text = ctx.t(
        "hsetup.schedule.cancel_review" if hearing else message,
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
    late, _ = cancel_window(ctx, session)
    if late and not draft.override_shown:
        return "confirm"  # the notice window began since it was asked: ask again, with the warning
    if session.per_endpoint:
        told = await schedule.cancel_round(
            ctx.db, session.id, reason=draft.reason, override=late, actor=ctx.actor, now=ctx.now
        )
        ctx.say("events.schedule.cancelled", id=session.id, people=told)
        return Goto("staff_home", data={})
    if session.kind == EventKind.HEARING:
        told = await hearing_schedule.cancel(
            ctx.db, session.id, reason=draft.reason, override=late, actor=ctx.actor, now=ctx.now
        )
        ctx.say("hsetup.schedule.cancelled", id=session.id, people=told)
        return Goto("staff_home", data={})
    told = await schedule.cancel(
        ctx.db, session.id, reason=draft.reason, override=late, actor=ctx.actor, now=ctx.now
    )
    ctx.say("staff.schedule.cancelled", id=session.id, people=told)
    return Goto("staff_home", data={})
