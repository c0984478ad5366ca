"""Explanation hearings: the agencies' written reports (báo cáo giải trình).

A liaison (StaffRole.LIAISON, bound to one agency) sees what is asked of their agency only and
files its report (one file, PDF or DOCX) before the report deadline, replacing it until then:
one Submission of kind REPORT per hearing and agency (created_at: first filed, updated_at:
replaced). Late agencies are reminded at D-3 and D-1 (to their liaisons), and at the deadline
the admins get the list of who filed and who did not: notices derived at each outbox tick
(`queue_due`, called by storage.staff_notices), through the outbox's one door.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import citizens
from storage.event_kinds import Timing, default_report_deadline
from storage.identity import UserKey
from storage.models import (
    Agency,
    CaseType,
    Event,
    EventKind,
    EventStatus,
    HearingAgency,
    HearingTopic,
    StaffMember,
    StaffRole,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.outbox import NoticeKind, NoticeParams, ReportDue, RoundDeadline, queue_all
from storage.rules import OPEN_STATUSES

# The liaisons of an agency that has not filed are reminded this many days before the deadline.
REMINDER_DAYS = (3, 1)
# A deadline notice the bot was down for still goes this long after the deadline, not later.
LATE_GRACE = timedelta(days=7)
# A hearing whose start is this far back may still have a deadline notice to send.
LOOKBACK = timedelta(days=60)


@dataclass(frozen=True)
class Liaison:
    """A liaison as their flow reads them: who they are and the agency they speak for."""

    staff_id: int
    agency_id: int
    agency_name: str


@dataclass(frozen=True)
class FiledReport:
    """An agency's report for one hearing: the file, when it was first filed, when replaced."""

    id: int
    agency_id: int
    file_name: str
    file: dict[str, Any]  # the attachment as kept (kind, file_id, name, mime_type, size)
    filed_at: datetime
    replaced_at: datetime | None  # None: never replaced


@dataclass(frozen=True)
class AskedHearing:
    """A coming hearing an agency must explain at, as its liaison sees it."""

    event_id: int
    title: str
    starts_at: datetime
    status: EventStatus
    topics: tuple[str, ...]  # the topics the agency explains, in the plan's order
    deadline: datetime
    report: FiledReport | None

    def open_at(self, now: datetime) -> bool:
        """Whether a report may still be filed (or replaced): strictly before the deadline."""
        return self.status in OPEN_STATUSES and now < self.deadline


@dataclass(frozen=True)
class AgencyStatus:
    """One agency of a hearing at its deadline: filed (when) or not."""

    agency_id: int
    name: str
    report: FiledReport | None


