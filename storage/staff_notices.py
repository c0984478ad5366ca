"""Notices to staff, derived from the events at each outbox tick (like reminders):

- at the summary deadline, every admin gets the session's list for the Standing Committee;
- at CONNECTION_TEST_TIME (14:00) the day before, the officers of its endpoints are reminded
  to test the connection (every kind; a round's endpoints by the day each meets);
- six days before, a session without registrations is flagged to the admins.

Voter-contact rounds (tiếp xúc cử tri), to the admins:

- at the materials deadline, a reminder to send the materials to the delegates;
- when sign-ups close at an endpoint (the day before it meets), its attendance count;
- a day before the compile deadline, a reminder while petitions are still unclassified;
- at the compile deadline, the compiled report (Word, then the Excel table).

Each is keyed by event, start (or deadline) and recipient, so it goes once, and again only
if the event or its deadline moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import citizens, compilation, hearing_reports
from storage.event_kinds import Timing, policy
from storage.identity import UserKey
from storage.models import Event, EventEndpoint, EventKind, SignUp, StaffMember, StaffRole
from storage.outbox import NoticeKind, NoticeParams, RoundDeadline, SessionNotice, queue_all
from storage.registrations import ACTIVE
from storage.rules import OPEN_STATUSES, summary_deadline

EMPTY_FLAG_DAYS = 6
CONNECTION_CHECK_AT = time(14, 0)  # CONNECTION_TEST_TIME's default
# A round whose first start is this recent may still be compiling its petitions.
ROUND_LOOKBACK = timedelta(days=60)
# A deadline notice the bot was down for still goes this long after the deadline, not later.
LATE_GRACE = timedelta(days=7)
UNCLASSIFIED_LEAD = timedelta(days=1)


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


async def _send(
    db: AsyncSession,
    recipients: Sequence[StaffMember | UserKey],
    kind: NoticeKind,
    notice: NoticeParams,
    now: datetime,
) -> None:
    keys = [r if isinstance(r, UserKey) else UserKey(r.channel, r.user_id) for r in recipients]
    due = [((await citizens.get_or_create(db, key, now=now)).id, notice) for key in keys]
    await queue_all(db, kind, due, now=now)


async def _queue(
    db: AsyncSession,
    recipients: Sequence[StaffMember | UserKey],
    kind: NoticeKind,
    session: Event,
    now: datetime,
) -> None:
    await _send(db, recipients, kind, SessionNotice(session.id, session.starts_at), now)


every_admin = admins  # by another name: `queue_due` has a parameter `admins`


def connection_test_moment(starts_at: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The connection test: `at` (CONNECTION_TEST_TIME) on the local day before the start."""
    return datetime.combine(starts_at.astimezone(tz).date() - timedelta(days=1), at, tz)


def _in_scope(officer: StaffMember, endpoint_ids: set[int]) -> bool:
    return officer.endpoint_ids is None or bool(endpoint_ids & set(officer.endpoint_ids))


async def queue_due(
    db: AsyncSession,
    *,
    now: datetime,
    lead_days: int,
    tz: ZoneInfo,
    admins: frozenset[UserKey],
    timing: Timing | None = None,
    connection_at: time = CONNECTION_CHECK_AT,
) -> None:
    await _queue_sessions(db, now=now, lead_days=lead_days, tz=tz, admins=admins, connection_at=connection_at)
    await _queue_rounds(
        db, now=now, tz=tz, admins=admins, timing=timing or Timing(), connection_at=connection_at
    )
    # Hearings: late agencies reminded at D-3 and D-1, the admins' list at the report deadline.
    await hearing_reports.queue_due(
        db, now=now, admins=partial(every_admin, db, admins), timing=timing or Timing()
    )


