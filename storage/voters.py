"""Voter-contact rounds (hội nghị tiếp xúc cử tri) as a voter sees them: the coming rounds,
the communes each connects (its stops, each on its own day) and the voter's own sign-up to
attend one.

The deadlines are the kind's policy (`storage.event_kinds`): a sign-up closes
`signup_close_days` before the stop's meeting, petitions at the round's compile deadline.
Reads are Core statements built once; each function is one round trip.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from sqlalchemy import ColumnElement, String, Table, and_, bindparam, cast, exists, func, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import AlreadyRegistered, DeadlinePassed, NotFound, SessionNotOpen
from storage.event_kinds import Timing, policy
from storage.models import Endpoint, Event, EventEndpoint, EventKind, EventStatus, SignUp, SignUpStatus
from storage.rules import OPEN_STATUSES

EVENTS = typing.cast(Table, Event.__table__)
STOPS = typing.cast(Table, EventEndpoint.__table__)
ENDPOINTS = typing.cast(Table, Endpoint.__table__)
SIGN_UPS = typing.cast(Table, SignUp.__table__)

VOTER = policy(EventKind.VOTER_MEETING)


class Person(Protocol):
    """Who signs up (a citizen's record, mapped or plain)."""

    @property
    def id(self) -> int: ...

    @property
    def channel(self) -> str: ...

    @property
    def channel_user_id(self) -> str: ...


def actor(citizen: Person) -> str:
    return f"{citizen.channel}:{citizen.channel_user_id}"


@dataclass(frozen=True)
class Stop:
    """One commune (endpoint) a round connects, on its own day."""

    event_endpoint_id: int
    endpoint_id: int
    endpoint_name: str
    endpoint_address: str
    endpoint_active: bool
    starts_at: datetime
    capacity: int
    seats_taken: int
    sign_up_deadline: datetime  # the last moment to sign up to attend here

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)


@dataclass(frozen=True)
class Attendance:
    """The voter's own active sign-up to attend a round."""

    id: int
    code: str
    status: SignUpStatus
    event_endpoint_id: int
    seats: int

    @property
    def session_endpoint_id(self) -> int:  # as `registrations.cancel` reads it
        return self.event_endpoint_id


@dataclass(frozen=True)
class VoterRound:
    """A voter-contact round with the communes it connects (soonest first)."""

    id: int
    title: str
    host: str  # the delegates' group (tổ đại biểu)
    status: EventStatus
    starts_at: datetime  # the first meeting
    last_start: datetime  # the last meeting
    petition_deadline: datetime  # petitions, spoken or written, until then (compile deadline)
    online_room: str
    stops: tuple[Stop, ...]
    attendance: Attendance | None = None  # the reader's own, when a citizen was given

    @property
    def compile_deadline(self) -> datetime | None:  # as the kind policy reads it (Dated)
        return self.petition_deadline

    def stop_at(self, endpoint_id: int) -> Stop | None:
        return next((stop for stop in self.stops if stop.endpoint_id == endpoint_id), None)

    def stop(self, event_endpoint_id: int) -> Stop | None:
        return next((stop for stop in self.stops if stop.event_endpoint_id == event_endpoint_id), None)

    def open_for_petitions(self, now: datetime) -> bool:
        """The deadline minute itself admitted."""
        return self.status in OPEN_STATUSES and now <= self.petition_deadline


@dataclass(frozen=True)
class _Dated:
    """A round as the kind policy dates it: by its last meeting."""

    status: EventStatus
    starts_at: datetime
    compile_deadline: datetime | None


def petition_deadline(
    status: EventStatus, last_start: datetime, compile_deadline: datetime | None, timing: Timing
) -> datetime:
    return VOTER.submission_deadline(_Dated(status, last_start, compile_deadline), timing)


# --- statements, built once --------------------------------------------------------------

_stop_start = func.coalesce(STOPS.c.starts_at, EVENTS.c.starts_at)
IS_OPEN = or_(*(EVENTS.c.status == status for status in OPEN_STATUSES))
IS_VOTER = EVENTS.c.kind == EventKind.VOTER_MEETING


