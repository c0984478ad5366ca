"""Reading sessions and their seats, as plain data for the dialogs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import catalog
from storage.event_kinds import POLICIES, Timing, policy
from storage.models import Endpoint, Event, EventEndpoint, EventKind, EventStatus, UTCDateTime
from storage.rules import OPEN_STATUSES

# Plain tables, not the mapped classes: the statements below are Core, built once.
SESSIONS = cast(Table, Event.__table__)
SESSION_ENDPOINTS = cast(Table, EventEndpoint.__table__)
ENDPOINTS = cast(Table, Endpoint.__table__)


@dataclass(frozen=True)
class SessionSeat:
    """One session at one endpoint, as a citizen choosing where to go sees it."""

    session_endpoint_id: int
    session_id: int
    kind: EventKind
    title: str
    host: str
    starts_at: datetime  # at this endpoint
    deadline: datetime  # to sign up here (the kind's policy)
    status: EventStatus
    online_room: str
    endpoint_id: int
    endpoint_name: str
    endpoint_address: str
    capacity: int
    seats_taken: int
    endpoint_active: bool  # a deactivated endpoint is offered to nobody

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)


# When an event starts at an endpoint: its own time there, else the event's.
STARTS_HERE: ColumnElement[datetime] = func.coalesce(
    SESSION_ENDPOINTS.c.starts_at, SESSIONS.c.starts_at, type_=UTCDateTime()
)
# A session at an endpoint with both sides, in one read (what `seat_of` turns into a SessionSeat).
SEAT_COLUMNS = (
    SESSION_ENDPOINTS.c.id.label("session_endpoint_id"),
    SESSIONS.c.id.label("session_id"),
    SESSIONS.c.kind,
    SESSIONS.c.title,
    SESSIONS.c.host,
    STARTS_HERE.label("starts_at"),
    SESSIONS.c.status,
    SESSIONS.c.online_room,
    ENDPOINTS.c.id.label("endpoint_id"),
    ENDPOINTS.c.name.label("endpoint_name"),
    ENDPOINTS.c.address.label("endpoint_address"),
    SESSION_ENDPOINTS.c.capacity,
    SESSION_ENDPOINTS.c.seats_taken,
    ENDPOINTS.c.active.label("endpoint_active"),
)
SEATS_FROM = SESSION_ENDPOINTS.join(SESSIONS, SESSION_ENDPOINTS.c.session_id == SESSIONS.c.id).join(
    ENDPOINTS, SESSION_ENDPOINTS.c.endpoint_id == ENDPOINTS.c.id
)
# Written out, not IN (…): an IN list is re-expanded into the SQL text at every execution.
IS_OPEN = or_(*(SESSIONS.c.status == status for status in OPEN_STATUSES))
_SEAT = select(*SEAT_COLUMNS).select_from(SEATS_FROM).where(SESSION_ENDPOINTS.c.id == bindparam("id"))
# Kinds whose sign-up carries its case (reception, and hearings for now): the reception flow.
CASE_KINDS = tuple(kind for kind, rules in POLICIES.items() if rules.case_with_sign_up)


def _open_seats(kinds: tuple[EventKind, ...]) -> Any:
    return (
        select(*SEAT_COLUMNS)
        .select_from(SEATS_FROM)
        .where(
            SESSION_ENDPOINTS.c.endpoint_id == bindparam("endpoint_id"),
            ENDPOINTS.c.active.is_(True),
            IS_OPEN,
            or_(*(SESSIONS.c.kind == kind for kind in kinds)),
            bindparam("earliest") <= STARTS_HERE,
        )
        .order_by(STARTS_HERE, SESSIONS.c.id)
    )


_OPEN_SEATS = {CASE_KINDS: _open_seats(CASE_KINDS)} | {(kind,): _open_seats((kind,)) for kind in EventKind}


def timing_of(lead_days: int | Timing) -> Timing:
    """The reception flows pass their lead days; the others the settings' whole `Timing`."""
    return lead_days if isinstance(lead_days, Timing) else Timing(summary_lead_days=lead_days)


def seat_of(row: Any, lead_days: int | Timing) -> SessionSeat:
    """A row of SEAT_COLUMNS as a SessionSeat."""
    return SessionSeat(
        session_endpoint_id=row.session_endpoint_id,
        session_id=row.session_id,
        kind=row.kind,
        title=row.title,
        host=row.host,
        starts_at=row.starts_at,
        deadline=policy(row.kind).sign_up_deadline(row.starts_at, timing_of(lead_days)),
        status=row.status,
        online_room=row.online_room,
        endpoint_id=row.endpoint_id,
        endpoint_name=row.endpoint_name,
        endpoint_address=row.endpoint_address,
        capacity=row.capacity,
        seats_taken=row.seats_taken,
        endpoint_active=row.endpoint_active,
    )


