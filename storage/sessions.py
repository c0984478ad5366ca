"""Reading sessions and their seats, as plain data for the dialogs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Endpoint, ReceptionSession, SessionEndpoint, SessionKind, SessionStatus
from storage.rules import OPEN_STATUSES, summary_deadline


@dataclass(frozen=True)
class SessionSeat:
    """One session at one endpoint, as a citizen choosing where to go sees it."""

    session_endpoint_id: int
    session_id: int
    title: str
    host: str
    starts_at: datetime
    deadline: datetime
    status: SessionStatus
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


def _seat(link: SessionEndpoint, lead_days: int) -> SessionSeat:
    session = link.session
    return SessionSeat(
        session_endpoint_id=link.id,
        session_id=session.id,
        title=session.title,
        host=session.host,
        starts_at=session.starts_at,
        deadline=summary_deadline(session.starts_at, lead_days),
        status=session.status,
        online_room=session.online_room,
        endpoint_id=link.endpoint.id,
        endpoint_name=link.endpoint.name,
        endpoint_address=link.endpoint.address,
        capacity=link.capacity,
        seats_taken=link.seats_taken,
        endpoint_active=link.endpoint.active,
    )


async def open_seats_at(
    db: AsyncSession, endpoint_id: int, now: datetime, lead_days: int
) -> list[SessionSeat]:
    """Sessions at an endpoint still open for registration, soonest first (none at an
    endpoint that was deactivated)."""
    links = await db.scalars(
        select(SessionEndpoint)
        .join(SessionEndpoint.session)
        .join(SessionEndpoint.endpoint)
        .where(
            SessionEndpoint.endpoint_id == endpoint_id,
            Endpoint.active.is_(True),
            ReceptionSession.status.in_(OPEN_STATUSES),
            ReceptionSession.starts_at >= now + timedelta(days=lead_days),
        )
        .order_by(ReceptionSession.starts_at, ReceptionSession.id)
        .options(selectinload(SessionEndpoint.session))
    )
    return [_seat(link, lead_days) for link in links]


async def seat(db: AsyncSession, session_endpoint_id: int, lead_days: int) -> SessionSeat | None:
    link = await db.scalar(
        select(SessionEndpoint)
        .where(SessionEndpoint.id == session_endpoint_id)
        .options(selectinload(SessionEndpoint.session))
    )
    return _seat(link, lead_days) if link else None


async def upcoming_sessions(db: AsyncSession, now: datetime, limit: int = 10) -> list[ReceptionSession]:
    """Sessions not yet started and not cancelled, with their endpoints loaded."""
    return list(
        await db.scalars(
            select(ReceptionSession)
            .where(ReceptionSession.starts_at > now, ReceptionSession.status.in_(OPEN_STATUSES))
            .order_by(ReceptionSession.starts_at, ReceptionSession.id)
            .limit(limit)
            .options(selectinload(ReceptionSession.endpoints))
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
    kind: SessionKind = SessionKind.RECEPTION,
) -> ReceptionSession:
    session = ReceptionSession(
        kind=kind,
        title=title,
        host=host,
        starts_at=starts_at,
        status=SessionStatus.SCHEDULED,
        online_room=online_room,
        created_at=now,
        endpoints=[
            SessionEndpoint(endpoint_id=endpoint.id, capacity=capacity, seats_taken=0)
            for endpoint, capacity in endpoints
        ],
    )
    db.add(session)
    await db.flush()
    return session
