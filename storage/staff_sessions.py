"""Sessions as staff see and make them, as plain data: the coming ones with their seats per
endpoint, one with its registrations, a new one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import (
    Endpoint,
    Event,
    EventKind,
    EventStatus,
    SignUp,
    SignUpStatus,
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


@dataclass(frozen=True)
class SessionInfo:
    id: int
    kind: EventKind
    title: str
    host: str
    starts_at: datetime
    status: EventStatus
    online_room: str
    endpoints: tuple[Seats, ...]

    @property
    def endpoint_ids(self) -> frozenset[int]:
        return frozenset(seats.endpoint_id for seats in self.endpoints)


def info_of(session: Event) -> SessionInfo:
    return SessionInfo(
        id=session.id,
        kind=session.kind,
        title=session.title,
        host=session.host,
        starts_at=session.starts_at,
        status=session.status,
        online_room=session.online_room,
        endpoints=tuple(
            Seats(link.id, link.endpoint_id, link.endpoint.name, link.capacity, link.seats_taken)
            for link in session.endpoints
        ),
    )


async def upcoming(db: AsyncSession, now: datetime, limit: int = 10) -> list[SessionInfo]:
    """Sessions not yet started and not cancelled, soonest first."""
    found = await db.scalars(
        select(Event)
        .where(Event.starts_at > now, Event.status.in_(OPEN_STATUSES))
        .order_by(Event.starts_at, Event.id)
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
) -> NewSession:
    """A session with `capacity` seats at each of these endpoints."""
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
    )
    total = await db.scalar(select(func.count()).select_from(Event))
    return NewSession(session.id, total or 0)
