"""Events for staff: /sessions, /session ID, /newevent (also /newsession).

Every kind is listed and created here. A reception session (or a hearing) starts at one
time everywhere; a voter-contact round (tiếp xúc cử tri) has a date and time per endpoint,
its delegates' group, and the compile and materials deadlines (defaults from
storage.event_kinds)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers import inputs
from handlers.citizen.views import case_type_label
from handlers.staff import hearing_setup, hearing_views
from handlers.staff.common import ADMIN, STAFF, back_home, chosen_scope, short_text, usage
from storage import audit, hearings, staff_endpoints, staff_sessions
from storage.endpoints import EndpointInfo
from storage.event_kinds import default_compile_deadline, default_materials_deadline, policy
from storage.hearings import HearingInfo
from storage.models import CaseType, EventKind
from storage.review import Case
from storage.rules import MAX_CAPACITY, summary_deadline
from storage.staff_sessions import PetitionCount, SessionInfo, times_per_endpoint
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
    # A voter-contact round: its endpoints in the order asked, each one's start (endpoint id
    # as text -> ISO 8601), and the deadlines (ISO 8601; "" until given).
    stops: dict[str, str] = field(default_factory=dict)
    compile_deadline: str = ""
    materials_deadline: str = ""
    # A hearing: its topics in order, the agencies that must explain ([name, [topic numbers]]),
    # and its report and questions deadlines (ISO 8601; "" until given).
    topics: list[str] = field(default_factory=list)
    agencies: list[list[Any]] = field(default_factory=list)
    report_deadline: str = ""
    questions_deadline: str = ""

    @property
    def per_endpoint(self) -> bool:
        return bool(self.kind) and times_per_endpoint(EventKind(self.kind))

    @property
    def hearing(self) -> bool:
        return self.kind == EventKind.HEARING


overview = Flow("staff_sessions", first="list", command="sessions", roles=STAFF, needs_consent=False)
detail = Flow("session", first="show", command="session", roles=STAFF, needs_consent=False)
create = Flow(
    "newevent", first="kind", command="newevent", roles=ADMIN, needs_consent=False, draft=NewSessionDraft
)

DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
TIME = re.compile(r"^(\d{1,2})[:hH.](\d{2})$")


def seats_lines(ctx: Ctx, session: SessionInfo) -> str:
    """One line per endpoint the actor sees: seats taken and left (and, in a voter-contact
    round, when it meets there)."""
    lines = [
        ctx.t(
            "events.list.stop_seats" if session.per_endpoint else "staff.sessions.seats",
            endpoint=link.endpoint_name,
            when=ctx.dt(link.starts_at),
            taken=link.seats_taken,
            left=link.capacity - link.seats_taken,
            capacity=link.capacity,
        )
        for link in session.endpoints
        if ctx.actor.sees_endpoint(link.endpoint_id)
    ]
    return "\n".join(lines)


def endpoint_names(ctx: Ctx, session: SessionInfo) -> str:
    """The endpoints the actor sees (a hearing is watched there: no seats to count)."""
    names = [link.endpoint_name for link in session.endpoints if ctx.actor.sees_endpoint(link.endpoint_id)]
    return ctx.t("hsetup.view.endpoints", count=len(names), endpoints=", ".join(names) or "—")


def round_deadlines(ctx: Ctx, session: SessionInfo) -> dict[str, str]:
    """A voter-contact round's compile and materials deadlines, as shown."""
    timing = ctx.settings.timing
    compile_deadline = session.compile_deadline or default_compile_deadline(session.last_start, timing)
    materials = session.materials_deadline or default_materials_deadline(session.starts_at, timing)
    return {"compile": ctx.dt(compile_deadline), "materials": ctx.dt(materials)}


def overview_item(
    ctx: Ctx, session: SessionInfo, petitions: PetitionCount | None, hearing: HearingInfo | None = None
) -> str:
    kind = ctx.t(f"session.kind.{session.kind.value}")
    if hearing is not None:
        return hearing_views.overview(ctx, hearing, endpoint_names(ctx, session))
    if not session.per_endpoint:
        return (
            ctx.t("events.kind_line", kind=kind)
            + "\n"
            + ctx.t(
                "staff.sessions.item",
                id=session.id,
                title=session.title,
                when=ctx.dt(session.starts_at),
                deadline=ctx.dt(summary_deadline(session.starts_at, ctx.settings.summary_lead_days)),
                seats=seats_lines(ctx, session),
            )
        )
    return ctx.t(
        "events.list.round",
        id=session.id,
        kind=kind,
        title=session.title,
        host=session.host or "—",
        petitions=visible_petitions(ctx, session, petitions),
        seats=seats_lines(ctx, session),
        **round_deadlines(ctx, session),
    )


