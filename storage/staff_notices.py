"""Notices to staff, derived from the sessions at each outbox tick (like reminders):

- at the summary deadline, every admin gets the session's list for the Standing Committee;
- at 14:00 the day before, the officers of its endpoints are reminded to test the connection;
- six days before, a session without registrations is flagged to the admins.

Each is keyed by session, start and recipient, so it goes once, and again only if the
session moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import citizens
from storage.identity import UserKey
from storage.models import Event, SignUp, StaffMember, StaffRole
from storage.outbox import NoticeKind, SessionNotice, queue_all
from storage.registrations import ACTIVE
from storage.rules import OPEN_STATUSES, summary_deadline

EMPTY_FLAG_DAYS = 6
CONNECTION_CHECK_AT = time(14, 0)


async def _staff(
    db: AsyncSession, role: StaffRole, admins: frozenset[UserKey]
) -> list[StaffMember | UserKey]:
    members: list[StaffMember | UserKey] = list(
        await db.scalars(select(StaffMember).where(StaffMember.active.is_(True), StaffMember.role == role))
    )
    if role == StaffRole.ADMIN:
        known = {(m.channel, m.user_id) for m in members if isinstance(m, StaffMember)}
        members += [key for key in admins if (key.channel, key.user_id) not in known]
    return members


async def admins(db: AsyncSession, admin_keys: frozenset[UserKey]) -> list[UserKey]:
    """Every admin: active admin staff and those named in ADMINS."""
    return [
        member if isinstance(member, UserKey) else UserKey(member.channel, member.user_id)
        for member in await _staff(db, StaffRole.ADMIN, admin_keys)
    ]


async def _queue(
    db: AsyncSession,
    recipients: Sequence[StaffMember | UserKey],
    kind: NoticeKind,
    session: Event,
    now: datetime,
) -> None:
    keys = [r if isinstance(r, UserKey) else UserKey(r.channel, r.user_id) for r in recipients]
    notice = SessionNotice(session.id, session.starts_at)
    due = [((await citizens.get_or_create(db, key, now=now)).id, notice) for key in keys]
    await queue_all(db, kind, due, now=now)


async def queue_due(
    db: AsyncSession, *, now: datetime, lead_days: int, tz: ZoneInfo, admins: frozenset[UserKey]
) -> None:
    horizon = now + timedelta(days=max(lead_days, EMPTY_FLAG_DAYS) + 1)
    coming = list(
        await db.scalars(
            select(Event)
            .where(
                Event.status.in_(OPEN_STATUSES),
                Event.starts_at > now,
                Event.starts_at <= horizon,
            )
            .options(selectinload(Event.endpoints))
        )
    )
    if not coming:
        return
    admin_list = await _staff(db, StaffRole.ADMIN, admins)
    officers = [m for m in await _staff(db, StaffRole.OFFICER, admins) if isinstance(m, StaffMember)]
    for session in coming:
        if now >= summary_deadline(session.starts_at, lead_days):
            await _queue(db, admin_list, NoticeKind.DEADLINE_EXPORT, session, now)
        day_before = session.starts_at.astimezone(tz).date() - timedelta(days=1)
        if now >= datetime.combine(day_before, CONNECTION_CHECK_AT, tz):
            endpoint_ids = {link.endpoint_id for link in session.endpoints}
            theirs = [
                officer
                for officer in officers
                if officer.endpoint_ids is None or endpoint_ids & set(officer.endpoint_ids)
            ]
            await _queue(db, theirs, NoticeKind.CONNECTION_CHECK, session, now)
        if now >= session.starts_at - timedelta(days=EMPTY_FLAG_DAYS):
            registered = await db.scalar(
                select(func.count())
                .select_from(SignUp)
                .where(SignUp.session_id == session.id, SignUp.status.in_(ACTIVE))
            )
            if not registered:
                await _queue(db, admin_list, NoticeKind.EMPTY_SESSION, session, now)