def _taking_petitions() -> ColumnElement[bool]:
    """The voter round (a row of `events`) is on and its petition deadline is not past: its
    own compile deadline at or after :now, or (none set) a meeting at or after
    :earliest_start (:now less the default compile days). `petition_deadline`, in SQL."""
    later_stop = exists().where(
        STOPS.c.session_id == EVENTS.c.id,
        func.coalesce(STOPS.c.starts_at, EVENTS.c.starts_at) >= bindparam("earliest_start"),
    )
    return and_(
        IS_VOTER,
        IS_OPEN,
        or_(
            EVENTS.c.compile_deadline >= bindparam("now"),
            and_(
                EVENTS.c.compile_deadline.is_(None),
                or_(EVENTS.c.starts_at >= bindparam("earliest_start"), later_stop),
            ),
        ),
    )


def still_taking_petitions(event_id: ColumnElement[int]) -> ColumnElement[bool]:
    """The voter round `event_id` is still taking petitions (see `deadline_params`)."""
    return exists().where(EVENTS.c.id == event_id, _taking_petitions())


def deadline_params(now: datetime, timing: Timing) -> dict[str, datetime]:
    """The parameters of `still_taking_petitions`."""
    return {"now": now, "earliest_start": now - timedelta(days=timing.compile_days_after)}


_ROUND_COLUMNS = (
    EVENTS.c.id.label("event_id"),
    EVENTS.c.title,
    EVENTS.c.host,
    EVENTS.c.status,
    EVENTS.c.starts_at.label("event_starts_at"),
    EVENTS.c.compile_deadline,
    EVENTS.c.online_room,
    STOPS.c.id.label("event_endpoint_id"),
    STOPS.c.capacity,
    STOPS.c.seats_taken,
    _stop_start.label("stop_starts_at"),
    ENDPOINTS.c.id.label("endpoint_id"),
    ENDPOINTS.c.name.label("endpoint_name"),
    ENDPOINTS.c.address.label("endpoint_address"),
    ENDPOINTS.c.active.label("endpoint_active"),
    SIGN_UPS.c.id.label("sign_up_id"),
    SIGN_UPS.c.code.label("sign_up_code"),
    SIGN_UPS.c.status.label("sign_up_status"),
    SIGN_UPS.c.session_endpoint_id.label("sign_up_stop"),
    SIGN_UPS.c.seats.label("sign_up_seats"),
)
_ROUNDS_FROM = (
    EVENTS.outerjoin(STOPS, STOPS.c.session_id == EVENTS.c.id)
    .outerjoin(ENDPOINTS, ENDPOINTS.c.id == STOPS.c.endpoint_id)
    .outerjoin(
        SIGN_UPS,
        and_(
            SIGN_UPS.c.session_id == EVENTS.c.id,
            SIGN_UPS.c.citizen_id == bindparam("citizen_id"),
            SIGN_UPS.c.status != SignUpStatus.CANCELLED,
        ),
    )
)
_ORDER = (EVENTS.c.starts_at, EVENTS.c.id, _stop_start, STOPS.c.id)
# The coming rounds: still taking petitions, soonest first.
_COMING_IDS = (
    select(EVENTS.c.id)
    .where(_taking_petitions())
    .order_by(EVENTS.c.starts_at, EVENTS.c.id)
    .limit(bindparam("limit"))
)
_COMING = (
    select(*_ROUND_COLUMNS)
    .select_from(_ROUNDS_FROM)
    .where(EVENTS.c.id.in_(_COMING_IDS.scalar_subquery()))
    .order_by(*_ORDER)
)
_ONE = (
    select(*_ROUND_COLUMNS)
    .select_from(_ROUNDS_FROM)
    .where(EVENTS.c.id == bindparam("event_id"), IS_VOTER)
    .order_by(*_ORDER)
)


