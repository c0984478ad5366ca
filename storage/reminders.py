"""Reminders before a session, derived from the registrations at each tick.

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

from storage.models import Notification, ReceptionSession, Registration, RegistrationStatus
from storage.outbox import queue_once
from storage.rules import OPEN_STATUSES

REMINDER = "reminder"


def reminder_key(registration_id: int, hours: int, starts_at: datetime) -> str:
    return f"{REMINDER}:{registration_id}:{hours}h:{starts_at.isoformat()}"


async def queue_due(
    db: AsyncSession, *, now: datetime, hours_before: tuple[int, ...], calendar: bool = False
) -> int:
    """Write the reminders due now into the outbox. Returns how many were added.

    `calendar`: the first reminder (the earliest offset) carries an .ics file of the session."""
    if not hours_before:
        return 0
    horizon = now + timedelta(hours=max(hours_before))
    rows = (
        await db.execute(
            select(Registration.id, Registration.citizen_id, ReceptionSession.starts_at)
            .join(ReceptionSession, ReceptionSession.id == Registration.session_id)
            .where(
                Registration.status == RegistrationStatus.CONFIRMED,
                ReceptionSession.status.in_(OPEN_STATUSES),
                ReceptionSession.starts_at > now,
                ReceptionSession.starts_at <= horizon,
            )
        )
    ).all()
    wanted: dict[str, tuple[int, dict[str, object]]] = {}
    for registration_id, citizen_id, starts_at in rows:
        hours = min(h for h in hours_before if starts_at - timedelta(hours=h) <= now)
        params = {
            "registration_id": registration_id,
            "hours": hours,
            "starts_at": starts_at.isoformat(),
            "calendar": calendar and hours == max(hours_before),
        }
        wanted[reminder_key(registration_id, hours, starts_at)] = (citizen_id, params)
    if not wanted:
        return 0
    existing = set(
        await db.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(wanted)))
    )
    fresh = {key: notice for key, notice in wanted.items() if key not in existing}
    for key, (citizen_id, params) in fresh.items():
        await queue_once(db, citizen_id=citizen_id, kind=REMINDER, params=params, dedupe_key=key, now=now)
    return len(fresh)
