"""Voter-contact rounds (hội nghị tiếp xúc cử tri) as a voter sees them: the coming rounds,
the communes each connects (its stops, each on its own day) and the voter's own sign-up to
attend one.

The deadlines are the kind's policy (`storage.event_kinds`): a sign-up closes
`signup_close_days` before the stop's meeting, petitions at the round's compile deadline.
Reads are Core statements built once; each function is one round trip.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Table, and_, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import registrations
from storage.event_kinds import EventDates, Timing, policy
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

    questions_deadline = None  # a hearing's (Dated)

    def stop_at(self, endpoint_id: int) -> Stop | None:
        return next((stop for stop in self.stops if stop.endpoint_id == endpoint_id), None)

    def stop(self, event_endpoint_id: int) -> Stop | None:
        return next((stop for stop in self.stops if stop.event_endpoint_id == event_endpoint_id), None)

    def open_for_petitions(self, now: datetime) -> bool:
        """The deadline minute itself admitted."""
        return self.status in OPEN_STATUSES and now <= self.petition_deadline


def petition_deadline(
    status: EventStatus, last_start: datetime, compile_deadline: datetime | None, timing: Timing
) -> datetime:
    # A round is dated by its last meeting.
    return VOTER.submission_deadline(EventDates(last_start, status, compile_deadline), timing)


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


@dataclass(frozen=True)
class OwnAttendance:
    """One of the citizen's sign-ups to attend a round, whatever its state (their data)."""

    code: str
    status: SignUpStatus
    title: str
    endpoint_name: str
    starts_at: datetime  # the meeting at that commune


_OWN_ATTENDANCES = (
    select(
        SIGN_UPS.c.code,
        SIGN_UPS.c.status,
        EVENTS.c.title,
        ENDPOINTS.c.name.label("endpoint_name"),
        _stop_start.label("starts_at"),
    )
    .select_from(
        SIGN_UPS.join(EVENTS, EVENTS.c.id == SIGN_UPS.c.session_id)
        .join(STOPS, STOPS.c.id == SIGN_UPS.c.session_endpoint_id)
        .join(ENDPOINTS, ENDPOINTS.c.id == STOPS.c.endpoint_id)
    )
    .where(SIGN_UPS.c.citizen_id == bindparam("citizen_id"), IS_VOTER)
    .order_by(SIGN_UPS.c.created_at.desc(), SIGN_UPS.c.id.desc())
)


async def attendances_of(db: AsyncSession, citizen_id: int) -> list[OwnAttendance]:
    """Every sign-up of the citizen to attend a voter-contact round, the latest first. One read."""
    rows = await db.execute(_OWN_ATTENDANCES, {"citizen_id": citizen_id})
    return [
        OwnAttendance(row.code or "", row.status, row.title, row.endpoint_name, row.starts_at) for row in rows
    ]


# --- attending ---------------------------------------------------------------------------


async def attend(
    db: AsyncSession,
    citizen: Person,
    event_endpoint_id: int,
    *,
    now: datetime,
    timing: Timing,
    tz: tzinfo,
) -> Attendance:
    """A seat at one stop of a round, or a place on its waiting list: a sign-up without a
    case (`registrations.sign_up`: its capacity, deadline and waitlist rules; the deadline a
    voter-contact one, `signup_close_days` before the stop's meeting).

    Raises NotFound, SessionNotOpen, DeadlinePassed or AlreadyRegistered (the code of the
    sign-up the citizen holds for the round). The caller commits."""
    signed = await registrations.sign_up(
        db, citizen, event_endpoint_id, seats=1, now=now, lead_days=timing, tz=tz
    )
    return Attendance(signed.id, signed.code, signed.status, event_endpoint_id, signed.seats)


def code_prefix(created_at: datetime, tz: tzinfo) -> str:
    """A petition's `KNCT-2026-`: the kind's prefix for submissions and the year as the office
    counts it (local time)."""
    return f"{policy(EventKind.VOTER_MEETING).submission_code_prefix}-{created_at.astimezone(tz).year}-"