def _rounds(rows: typing.Iterable[Any], timing: Timing) -> list[VoterRound]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.event_id, []).append(row)
    rounds = []
    for event_rows in grouped.values():
        first = event_rows[0]
        stops = tuple(
            Stop(
                event_endpoint_id=row.event_endpoint_id,
                endpoint_id=row.endpoint_id,
                endpoint_name=row.endpoint_name,
                endpoint_address=row.endpoint_address,
                endpoint_active=row.endpoint_active,
                starts_at=row.stop_starts_at,
                capacity=row.capacity,
                seats_taken=row.seats_taken,
                sign_up_deadline=VOTER.sign_up_deadline(row.stop_starts_at, timing),
            )
            for row in event_rows
            if row.event_endpoint_id is not None
        )
        last_start = max((stop.starts_at for stop in stops), default=first.event_starts_at)
        attendance = None
        if first.sign_up_id is not None:
            attendance = Attendance(
                first.sign_up_id,
                first.sign_up_code or "",
                first.sign_up_status,
                first.sign_up_stop,
                first.sign_up_seats,
            )
        rounds.append(
            VoterRound(
                id=first.event_id,
                title=first.title,
                host=first.host,
                status=first.status,
                starts_at=first.event_starts_at,
                last_start=last_start,
                petition_deadline=petition_deadline(first.status, last_start, first.compile_deadline, timing),
                online_room=first.online_room,
                stops=stops,
                attendance=attendance,
            )
        )
    return rounds


# --- reading -----------------------------------------------------------------------------


async def coming_rounds(
    db: AsyncSession, citizen_id: int, now: datetime, timing: Timing, limit: int = 10
) -> list[VoterRound]:
    """The rounds still taking petitions, soonest first, each with its stops and the
    citizen's own sign-up to attend it. One read."""
    params = {"citizen_id": citizen_id, "limit": limit, **deadline_params(now, timing)}
    return _rounds(await db.execute(_COMING, params), timing)


async def voter_round(db: AsyncSession, citizen_id: int, event_id: int, timing: Timing) -> VoterRound | None:
    """One round (whatever its state), with the citizen's own sign-up. One read."""
    found = _rounds(await db.execute(_ONE, {"citizen_id": citizen_id, "event_id": event_id}), timing)
    return found[0] if found else None


# --- attending ---------------------------------------------------------------------------
# Until storage.registrations.sign_up (a seat without a case) lands: the same rules as a
# reception registration (a conditional UPDATE takes the seat, else the waiting list; one
# active sign-up per citizen and event; the code made in the INSERT).

_TAKE_SEAT = (
    STOPS.update()
    .where(
        STOPS.c.id == bindparam("stop_id"),
        STOPS.c.seats_taken + bindparam("seats") <= STOPS.c.capacity,
    )
    .values(seats_taken=STOPS.c.seats_taken + bindparam("seats"))
)
_GIVE_BACK_SEAT = (
    STOPS.update()
    .where(STOPS.c.id == bindparam("stop_id"))
    .values(seats_taken=STOPS.c.seats_taken - bindparam("seats"))
)
_SIGN_UP_VALUES = (
    "citizen_id",
    "session_id",
    "session_endpoint_id",
    "status",
    "seats",
    "created_at",
    "updated_at",
    "queued_at",
)


def numbered_insert(table: Table, columns: tuple[str, ...], dialect: str) -> Any:
    """INSERT … SELECT that takes the row's id first so that its code (PREFIX-YEAR-000123,
    :code_prefix then the id in six digits or more) goes in with it: one statement. The id is
    the one the engine would have given: the sequence's next on PostgreSQL, one past the
    largest on SQLite (whose writers hold the database's lock). A row the unique indexes
    refuse is not inserted (ON CONFLICT DO NOTHING) and nothing is returned; more
    conditions can be added with `.where` on the result's select (see `petitions`)."""
    next_id: ColumnElement[int]
    if dialect == "postgresql":
        next_id = func.nextval(func.pg_get_serial_sequence(table.name, "id"))
    else:
        next_id = func.coalesce(func.max(table.c.id), 0) + 1
    row = select(next_id.label("id")).subquery("next_row")
    digits = cast(row.c.id, String)
    if dialect == "postgresql":
        number = func.lpad(digits, func.greatest(6, func.length(digits)), "0")
    else:
        number = func.printf("%06d", row.c.id)
    return select(
        row.c.id,
        bindparam("code_prefix", type_=String()) + number,
        *(bindparam(name, type_=table.c[name].type) for name in columns),
    )