def visible_petitions(ctx: Ctx, session: SessionInfo, petitions: PetitionCount | None) -> int:
    """The petitions of the round the actor may count: all for an officer of every endpoint,
    else those from the endpoints of their scope."""
    if petitions is None:
        return 0
    if ctx.actor.endpoint_ids is None:
        return petitions.total
    return sum(
        petitions.at(link.endpoint_id)
        for link in session.endpoints
        if ctx.actor.sees_endpoint(link.endpoint_id)
    )


@overview.ask("list")
async def ask_overview(ctx: Ctx) -> Reply:
    upcoming = await staff_sessions.upcoming(ctx.db, ctx.now, limit=20)
    visible = [s for s in upcoming if any(ctx.actor.sees_endpoint(link.endpoint_id) for link in s.endpoints)]
    if not visible:
        return Reply(ctx.t("staff.sessions.none"))
    rounds = [session.id for session in visible if session.per_endpoint]
    petitions = await staff_sessions.petition_counts(ctx.db, rounds)
    heard = [session.id for session in visible if session.kind == EventKind.HEARING]
    hearing_infos = await hearings.hearings_info(ctx.db, heard, ctx.settings.timing)
    blocks = [
        overview_item(ctx, session, petitions.get(session.id), hearing_infos.get(session.id))
        for session in visible
    ]
    return Reply(ctx.t("staff.sessions.title") + "\n\n" + "\n\n".join(blocks))


overview.handle("list")(back_home)


def _sees(ctx: Ctx, session: SessionInfo) -> bool:
    """An event at one of the actor's endpoints; one with none (a hearing held in its room
    only) is seen by those who see every endpoint."""
    if ctx.actor.endpoint_ids is None:
        return True
    return any(ctx.actor.sees_endpoint(link.endpoint_id) for link in session.endpoints)


async def session_from_args(ctx: Ctx, command: str) -> SessionInfo:
    """The session named by `/command ID`, visible to the actor, or the command's usage."""
    if not ctx.args.isdecimal():
        raise usage(command)
    session_id = inputs.whole_number(ctx.args, inputs.MAX_ROW_ID)  # past it no session can exist
    session = None if session_id is None else await staff_sessions.session_info(ctx.db, session_id)
    if session is None or not _sees(ctx, session):
        raise Invalid("staff.session.not_found", id=ctx.args)
    return session


async def session_to_send(ctx: Ctx, command: str, export: str, other_kind: str) -> SessionInfo | None:
    """The session of `/command ID` whose kind has the `export` (its policy's exports), asked
    for in a chat that carries files; else None, the staff member told why (`other_kind`: the
    message for a session of another kind)."""
    try:
        session = await session_from_args(ctx, command)
    except Invalid as invalid:
        ctx.say(invalid.message_id, **invalid.fields)
        return None
    if export not in policy(session.kind).exports:
        ctx.say(other_kind, id=session.id)
        return None
    if not ctx.capabilities.documents:  # the Zalo Bot API sends no files
        ctx.say("staff.export.no_files_here")
        return None
    return session


@detail.ask("show")
async def ask_detail(ctx: Ctx) -> Reply | Next:
    try:
        session = await session_from_args(ctx, "session")
    except Invalid as invalid:
        ctx.say(invalid.message_id, **invalid.fields)
        return Goto("staff_home", data={})
    if session.per_endpoint:
        return Reply(await round_detail(ctx, session))
    if session.kind == EventKind.HEARING:
        hearing = await hearings.hearing_info(ctx.db, session.id, ctx.settings.timing)
        if hearing is not None:
            return Reply(hearing_views.detail(ctx, hearing, endpoint_names(ctx, session)))
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
    text = (
        ctx.t("events.kind_line", kind=ctx.t(f"session.kind.{session.kind.value}"))
        + "\n"
        + ctx.t(
            "staff.session.detail",
            id=session.id,
            title=session.title,
            host=session.host or "—",
            when=ctx.dt(session.starts_at),
            deadline=ctx.dt(summary_deadline(session.starts_at, ctx.settings.summary_lead_days)),
            status=ctx.t(f"session.status.{session.status.value}"),
            room=session.online_room or "—",
        )
    )
    return Reply(text + "\n\n" + "\n\n".join(blocks))