async def open_seats_at(
    db: AsyncSession,
    endpoint_id: int,
    now: datetime,
    lead_days: int | Timing,
    kinds: tuple[EventKind, ...] = CASE_KINDS,
) -> list[SessionSeat]:
    """Events of these kinds at an endpoint still open for sign-up, soonest first (none at
    an endpoint that was deactivated)."""
    timing = timing_of(lead_days)
    # Each kind closes sign-ups some time before the start: starts sooner than that are past.
    earliest = min(now + (now - policy(kind).sign_up_deadline(now, timing)) for kind in kinds)

    async def read() -> tuple[datetime, Sequence[Row[Any]]]:
        params = {"endpoint_id": endpoint_id, "earliest": earliest}
        return earliest, (await db.execute(_OPEN_SEATS[kinds], params)).all()

    # Kept between events (`storage.catalog`) and narrowed to `now` each time: as time goes
    # on, fewer of the rows kept are open, and none opens that was not among them.
    read_from, rows = await catalog.cached(db, ("open seats", endpoint_id, kinds), read)
    if earliest < read_from:  # a clock set back (tests): the rows kept may miss some
        read_from, rows = await read()
    for row in rows:
        catalog.keep(db, ("seat", row.session_endpoint_id), row)
    return [seat for seat in (seat_of(row, lead_days) for row in rows) if now <= seat.deadline]


async def seat(db: AsyncSession, session_endpoint_id: int, lead_days: int | Timing) -> SessionSeat | None:
    """One session at one endpoint (kept between events, as `open_seats_at`'s)."""

    async def read() -> Row[Any] | None:
        return (await db.execute(_SEAT, {"id": session_endpoint_id})).first()

    row = await catalog.cached(db, ("seat", session_endpoint_id), read)
    return seat_of(row, lead_days) if row else None


@dataclass(frozen=True)
class UpcomingSession:
    """A session still to come, with its seat at each endpoint (in the order they were added)."""

    id: int
    title: str
    starts_at: datetime
    status: EventStatus
    seats: tuple[SessionSeat, ...]


# The next sessions not yet started nor cancelled, each with every seat, in one read.
_NEXT_SESSIONS = (
    select(SESSIONS.c.id)
    .where(SESSIONS.c.starts_at > bindparam("now"), IS_OPEN)
    .order_by(SESSIONS.c.starts_at, SESSIONS.c.id)
    .limit(bindparam("limit"))
)
_UPCOMING = (
    select(*SEAT_COLUMNS)
    .select_from(SEATS_FROM)
    .where(SESSIONS.c.id.in_(_NEXT_SESSIONS.scalar_subquery()))
    .order_by(SESSIONS.c.starts_at, SESSIONS.c.id, SESSION_ENDPOINTS.c.id)
)


async def upcoming(db: AsyncSession, now: datetime, lead_days: int, limit: int = 10) -> list[UpcomingSession]:
    """Sessions not yet started and not cancelled, soonest first, with their seats."""
    found: dict[int, list[SessionSeat]] = {}
    for row in await db.execute(_UPCOMING, {"now": now, "limit": limit}):
        found.setdefault(row.session_id, []).append(seat_of(row, lead_days))
    return [
        UpcomingSession(
            seats[0].session_id, seats[0].title, seats[0].starts_at, seats[0].status, tuple(seats)
        )
        for seats in found.values()
    ]


async def upcoming_sessions(db: AsyncSession, now: datetime, limit: int = 10) -> list[Event]:
    """As `upcoming`, as mapped objects with their endpoints loaded (for the staff flows,
    until they read `upcoming`)."""
    return list(
        await db.scalars(
            select(Event)
            .where(Event.starts_at > now, Event.status.in_(OPEN_STATUSES))
            .order_by(Event.starts_at, Event.id)
            .limit(limit)
            .options(selectinload(Event.endpoints))
        )
    )


async def create_session(
    db: AsyncSession,
    *,
    title: str,
    starts_at: datetime,
    endpoints: list[tuple[Endpoint, int]],
    now: datetime,
    host: str = "",
    online_room: str = "",
    kind: EventKind = EventKind.RECEPTION,
    endpoint_starts: Mapping[int, datetime] | None = None,
    compile_deadline: datetime | None = None,
    materials_deadline: datetime | None = None,
) -> Event:
    """An event with these endpoints and seats. With `endpoint_starts` (endpoint id -> its
    own start: a voter-contact round visits communes on different days) the event starts at
    the earliest of them, whatever `starts_at` says."""
    starts = dict(endpoint_starts or {})
    session = Event(
        kind=kind,
        title=title,
        host=host,
        starts_at=min(starts.values()) if starts else starts_at,
        status=EventStatus.SCHEDULED,
        online_room=online_room,
        compile_deadline=compile_deadline,
        materials_deadline=materials_deadline,
        created_at=now,
        endpoints=[
            EventEndpoint(
                endpoint_id=endpoint.id, capacity=capacity, seats_taken=0, starts_at=starts.get(endpoint.id)
            )
            for endpoint, capacity in endpoints
        ],
    )
    db.add(session)
    await db.flush()
    return session