def insert_from(table: Table, columns: tuple[str, ...], values: Any, dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .from_select(["id", "code", *columns], values)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.code)
    )


_INSERT_SIGN_UP = {
    dialect: insert_from(
        SIGN_UPS,
        _SIGN_UP_VALUES,
        numbered_insert(SIGN_UPS, _SIGN_UP_VALUES, dialect).where(true()),
        dialect,
    )
    for dialect in ("postgresql", "sqlite")
}


def code_prefix(created_at: datetime, tz: tzinfo) -> str:
    """`TXCT-2026-`: the kind's prefix and the year as the office counts it (local time)."""
    return f"{VOTER.code_prefix}-{created_at.astimezone(tz).year}-"


async def attend(
    db: AsyncSession,
    citizen: Person,
    event_id: int,
    event_endpoint_id: int,
    *,
    now: datetime,
    timing: Timing,
    tz: tzinfo,
) -> tuple[VoterRound, Attendance]:
    """A seat at one stop of a round, or a place on its waiting list.

    Raises NotFound, SessionNotOpen, DeadlinePassed (the stop's sign-up deadline) or
    AlreadyRegistered (the code of the sign-up the citizen holds for the round). The caller
    commits."""
    found = await voter_round(db, citizen.id, event_id, timing)
    stop = found.stop(event_endpoint_id) if found else None
    if found is None or stop is None:
        raise NotFound(f"stop {event_endpoint_id} of round {event_id}")
    if found.status not in OPEN_STATUSES or not stop.endpoint_active:
        raise SessionNotOpen(f"round {event_id} is {found.status}")
    if now > stop.sign_up_deadline:
        raise DeadlinePassed(stop.sign_up_deadline, None)
    if found.attendance is not None:
        raise AlreadyRegistered(found.attendance.code)
    seats = 1
    taken = await db.execute(_TAKE_SEAT, {"stop_id": stop.event_endpoint_id, "seats": seats})
    confirmed = bool(taken.rowcount)  # type: ignore[attr-defined]
    status = SignUpStatus.CONFIRMED if confirmed else SignUpStatus.WAITLISTED
    values = {
        "citizen_id": citizen.id,
        "session_id": event_id,
        "session_endpoint_id": stop.event_endpoint_id,
        "status": status,
        "seats": seats,
        "created_at": now,
        "updated_at": now,
        "queued_at": now,
        "code_prefix": code_prefix(now, tz),
    }
    inserted = (await db.execute(_INSERT_SIGN_UP[db.get_bind().dialect.name], values)).first()
    if inserted is None:  # signed up twice at once: the other one won
        if confirmed:
            await db.execute(_GIVE_BACK_SEAT, {"stop_id": stop.event_endpoint_id, "seats": seats})
        again = await voter_round(db, citizen.id, event_id, timing)
        raise AlreadyRegistered(again.attendance.code if again and again.attendance else None)
    sign_up_id, code = inserted
    await audit.write(
        db,
        at=now,
        actor=actor(citizen),
        action="sign_up.attend",
        target_type="sign_up",
        target_id=sign_up_id,
        status=status.value,
    )
    attendance = Attendance(sign_up_id, code, status, stop.event_endpoint_id, seats)
    taken_now = stop.seats_taken + seats if confirmed else stop.capacity
    stops = tuple(dataclasses.replace(s, seats_taken=taken_now) if s is stop else s for s in found.stops)
    return dataclasses.replace(found, stops=stops, attendance=attendance), attendance
