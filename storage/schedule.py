"""Moving and cancelling sessions: every affected citizen is told at once, in the same
transaction as the change; a change inside the notice window needs an explicit override,
and the override and its reason are audited."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import NotFound
from storage.models import Event, EventStatus, SignUp, SignUpStatus
from storage.outbox import NoticeKind, SessionCancelled, SessionMoved, queue_all
from storage.registrations import ACTIVE
from storage.rules import summary_deadline
from storage.staff import Actor


def inside_notice_window(now: datetime, notice_days: int, *starts: datetime) -> bool:
    """True when any of these starts is less than `notice_days` away."""
    return any(now > start - timedelta(days=notice_days) for start in starts)


async def affected(db: AsyncSession, session_id: int) -> list[SignUp]:
    """Confirmed and waitlisted registrations: everyone who expects to come."""
    return list(
        await db.scalars(
            select(SignUp)
            .where(SignUp.session_id == session_id, SignUp.status.in_(ACTIVE))
            .order_by(SignUp.id)
        )
    )


async def affected_count(db: AsyncSession, session_id: int) -> int:
    """How many registrations `affected` would list."""
    count = await db.scalar(
        select(func.count())
        .select_from(SignUp)
        .where(SignUp.session_id == session_id, SignUp.status.in_(ACTIVE))
    )
    return count or 0


async def _session(db: AsyncSession, session_id: int) -> Event:
    session = await db.get(Event, session_id)
    if session is None:
        raise NotFound(f"session {session_id}")
    return session


async def reschedule(
    db: AsyncSession,
    session_id: int,
    new_start: datetime,
    *,
    reason: str,
    override: bool,
    lead_days: int,
    actor: Actor,
    now: datetime,
) -> int:
    """Move the session (the summary deadline moves with it). Returns how many were told."""
    session = await _session(db, session_id)
    old_start = session.starts_at
    session.starts_at, session.status = new_start, EventStatus.RESCHEDULED
    people = await affected(db, session.id)
    deadline = summary_deadline(new_start, lead_days)
    await queue_all(
        db,
        NoticeKind.SESSION_MOVED,
        [(r.citizen_id, SessionMoved(r.id, old_start, new_start, deadline, reason)) for r in people],
        now=now,
    )
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action="session.reschedule",
        target_type="session",
        target_id=session.id,
        old=old_start.isoformat(),
        new=new_start.isoformat(),
        reason=reason,
        short_notice_override=override,
        told=len(people),
    )
    await db.flush()
    return len(people)


async def cancel(
    db: AsyncSession, session_id: int, *, reason: str, override: bool, actor: Actor, now: datetime
) -> int:
    """Cancel the session and its registrations. Returns how many were told."""
    session = await _session(db, session_id)
    session.status = EventStatus.CANCELLED
    people = await affected(db, session.id)
    told = [(r.citizen_id, SessionCancelled(r.id, reason)) for r in people]
    await queue_all(db, NoticeKind.SESSION_CANCELLED, told, now=now)
    for registration in people:
        registration.status, registration.cancelled_at, registration.updated_at = (
            SignUpStatus.CANCELLED,
            now,
            now,
        )
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action="session.cancel",
        target_type="session",
        target_id=session.id,
        reason=reason,
        short_notice_override=override,
        told=len(people),
    )
    await db.flush()
    return len(people)