async def _queue_sessions(
    db: AsyncSession,
    *,
    now: datetime,
    lead_days: int,
    tz: ZoneInfo,
    admins: frozenset[UserKey],
    connection_at: time,
) -> None:
    """Reception sessions and hearings."""
    horizon = now + timedelta(days=max(lead_days, EMPTY_FLAG_DAYS) + 1)
    coming = list(
        await db.scalars(
            select(Event)
            .where(
                Event.kind != EventKind.VOTER_MEETING,
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
        # A hearing has no sign-ups nor case summaries: only its connection test is due here.
        reception = session.kind == EventKind.RECEPTION
        if reception and now >= summary_deadline(session.starts_at, lead_days):
            await _queue(db, admin_list, NoticeKind.DEADLINE_EXPORT, session, now)
        if now >= connection_test_moment(session.starts_at, connection_at, tz):
            endpoint_ids = {link.endpoint_id for link in session.endpoints}
            theirs = [officer for officer in officers if _in_scope(officer, endpoint_ids)]
            await _queue(db, theirs, NoticeKind.CONNECTION_CHECK, session, now)
        if reception and now >= session.starts_at - timedelta(days=EMPTY_FLAG_DAYS):
            registered = await db.scalar(
                select(func.count())
                .select_from(SignUp)
                .where(SignUp.session_id == session.id, SignUp.status.in_(ACTIVE))
            )
            if not registered:
                await _queue(db, admin_list, NoticeKind.EMPTY_SESSION, session, now)


async def _queue_rounds(
    db: AsyncSession,
    *,
    now: datetime,
    tz: ZoneInfo,
    admins: frozenset[UserKey],
    timing: Timing,
    connection_at: time,
) -> None:
    """Voter-contact rounds: materials, attendance, connection test, the compiled report."""
    rounds = await compilation.rounds(db, None, since=now - ROUND_LOOKBACK, timing=timing)
    if not rounds:
        return
    starts: dict[int, dict[datetime, set[int]]] = {}
    by_id = {info.id: info for info in rounds}
    links = await db.execute(
        select(EventEndpoint.session_id, EventEndpoint.endpoint_id, EventEndpoint.starts_at).where(
            EventEndpoint.session_id.in_(list(by_id))
        )
    )
    for event_id, endpoint_id, starts_at in links:
        start = starts_at or by_id[event_id].starts_at
        starts.setdefault(event_id, {}).setdefault(start, set()).add(endpoint_id)
    admin_list: list[StaffMember | UserKey] | None = None
    officers: list[StaffMember] | None = None
    rules = policy(EventKind.VOTER_MEETING)
    for info in rounds:
        due: list[tuple[NoticeKind, NoticeParams]] = []
        materials = info.materials_deadline
        if materials <= now < min(info.starts_at, materials + LATE_GRACE):
            due.append((NoticeKind.MATERIALS_DUE, RoundDeadline(info.id, materials)))
        deadline = info.compile_deadline
        if deadline - UNCLASSIFIED_LEAD <= now < deadline and await compilation.unclassified(db, info.id):
            due.append((NoticeKind.COMPILE_UNCLASSIFIED, RoundDeadline(info.id, deadline)))
        if deadline <= now < deadline + LATE_GRACE:
            due.append((NoticeKind.COMPILE_REPORT, RoundDeadline(info.id, deadline)))
            due.append((NoticeKind.COMPILE_TABLE, RoundDeadline(info.id, deadline)))
        checks: list[tuple[set[int], SessionNotice]] = []
        for start, endpoint_ids in sorted(starts.get(info.id, {}).items()):
            if info.status not in OPEN_STATUSES or start <= now:
                continue
            if now >= rules.sign_up_deadline(start, timing):
                due.append((NoticeKind.ATTENDANCE, SessionNotice(info.id, start)))
            if now >= connection_test_moment(start, connection_at, tz):
                checks.append((endpoint_ids, SessionNotice(info.id, start)))
        if due and admin_list is None:
            admin_list = await _staff(db, StaffRole.ADMIN, admins)
        for kind, notice in due:
            await _send(db, admin_list or [], kind, notice, now)
        if checks and officers is None:
            officers = [m for m in await _staff(db, StaffRole.OFFICER, admins) if isinstance(m, StaffMember)]
        for endpoint_ids, notice in checks:
            theirs = [officer for officer in officers or [] if _in_scope(officer, endpoint_ids)]
            await _send(db, theirs, NoticeKind.CONNECTION_CHECK, notice, now)
