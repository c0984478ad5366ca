"""Session management for staff: /sessions, /session ID, /newsession."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers import inputs
from handlers.citizen.views import case_type_label
from handlers.staff.common import ADMIN, STAFF, back_home, chosen_scope, short_text, usage
from storage import audit, staff_endpoints, staff_sessions
from storage.endpoints import EndpointInfo
from storage.models import CaseType, EventKind
from storage.review import Case
from storage.rules import MAX_CAPACITY, summary_deadline
from storage.staff_sessions import SessionInfo
from storage.text import mask_name


@dataclass
class NewSessionDraft(Draft):
    kind: str = ""  # a EventKind value
    title: str = ""
    host: str = ""
    date: list[int] = field(default_factory=list)  # [year, month, day], local
    starts_at: str = ""  # ISO 8601, aware
    endpoint_ids: list[int] | None = None  # None: every active endpoint
    capacity: int = 0  # seats per endpoint
    room: str = ""  # the online room, if any


overview = Flow("staff_sessions", first="list", command="sessions", roles=STAFF, needs_consent=False)
detail = Flow("session", first="show", command="session", roles=STAFF, needs_consent=False)
create = Flow(
    "newsession", first="kind", command="newsession", roles=ADMIN, needs_consent=False, draft=NewSessionDraft
)

DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
TIME = re.compile(r"^(\d{1,2})[:hH.](\d{2})$")


def seats_lines(ctx: Ctx, session: SessionInfo) -> str:
    """One line per endpoint the actor sees: seats taken and left."""
    lines = [
        ctx.t(
            "staff.sessions.seats",
            endpoint=link.endpoint_name,
            taken=link.seats_taken,
            left=link.capacity - link.seats_taken,
            capacity=link.capacity,
        )
        for link in session.endpoints
        if ctx.actor.sees_endpoint(link.endpoint_id)
    ]
    return "\n".join(lines)


@overview.ask("list")
async def ask_overview(ctx: Ctx) -> Reply:
    upcoming = await staff_sessions.upcoming(ctx.db, ctx.now, limit=20)
    visible = [s for s in upcoming if any(ctx.actor.sees_endpoint(link.endpoint_id) for link in s.endpoints)]
    if not visible:
        return Reply(ctx.t("staff.sessions.none"))
    blocks = [
        ctx.t(
            "staff.sessions.item",
            id=session.id,
            title=session.title,
            when=ctx.dt(session.starts_at),
            deadline=ctx.dt(summary_deadline(session.starts_at, ctx.settings.summary_lead_days)),
            seats=seats_lines(ctx, session),
        )
        for session in visible
    ]
    return Reply(ctx.t("staff.sessions.title") + "\n\n" + "\n\n".join(blocks))


overview.handle("list")(back_home)


async def session_from_args(ctx: Ctx, command: str) -> SessionInfo:
    """The session named by `/command ID`, visible to the actor, or the command's usage."""
    if not ctx.args.isdecimal():
        raise usage(command)
    session_id = inputs.whole_number(ctx.args, inputs.MAX_ROW_ID)  # past it no session can exist
    session = None if session_id is None else await staff_sessions.session_info(ctx.db, session_id)
    if session is None or not any(ctx.actor.sees_endpoint(link.endpoint_id) for link in session.endpoints):
        raise Invalid("staff.session.not_found", id=ctx.args)
    return session


@detail.ask("show")
async def ask_detail(ctx: Ctx) -> Reply | Next:
    try:
        session = await session_from_args(ctx, "session")
    except Invalid as invalid:
        ctx.say(invalid.message_id, **invalid.fields)
        return Goto("staff_home", data={})
    registrations = await staff_sessions.session_cases(ctx.db, session.id)
    blocks = []
    for link in session.endpoints:
        if not ctx.actor.sees_endpoint(link.endpoint_id):
            continue
        rows = [r for r in registrations if r.session_endpoint_id == link.session_endpoint_id]
        lines = [
            ctx.t(
                "staff.session.row",
                code=r.code,
                name=await visible_name(ctx, r),
                case_type=case_type_label(ctx, r.case_type),
                status=ctx.t(f"registration.status.{r.status.value}"),
            )
            for r in rows
        ]
        blocks.append(
            ctx.t(
                "staff.session.endpoint",
                endpoint=link.endpoint_name,
                taken=link.seats_taken,
                capacity=link.capacity,
                rows="\n".join(lines) or "—",
            )
        )
    text = ctx.t(
        "staff.session.detail",
        id=session.id,
        title=session.title,
        host=session.host or "—",
        when=ctx.dt(session.starts_at),
        deadline=ctx.dt(summary_deadline(session.starts_at, ctx.settings.summary_lead_days)),
        status=ctx.t(f"session.status.{session.status.value}"),
        room=session.online_room or "—",
    )
    return Reply(text + "\n\n" + "\n\n".join(blocks))


