"""Reminders before a session, derived from the registrations at each tick (at the time the
event starts at each one's endpoint: a voter-contact round meets communes on different days).

Nothing is scheduled in memory or written ahead: at every outbox tick, each confirmed
registration whose session starts within the largest offset gets the reminder that is
due now (the latest one: "tomorrow" or "in two hours"), keyed by registration, offset
and start time. So a cancelled registration is never reminded, a moved session is
reminded of its new time only, a late sign-up gets just the reminder that still fits,
and a restart sends nothing twice (the key is unique in the outbox).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Event, EventEndpoint, SignUp, SignUpStatus
from storage.outbox import NoticeKind, Reminder, queue_all
from storage.rules import OPEN_STATUSES
from storage.sessions import STARTS_HERE


async def queue_due(
    db: AsyncSession, *, now: datetime, hours_before: tuple[int, ...], calendar: bool = False
) -> None:
    """Write the reminders due now into the outbox.

    `calendar`: the first reminder (the earliest offset) carries an .ics file of the session."""
    if not hours_before:
        return
    horizon = now + timedelta(hours=max(hours_before))
    starts = STARTS_HERE
    rows = (
        await db.execute(
            select(SignUp.id, SignUp.citizen_id, starts)
            .join(Event, Event.id == SignUp.session_id)
            .join(EventEndpoint, EventEndpoint.id == SignUp.session_endpoint_id)
            .where(
                SignUp.status == SignUpStatus.CONFIRMED,
                Event.status.in_(OPEN_STATUSES),
                starts > now,
                starts <= horizon,
            )
        )
    ).all()
    due = []
    for registration_id, citizen_id, starts_at in rows:
        hours = min(h for h in hours_before if starts_at - timedelta(hours=h) <= now)
        first = hours == max(hours_before)
        due.append((citizen_id, Reminder(registration_id, hours, starts_at, calendar=calendar and first)))
    await queue_all(db, NoticeKind.REMINDER, due, now=now)