async def round_detail(ctx: Ctx, session: SessionInfo) -> str:
    """A voter-contact round: its deadlines, and per endpoint its time, seats and petitions."""
    petitions = (await staff_sessions.petition_counts(ctx.db, [session.id])).get(session.id)
    counts = petitions or PetitionCount({})
    stops = [
        ctx.t(
            "events.detail.stop",
            endpoint=link.endpoint_name,
            when=ctx.dt(link.starts_at),
            taken=link.seats_taken,
            capacity=link.capacity,
            petitions=counts.at(link.endpoint_id),
        )
        for link in session.endpoints
        if ctx.actor.sees_endpoint(link.endpoint_id)
    ]
    # Written petitions from communes not connected belong to no endpoint of a scope.
    written = counts.elsewhere(session.endpoint_ids) if ctx.actor.endpoint_ids is None else 0
    text = ctx.t(
        "events.detail.round",
        id=session.id,
        title=session.title,
        host=session.host or "—",
        status=ctx.t(f"session.status.{session.status.value}"),
        room=session.online_room or "—",
        petitions=visible_petitions(ctx, session, petitions),
        written=written,
        **round_deadlines(ctx, session),
    )
    return text + "\n\n" + "\n\n".join(stops)


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


# --- /newevent (and /newsession) -------------------------------------------------