class ReportRefused(Exception):
    """A report that cannot be filed: `reason` is "not_asked" (no such hearing for this agency,
    or it is cancelled or over) or "closed" (the deadline has passed, `deadline` says when)."""

    def __init__(self, reason: str, deadline: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.deadline = deadline


def report_deadline(event: Event, timing: Timing) -> datetime:
    """The hearing's own report deadline, else the kind's default (a week before)."""
    return event.report_deadline or default_report_deadline(event.starts_at, timing)


def _filed(row: Submission) -> FiledReport:
    file = dict(row.attachments[0]) if row.attachments else {}
    replaced = row.updated_at if row.updated_at != row.created_at else None
    return FiledReport(
        id=row.id,
        agency_id=row.agency_id or 0,
        file_name=str(file.get("name", "")),
        file=file,
        filed_at=row.created_at,
        replaced_at=replaced,
    )


async def reports_of(db: AsyncSession, event_id: int) -> dict[int, FiledReport]:
    """The reports filed for a hearing, by agency id."""
    rows = await db.scalars(
        select(Submission).where(
            Submission.event_id == event_id,
            Submission.kind == SubmissionKind.REPORT,
            Submission.status == SubmissionStatus.ACTIVE,
        )
    )
    return {row.agency_id: _filed(row) for row in rows if row.agency_id is not None}


async def liaison_of(db: AsyncSession, key: UserKey) -> Liaison | None:
    """The active liaison `key` is, with their agency; None if they are none (or have no agency)."""
    found = (
        await db.execute(
            select(StaffMember.id, Agency.id, Agency.name)
            .join(Agency, Agency.id == StaffMember.agency_id)
            .where(
                StaffMember.channel == key.channel,
                StaffMember.user_id == key.user_id,
                StaffMember.active.is_(True),
                StaffMember.role == StaffRole.LIAISON,
            )
        )
    ).first()
    return None if found is None else Liaison(found[0], found[1], found[2])


async def asked_of(db: AsyncSession, agency_id: int, *, now: datetime, timing: Timing) -> list[AskedHearing]:
    """The coming hearings (not cancelled, not yet started) `agency_id` must explain at, soonest first."""
    rows = (
        await db.execute(
            select(Event, HearingAgency.topic_ids)
            .join(HearingAgency, HearingAgency.event_id == Event.id)
            .where(
                HearingAgency.agency_id == agency_id,
                Event.kind == EventKind.HEARING,
                Event.status.in_(OPEN_STATUSES),
                Event.starts_at > now,
            )
            .order_by(Event.starts_at, Event.id)
        )
    ).all()
    if not rows:
        return []
    event_ids = [event.id for event, _ in rows]
    topics = {
        topic.id: topic
        for topic in await db.scalars(
            select(HearingTopic).where(HearingTopic.event_id.in_(event_ids)).order_by(HearingTopic.position)
        )
    }
    reports = {
        row.event_id: _filed(row)
        for row in await db.scalars(
            select(Submission).where(
                Submission.event_id.in_(event_ids),
                Submission.kind == SubmissionKind.REPORT,
                Submission.status == SubmissionStatus.ACTIVE,
                Submission.agency_id == agency_id,
            )
        )
    }
    asked = []
    for event, topic_ids in rows:
        mine = sorted((topics[i] for i in topic_ids or [] if i in topics), key=lambda topic: topic.position)
        asked.append(
            AskedHearing(
                event_id=event.id,
                title=event.title,
                starts_at=event.starts_at,
                status=event.status,
                topics=tuple(topic.title for topic in mine),
                deadline=report_deadline(event, timing),
                report=reports.get(event.id),
            )
        )
    return asked


async def file_report(
    db: AsyncSession,
    *,
    event_id: int,
    liaison: Liaison,
    file: dict[str, Any],
    now: datetime,
    timing: Timing,
) -> tuple[FiledReport, bool]:
    """File (or replace) the liaison's agency's report for a hearing, strictly before its
    deadline. Returns the report and whether it replaced an earlier file."""
    asked = await db.scalar(
        select(HearingAgency)
        .where(HearingAgency.event_id == event_id, HearingAgency.agency_id == liaison.agency_id)
        .with_for_update()  # one report per agency, even when two liaisons file at once
    )
    event = await db.get(Event, event_id)
    if asked is None or event is None or event.kind != EventKind.HEARING or event.status not in OPEN_STATUSES:
        raise ReportRefused("not_asked")
    deadline = report_deadline(event, timing)
    if now >= deadline:
        raise ReportRefused("closed", deadline)
    row = await db.scalar(
        select(Submission).where(
            Submission.event_id == event_id,
            Submission.kind == SubmissionKind.REPORT,
            Submission.status == SubmissionStatus.ACTIVE,
            Submission.agency_id == liaison.agency_id,
        )
    )
    replaced = row is not None
    if row is None:
        row = Submission(
            kind=SubmissionKind.REPORT,
            event_id=event_id,
            agency_id=liaison.agency_id,
            case_type=CaseType.PETITION,  # not null in the table; a report has no case type
            field="",
            summary="",
            created_at=now,
        )
        db.add(row)
    row.staff_id = liaison.staff_id
    row.attachments = [dict(file)]
    row.updated_at = now
    await db.flush()
    return _filed(row), replaced


async def agency_statuses(db: AsyncSession, event_id: int) -> list[AgencyStatus]:
    """Every agency asked to explain at a hearing, by name, with its report if filed."""
    rows = (
        await db.execute(
            select(Agency.id, Agency.name)
            .join(HearingAgency, HearingAgency.agency_id == Agency.id)
            .where(HearingAgency.event_id == event_id)
            .order_by(HearingAgency.id)
        )
    ).all()
    reports = await reports_of(db, event_id)
    return [AgencyStatus(agency_id, name, reports.get(agency_id)) for agency_id, name in rows]


async def hearing_deadline(db: AsyncSession, event_id: int, timing: Timing) -> tuple[Event, datetime] | None:
    """A hearing and its report deadline; None if there is no such hearing."""
    event = await db.get(Event, event_id)
    if event is None or event.kind != EventKind.HEARING:
        return None
    return event, report_deadline(event, timing)


# --- notices, derived at each outbox tick -------------------------------------------------


async def _keys(db: AsyncSession, recipients: Sequence[UserKey], now: datetime) -> list[int]:
    return [(await citizens.get_or_create(db, key, now=now)).id for key in recipients]


async def queue_due(
    db: AsyncSession, *, now: datetime, admins: Callable[[], Awaitable[list[UserKey]]], timing: Timing
) -> None:
    """The reminders to late agencies' liaisons at D-3 and D-1, and at the deadline the list to
    the admins. Each once per hearing, deadline, agency (or admin) and day count: again only
    if the deadline moves."""
    hearings = list(
        await db.scalars(
            select(Event).where(
                Event.kind == EventKind.HEARING,
                Event.status.in_(OPEN_STATUSES),
                Event.starts_at > now - LOOKBACK,
            )
        )
    )
    for event in hearings:
        deadline = report_deadline(event, timing)
        first = deadline - timedelta(days=max(REMINDER_DAYS))
        if not first <= now < deadline + LATE_GRACE:
            continue
        if now >= deadline:
            notice = RoundDeadline(event.id, deadline)
            recipients = await _keys(db, await admins(), now)
            await queue_all(db, NoticeKind.HEARING_REPORTS, [(i, notice) for i in recipients], now=now)
            continue
        # The reminder due now: the latest of D-3, D-1 already reached (D-3 missed while the
        # bot was down is not sent after D-1).
        days = min(d for d in REMINDER_DAYS if now >= deadline - timedelta(days=d))
        filed = await reports_of(db, event.id)
        late = [
            agency_id
            for agency_id in await db.scalars(
                select(HearingAgency.agency_id).where(HearingAgency.event_id == event.id)
            )
            if agency_id not in filed
        ]
        if not late:
            continue
        liaisons = (
            await db.execute(
                select(StaffMember.channel, StaffMember.user_id, StaffMember.agency_id).where(
                    StaffMember.active.is_(True),
                    StaffMember.role == StaffRole.LIAISON,
                    StaffMember.agency_id.in_(late),
                )
            )
        ).all()
        due: list[tuple[int, NoticeParams]] = []
        for channel, user_id, agency_id in liaisons:
            [citizen_id] = await _keys(db, [UserKey(channel, user_id)], now)
            due.append((citizen_id, ReportDue(event.id, agency_id or 0, deadline, days)))
        await queue_all(db, NoticeKind.REPORT_DUE, due, now=now)