detail.handle("show")(back_home)


async def visible_name(ctx: Ctx, registration: Case) -> str:
    """A denouncer's name only for those allowed to see it (masked for others, Luật Tố cáo,
    Art. 9), and every such view is audited."""
    if registration.case_type != CaseType.DENUNCIATION:
        return registration.full_name or "—"
    if not ctx.actor.see_denouncers:
        return mask_name(registration.full_name or "") or "—"
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="denouncer.view",
        target_type="registration",
        target_id=registration.id,
    )
    return registration.full_name or "—"


# --- /newsession ------------------------------------------------------------------


@create.ask("kind")
async def ask_kind(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("staff.new.kind"),
        tuple(Option(kind.value, ctx.t(f"session.kind.{kind.value}")) for kind in EventKind),
    )


@create.handle("kind")
async def on_kind(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in {kind.value for kind in EventKind}:
        raise Invalid("common.choose_option")
    NewSessionDraft.of(ctx).kind = answer.choice
    return "title"


@create.ask("title")
async def ask_title(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.new.title"))


@create.handle("title")
async def on_title(ctx: Ctx, answer: Answer) -> Next:
    NewSessionDraft.of(ctx).title = short_text(answer, "staff.new.title_invalid")
    return "host"


@create.ask("host")
async def ask_host(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.new.host"))


@create.handle("host")
async def on_host(ctx: Ctx, answer: Answer) -> Next:
    NewSessionDraft.of(ctx).host = short_text(answer, "staff.new.host_invalid")
    return "date"


@create.ask("date")
async def ask_date(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.new.date"))


def parse_date(ctx: Ctx, text: str) -> list[int]:
    """A local date today or later, as [year, month, day]."""
    match = DATE.match(text.strip())
    if not match:
        raise Invalid("staff.new.date_invalid")
    day, month, year = (int(part) for part in match.groups())
    try:
        datetime(year, month, day)
    except ValueError:
        raise Invalid("staff.new.date_invalid") from None
    if (year, month, day) < ctx.now.astimezone(ctx.settings.tz).timetuple()[:3]:
        raise Invalid("staff.new.date_past")
    return [year, month, day]


def parse_date_and_time(ctx: Ctx, text: str) -> tuple[list[int], datetime | None]:
    """ "12/12/2026" or "12/12/2026 08:00" (the date prompt takes both parts when given):
    the day, and the start when a time came with it."""
    date_part, *rest = text.replace(",", " ").split() or [""]
    day = parse_date(ctx, date_part)
    time_part = " ".join(word for word in rest if word.lower() not in ("lúc", "at"))  # "12/12/2026 lúc 8:00"
    return day, parse_start(ctx, day, time_part) if time_part else None


def parse_start(ctx: Ctx, day: list[int], text: str) -> datetime:
    """The start on `day` at HH:MM local time, in the future."""
    match = TIME.match(text.strip())
    hour, minute = (int(part) for part in match.groups()) if match else (99, 99)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise Invalid("staff.new.time_invalid")
    year, month, date_of_month = day
    starts_at = datetime(year, month, date_of_month, hour, minute, tzinfo=ctx.settings.tz)
    if starts_at <= ctx.now:
        raise Invalid("staff.new.date_past")
    return starts_at


@create.handle("date")
async def on_date(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    draft.date, starts_at = parse_date_and_time(ctx, answer.text)
    if starts_at is None:
        return "time"
    draft.starts_at = starts_at.isoformat()
    return "endpoints"


@create.ask("time")
async def ask_time(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.new.time"))


@create.handle("time")
async def on_time(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    draft.starts_at = parse_start(ctx, draft.date, answer.text).isoformat()
    return "endpoints"


@create.ask("endpoints")
async def ask_endpoints(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.new.endpoints"), (ctx.option("all", "staff.scope.all"),))


@create.handle("endpoints")
async def on_endpoints(ctx: Ctx, answer: Answer) -> Next:
    NewSessionDraft.of(ctx).endpoint_ids = await chosen_scope(ctx, answer)
    if not await chosen_endpoints(ctx):  # "all" with no active endpoint: nobody could register
        raise Invalid("staff.new.no_endpoints")
    return "capacity"


@create.ask("capacity")
async def ask_capacity(ctx: Ctx) -> Reply:
    default = ctx.settings.default_capacity
    return Reply(
        ctx.t("staff.new.capacity", default=default),
        (ctx.option("default", "staff.new.capacity_default", default=default),),
    )


@create.handle("capacity")
async def on_capacity(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "default":
        NewSessionDraft.of(ctx).capacity = ctx.settings.default_capacity
        return "room"
    capacity = inputs.whole_number(answer.text, MAX_CAPACITY)
    if not capacity:
        raise Invalid("staff.new.capacity_invalid")
    NewSessionDraft.of(ctx).capacity = capacity
    return "room"


@create.ask("room")
async def ask_room(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.new.room"), (ctx.option("none", "staff.new.room_none"),))


@create.handle("room")
async def on_room(ctx: Ctx, answer: Answer) -> Next:
    room = "" if answer.choice == "none" else answer.text.strip()
    if len(room) > 500 or (answer.choice != "none" and not room):
        raise Invalid("staff.new.room_invalid")
    NewSessionDraft.of(ctx).room = room
    return "review"


async def chosen_endpoints(ctx: Ctx) -> list[EndpointInfo]:
    """The endpoints chosen that are still offered, by name."""
    return await staff_endpoints.offered(ctx.db, NewSessionDraft.of(ctx).endpoint_ids)


@create.ask("review")
async def ask_new_review(ctx: Ctx) -> Reply:
    d = NewSessionDraft.of(ctx)
    endpoints = await chosen_endpoints(ctx)
    starts_at = datetime.fromisoformat(d.starts_at)
    deadline = summary_deadline(starts_at, ctx.settings.summary_lead_days)
    text = ctx.t(
        "staff.new.review",
        kind=ctx.t(f"session.kind.{d.kind}"),
        title=d.title,
        host=d.host,
        when=ctx.dt(starts_at),
        deadline=ctx.dt(deadline),
        endpoints=", ".join(endpoint.name for endpoint in endpoints),
        count=len(endpoints),
        capacity=d.capacity,
        room=d.room or "—",
    )
    if deadline < ctx.now:  # citizens could not register through the chat at all
        text = ctx.t("staff.new.deadline_passed", days=ctx.settings.summary_lead_days) + "\n\n" + text
    return Reply(text, (ctx.option("save", "staff.new.save"), ctx.option("cancel", "staff.new.discard")))


@create.handle("review")
async def on_new_review(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "cancel":
        ctx.say("common.cancelled")
        return Goto("staff_home", data={})
    if answer.choice != "save":
        raise Invalid("common.choose_option")
    d = NewSessionDraft.of(ctx)
    starts_at = datetime.fromisoformat(d.starts_at)
    if starts_at <= ctx.now:
        raise Invalid("staff.new.date_past")
    ids = [endpoint.id for endpoint in await chosen_endpoints(ctx)]
    if not ids:  # deactivated since they were chosen
        ctx.say("staff.new.no_endpoints")
        return "endpoints"
    session = await staff_sessions.create(
        ctx.db,
        kind=EventKind(d.kind),
        title=d.title,
        host=d.host,
        starts_at=starts_at,
        endpoint_ids=ids,
        capacity=d.capacity,
        online_room=d.room,
        now=ctx.now,
    )
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="session.create",
        target_type="session",
        target_id=session.id,
    )
    ctx.say("staff.new.saved", id=session.id, total=session.total)
    return Goto("staff_home", data={})
