"""Events as staff see and make them, as plain data: the coming ones with their seats (and,
for a voter-contact round, the start) per endpoint, one with its registrations, the petitions
counted, a new one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import (
    Endpoint,
    Event,
    EventEndpoint,
    EventKind,
    EventStatus,
    SignUp,
    SignUpStatus,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.review import Case, case_of
from storage.rules import OPEN_STATUSES
from storage.sessions import create_session


@dataclass(frozen=True)
class Seats:
    """One endpoint of a session."""

    session_endpoint_id: int
    endpoint_id: int
    endpoint_name: str
    capacity: int
    seats_taken: int
    starts_at: datetime  # its own start, else the event's


def times_per_endpoint(kind: EventKind) -> bool:
    """A voter-contact round visits its communes at times of their own; the other kinds
    start at one time everywhere."""
    return kind == EventKind.VOTER_MEETING


@dataclass(frozen=True)
class SessionInfo:
    id: int
    kind: EventKind
    title: str
    host: str
    starts_at: datetime  # the earliest start over its endpoints
    status: EventStatus
    online_room: str
    endpoints: tuple[Seats, ...]
    compile_deadline: datetime | None = None  # voter contact: petitions compiled by then
    materials_deadline: datetime | None = None  # voter contact: materials to the delegates by then

    @property
    def endpoint_ids(self) -> frozenset[int]:
        return frozenset(seats.endpoint_id for seats in self.endpoints)

    @property
    def last_start(self) -> datetime:
        return max((seats.starts_at for seats in self.endpoints), default=self.starts_at)

    @property
    def per_endpoint(self) -> bool:
        return times_per_endpoint(self.kind)


def info_of(session: Event) -> SessionInfo:
    """Its endpoints in the order they meet (a round's itinerary; one start: as added)."""
    links = sorted(session.endpoints, key=lambda link: (link.starts_at or session.starts_at, link.id))
    return SessionInfo(
        id=session.id,
        kind=session.kind,
        title=session.title,
        host=session.host,
        starts_at=session.starts_at,
        status=session.status,
        online_room=session.online_room,
        endpoints=tuple(
            Seats(
                link.id,
                link.endpoint_id,
                link.endpoint.name,
                link.capacity,
                link.seats_taken,
                link.starts_at or session.starts_at,
            )
            for link in links
        ),
        compile_deadline=session.compile_deadline,
        materials_deadline=session.materials_deadline,
    )


async def upcoming(db: AsyncSession, now: datetime, limit: int = 10) -> list[SessionInfo]:
    """Events not cancelled with a meeting still to come (a round whose first communes have
    met is still listed for the others), soonest first."""
    still_to_meet = (
        select(EventEndpoint.id)
        .where(EventEndpoint.session_id == Event.id, EventEndpoint.starts_at > now)
        .exists()
    )
    found = await db.scalars(
        select(Event)
        .where(or_(Event.starts_at > now, still_to_meet), Event.status.in_(OPEN_STATUSES))
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
        .options(selectinload(Event.endpoints))
    )
    return [info_of(session) for session in found]


async def latest_held(db: AsyncSession, now: datetime, limit: int = 5) -> list[SessionInfo]:
    """Events that have met and were not cancelled, the latest first (their results are told
    after them)."""
    found = await db.scalars(
        select(Event)
        .where(Event.starts_at <= now, Event.status != EventStatus.CANCELLED)
        .order_by(Event.starts_at.desc(), Event.id.desc())
        .limit(limit)
        .options(selectinload(Event.endpoints))
    )
    return [info_of(session) for session in found]


async def session_info(db: AsyncSession, session_id: int) -> SessionInfo | None:
    session = await db.get(Event, session_id, options=[selectinload(Event.endpoints)])
    return None if session is None else info_of(session)


async def session_cases(db: AsyncSession, session_id: int) -> list[Case]:
    """The session's registrations that are not cancelled, by endpoint, in queue order."""
    found = await db.scalars(
        select(SignUp)
        .where(SignUp.session_id == session_id, SignUp.status != SignUpStatus.CANCELLED)
        .order_by(SignUp.session_endpoint_id, SignUp.queued_at, SignUp.id)
    )
    return [case_of(registration) for registration in found]


@dataclass(frozen=True)
class PetitionCount:
    """The petitions handed in for a round (withdrawn ones not counted), by commune."""

    by_endpoint: dict[int | None, int]  # endpoint id (None: no commune given) -> petitions

    @property
    def total(self) -> int:
        return sum(self.by_endpoint.values())

    def at(self, endpoint_id: int) -> int:
        return self.by_endpoint.get(endpoint_id, 0)

    def elsewhere(self, connected: Iterable[int]) -> int:
        """Written petitions from communes the round does not connect."""
        ids = set(connected)
        return sum(count for endpoint, count in self.by_endpoint.items() if endpoint not in ids)


COUNTED = (SubmissionStatus.ACTIVE, SubmissionStatus.MERGED)  # a merged one still came from a voter


async def petition_counts(db: AsyncSession, event_ids: Iterable[int]) -> dict[int, PetitionCount]:
    """The petitions of these events, counted in one read (an event with none is absent)."""
    ids = list(event_ids)
    if not ids:
        return {}
    rows = await db.execute(
        select(Submission.event_id, Submission.endpoint_id, func.count())
        .where(
            Submission.event_id.in_(ids),
            Submission.kind == SubmissionKind.PETITION,
            Submission.status.in_(COUNTED),
        )
        .group_by(Submission.event_id, Submission.endpoint_id)
    )
    found: dict[int, dict[int | None, int]] = {}
    for event_id, endpoint_id, count in rows:
        found.setdefault(event_id, {})[endpoint_id] = count
    return {event_id: PetitionCount(counts) for event_id, counts in found.items()}


@dataclass(frozen=True)
class NewSession:
    id: int
    total: int  # sessions there are now, this one included


async def create(
    db: AsyncSession,
    *,
    kind: EventKind,
    title: str,
    host: str,
    starts_at: datetime,
    endpoint_ids: Iterable[int],
    capacity: int,
    online_room: str,
    now: datetime,
    endpoint_starts: Mapping[int, datetime] | None = None,
    compile_deadline: datetime | None = None,
    materials_deadline: datetime | None = None,
) -> NewSession:
    """An event with `capacity` seats at each of these endpoints; a voter-contact round with
    each endpoint's own start (`endpoint_starts`) and its compile and materials deadlines."""
    chosen = await db.scalars(select(Endpoint).where(Endpoint.id.in_(list(endpoint_ids))))
    session = await create_session(
        db,
        title=title,
        host=host,
        starts_at=starts_at,
        endpoints=[(endpoint, capacity) for endpoint in chosen],
        online_room=online_room,
        kind=kind,
        now=now,
        endpoint_starts=endpoint_starts,
        compile_deadline=compile_deadline,
        materials_deadline=materials_deadline,
    )
    total = await db.scalar(select(func.count()).select_from(Event))
    return NewSession(session.id, total or 0)