@create.ask("kind")
async def ask_kind(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("events.new.kind"),
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
    draft = NewSessionDraft.of(ctx)
    if draft.hearing:
        return Reply(ctx.t("hsetup.new.title"))
    return Reply(ctx.t("events.new.round_title" if draft.per_endpoint else "staff.new.title"))


@create.handle("title", text=True)
async def on_title(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    draft.title = short_text(
        answer, "events.new.round_title_invalid" if draft.per_endpoint else "staff.new.title_invalid"
    )
    return "host"


@create.ask("host")
async def ask_host(ctx: Ctx) -> Reply:
    draft = NewSessionDraft.of(ctx)
    if draft.hearing:
        return Reply(ctx.t("hsetup.new.host"))
    return Reply(ctx.t("events.new.group" if draft.per_endpoint else "staff.new.host"))


@create.handle("host", text=True)
async def on_host(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    draft.host = short_text(
        answer, "events.new.group_invalid" if draft.per_endpoint else "staff.new.host_invalid"
    )
    return "endpoints" if draft.per_endpoint else "date"


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
    prompt = "events.new.endpoints" if NewSessionDraft.of(ctx).per_endpoint else "staff.new.endpoints"
    return Reply(ctx.t(prompt), (ctx.option("all", "staff.scope.all"),))


@create.handle("endpoints")
async def on_endpoints(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    draft.endpoint_ids = await chosen_scope(ctx, answer)
    chosen = await chosen_endpoints(ctx)
    if not chosen:  # "all" with no active endpoint: nobody could register
        raise Invalid("staff.new.no_endpoints")
    if draft.hearing:  # watched at the endpoints: the seats matter little, the default is kept
        draft.capacity = ctx.settings.default_capacity
        return "room"
    if not draft.per_endpoint:
        return "capacity"
    # A round asks each endpoint's time in turn: the list is fixed now, in the order shown.
    draft.endpoint_ids = [endpoint.id for endpoint in chosen]
    draft.stops = {key: start for key, start in draft.stops.items() if int(key) in draft.endpoint_ids}
    return "stop" if next_stop(draft) is not None else "capacity"


# --- a round: the date and time at each endpoint -------------------------------------


def next_stop(draft: NewSessionDraft) -> int | None:
    """The first endpoint of the round whose time is not given yet."""
    return next((i for i in draft.endpoint_ids or [] if str(i) not in draft.stops), None)


def stop_starts(draft: NewSessionDraft) -> dict[int, datetime]:
    return {int(key): datetime.fromisoformat(start) for key, start in draft.stops.items()}


def last_given(draft: NewSessionDraft) -> datetime | None:
    """The time given for the endpoint asked last (what "the same" repeats)."""
    given = [draft.stops[str(i)] for i in draft.endpoint_ids or [] if str(i) in draft.stops]
    return datetime.fromisoformat(given[-1]) if given else None


@create.ask("stop")
async def ask_stop(ctx: Ctx) -> Reply | Next:
    draft = NewSessionDraft.of(ctx)
    endpoint_id = next_stop(draft)
    if endpoint_id is None:
        return "capacity"
    names = {endpoint.id: endpoint.name for endpoint in await chosen_endpoints(ctx)}
    ids = draft.endpoint_ids or []
    text = ctx.t(
        "events.new.stop",
        endpoint=names.get(endpoint_id, "—"),
        n=len(draft.stops) + 1,
        total=len(ids),
    )
    previous = last_given(draft)
    if previous is None:
        return Reply(text)
    left = len(ids) - len(draft.stops)
    options = [ctx.option("same", "events.new.stop_same", when=ctx.dt(previous))]
    if left > 1:
        options.append(ctx.option("rest", "events.new.stop_rest", count=left, when=ctx.dt(previous)))
    return Reply(text, tuple(options))


@create.handle("stop", text=True)
async def on_stop(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    endpoint_id = next_stop(draft)
    if endpoint_id is None:
        return "capacity"
    previous = last_given(draft)
    if answer.choice in ("same", "rest") and previous is not None:
        if previous <= ctx.now:
            raise Invalid("staff.new.date_past")
        wanted = (
            [endpoint_id]
            if answer.choice == "same"
            else [i for i in draft.endpoint_ids or [] if str(i) not in draft.stops]
        )
        draft.stops = {**draft.stops, **{str(i): previous.isoformat() for i in wanted}}
    else:
        _, starts_at = parse_date_and_time(ctx, answer.text)
        if starts_at is None:
            raise Invalid("events.new.stop_time_missing")
        draft.stops = {**draft.stops, str(endpoint_id): starts_at.isoformat()}
    return "stop" if next_stop(draft) is not None else "capacity"


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
    draft = NewSessionDraft.of(ctx)
    draft.room = room
    if draft.hearing:
        return "topics"
    return "compile" if draft.per_endpoint else "review"


# --- a round: the compile and materials deadlines -----------------------------------


def parse_deadline(ctx: Ctx, text: str) -> datetime:
    """ "20/12/2026 17:00", or a date alone: the end of that day (23:59), local time."""
    try:
        day, starts_at = parse_date_and_time(ctx, text)
    except Invalid as invalid:
        if invalid.message_id == "staff.new.date_past":
            raise
        raise Invalid("events.new.deadline_invalid") from None
    if starts_at is not None:
        return starts_at
    year, month, date_of_month = day
    return datetime.combine(datetime(year, month, date_of_month).date(), time(23, 59), ctx.settings.tz)


def round_defaults(ctx: Ctx, draft: NewSessionDraft) -> tuple[datetime, datetime]:
    """The default compile and materials deadlines of the round being made."""
    starts = stop_starts(draft).values()
    timing = ctx.settings.timing
    return default_compile_deadline(max(starts), timing), default_materials_deadline(min(starts), timing)


@create.ask("compile")
async def ask_compile(ctx: Ctx) -> Reply:
    default, _ = round_defaults(ctx, NewSessionDraft.of(ctx))
    days = ctx.settings.timing.compile_days_after
    return Reply(
        ctx.t("events.new.compile", days=days, default=ctx.dt(default)),
        (ctx.option("default", "events.new.deadline_default", when=ctx.dt(default)),),
    )


@create.handle("compile", text=True)
async def on_compile(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    default, _ = round_defaults(ctx, draft)
    if answer.choice == "default":
        draft.compile_deadline = default.isoformat()
        return "materials"
    deadline = parse_deadline(ctx, answer.text)
    last = max(stop_starts(draft).values())
    if deadline <= last:
        raise Invalid("events.new.compile_too_early", last=ctx.dt(last))
    draft.compile_deadline = deadline.isoformat()
    return "materials"


@create.ask("materials")
async def ask_materials(ctx: Ctx) -> Reply:
    _, default = round_defaults(ctx, NewSessionDraft.of(ctx))
    days = ctx.settings.timing.materials_days_before
    return Reply(
        ctx.t("events.new.materials", days=days, default=ctx.dt(default)),
        (ctx.option("default", "events.new.deadline_default", when=ctx.dt(default)),),
    )


@create.handle("materials", text=True)
async def on_materials(ctx: Ctx, answer: Answer) -> Next:
    draft = NewSessionDraft.of(ctx)
    _, default = round_defaults(ctx, draft)
    if answer.choice == "default":
        draft.materials_deadline = default.isoformat()
        return "review"
    deadline = parse_deadline(ctx, answer.text)
    first = min(stop_starts(draft).values())
    if deadline >= first:
        raise Invalid("events.new.materials_too_late", first=ctx.dt(first))
    draft.materials_deadline = deadline.isoformat()
    return "review"


async def chosen_endpoints(ctx: Ctx) -> list[EndpointInfo]:
    """The endpoints chosen that are still offered, by name."""
    return await staff_endpoints.offered(ctx.db, NewSessionDraft.of(ctx).endpoint_ids)


@create.ask("review")
async def ask_new_review(ctx: Ctx) -> Reply | Next:
    d = NewSessionDraft.of(ctx)
    if d.per_endpoint:
        return await ask_round_review(ctx)
    if d.hearing:
        if not (d.topics and d.report_deadline and d.questions_deadline):
            # A hearing begun before hearings had topics (kept across an upgrade): what it
            # lacks is asked now, from the topics on; nothing entered is lost.
            return "topics"
        return await hearing_setup.ask_review(ctx, d, await chosen_endpoints(ctx))
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
    if d.per_endpoint:
        return await save_round(ctx)
    if d.hearing:
        return await hearing_setup.save(ctx, d, [endpoint.id for endpoint in await chosen_endpoints(ctx)])
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


async def ask_round_review(ctx: Ctx) -> Reply:
    d = NewSessionDraft.of(ctx)
    endpoints = await chosen_endpoints(ctx)
    starts = stop_starts(d)
    rule, timing = policy(EventKind(d.kind)), ctx.settings.timing
    shown = [endpoint for endpoint in endpoints if endpoint.id in starts]
    shown.sort(key=lambda endpoint: (starts[endpoint.id], endpoint.name))
    stops = "\n".join(
        ctx.t("events.new.stop_line", endpoint=endpoint.name, when=ctx.dt(starts[endpoint.id]))
        for endpoint in shown
    )
    compile_deadline = datetime.fromisoformat(d.compile_deadline)
    materials = datetime.fromisoformat(d.materials_deadline)
    text = ctx.t(
        "events.new.review_round",
        kind=ctx.t(f"session.kind.{d.kind}"),
        title=d.title,
        host=d.host,
        stops=stops,
        count=len(shown),
        capacity=d.capacity,
        room=d.room or "—",
        compile=ctx.dt(compile_deadline),
        materials=ctx.dt(materials),
    )
    warnings = []
    closed = [e.name for e in shown if rule.sign_up_deadline(starts[e.id], timing) < ctx.now]
    if closed:
        warnings.append(
            ctx.t("events.new.signup_passed", endpoints=", ".join(closed), days=timing.signup_close_days)
        )
    if materials < ctx.now:
        warnings.append(ctx.t("events.new.materials_passed", when=ctx.dt(materials)))
    return Reply(
        "\n\n".join([*warnings, text]),
        (ctx.option("save", "events.new.save_round"), ctx.option("cancel", "staff.new.discard")),
    )


async def save_round(ctx: Ctx) -> Next:
    d = NewSessionDraft.of(ctx)
    offered = {endpoint.id for endpoint in await chosen_endpoints(ctx)}
    starts = {endpoint_id: start for endpoint_id, start in stop_starts(d).items() if endpoint_id in offered}
    if not starts:  # deactivated since they were chosen
        ctx.say("staff.new.no_endpoints")
        return "endpoints"
    past = [endpoint_id for endpoint_id, start in starts.items() if start <= ctx.now]
    if past:  # the time went by while the round was being written: ask those again
        d.stops = {key: start for key, start in d.stops.items() if int(key) not in past}
        ctx.say("events.new.stop_past")
        return "stop"
    session = await staff_sessions.create(
        ctx.db,
        kind=EventKind(d.kind),
        title=d.title,
        host=d.host,
        starts_at=min(starts.values()),
        endpoint_ids=list(starts),
        capacity=d.capacity,
        online_room=d.room,
        now=ctx.now,
        endpoint_starts=starts,
        compile_deadline=datetime.fromisoformat(d.compile_deadline),
        materials_deadline=datetime.fromisoformat(d.materials_deadline),
    )
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="session.create",
        target_type="session",
        target_id=session.id,
    )
    ctx.say("events.new.saved_round", id=session.id)
    return Goto("staff_home", data={})


hearing_setup.register(create, NewSessionDraft.of, parse_deadline)


# /newsession, as before: the same steps and draft under its old command (and the flow name a
# conversation left in the middle of it is stored under).
legacy = replace(create, name="newsession", command="newsession")
