"""Moving and cancelling a hearing (phiên giải trình), under the same notice rule as a reception
session (the handlers ask for the override): whoever it concerns is told in the same
transaction, through the outbox: citizens who sent questions on it, delegates registered to
speak, and the liaisons of the agencies that must explain. Its deadlines left at their
default move with it; one set by the plan stays, unless the move would put it after the start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import citizens
from storage.errors import NotFound
from storage.event_kinds import EventDates, Timing, default_report_deadline, policy
from storage.identity import UserKey
from storage.models import (
    Event,
    EventKind,
    EventStatus,
    HearingAgency,
    StaffMember,
    StaffRole,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.outbox import HearingCancelled, HearingMoved, NoticeKind, queue_all
from storage.schedule import record_change
from storage.staff import Actor

QUESTION, SPEAKER, LIAISON = "question", "speaker", "liaison"


@dataclass(frozen=True)
class Concerned:
    """Someone a change to a hearing is told to, once each (as a citizen row: a delegate or
    a liaison is reached at their chat like anyone)."""

    citizen_id: int
    role: str  # question | speaker | liaison


async def _hearing(db: AsyncSession, event_id: int) -> Event:
    event = await db.get(Event, event_id)
    if event is None or event.kind != EventKind.HEARING:
        raise NotFound(f"hearing {event_id}")
    return event


async def concerned(db: AsyncSession, event_id: int, *, now: datetime) -> list[Concerned]:
    """Citizens with a question (not withdrawn), delegates with a speech (not withdrawn), and the
    active liaisons of its agencies, one entry each (the first role found)."""
    asked = await db.scalars(
        select(Submission.citizen_id)
        .where(
            Submission.event_id == event_id,
            Submission.kind == SubmissionKind.QUESTION,
            Submission.status != SubmissionStatus.WITHDRAWN,
            Submission.citizen_id.is_not(None),
        )
        .order_by(Submission.id)
    )
    found: dict[int, Concerned] = {}
    for citizen_id in asked:
        if citizen_id is not None:
            found.setdefault(citizen_id, Concerned(citizen_id, QUESTION))
    speakers = await db.execute(
        select(StaffMember.channel, StaffMember.user_id)
        .join(Submission, Submission.staff_id == StaffMember.id)
        .where(
            Submission.event_id == event_id,
            Submission.kind == SubmissionKind.SPEECH,
            Submission.status != SubmissionStatus.WITHDRAWN,
            StaffMember.active.is_(True),
        )
        .order_by(Submission.id)
    )
    liaisons = await db.execute(
        select(StaffMember.channel, StaffMember.user_id)
        .join(HearingAgency, HearingAgency.agency_id == StaffMember.agency_id)
        .where(
            HearingAgency.event_id == event_id,
            StaffMember.role == StaffRole.LIAISON,
            StaffMember.active.is_(True),
        )
        .order_by(StaffMember.id)
    )
    for role, rows in ((SPEAKER, list(speakers)), (LIAISON, list(liaisons))):
        for channel, user_id in rows:
            person = await citizens.get_or_create(db, UserKey(channel, user_id), now=now)
            found.setdefault(person.id, Concerned(person.id, role))
    return list(found.values())


async def concerned_count(db: AsyncSession, event_id: int, *, now: datetime) -> int:
    return len(await concerned(db, event_id, now=now))


def _follows(deadline: datetime | None, default: datetime) -> bool:
    return deadline is None or deadline == default


async def move(
    db: AsyncSession,
    event_id: int,
    new_start: datetime,
    *,
    reason: str,
    override: bool,
    timing: Timing,
    actor: Actor,
    now: datetime,
) -> int:
    """Move the hearing (its deadlines at their default with it) and tell whom it concerns.
    Returns how many were told."""
    event = await _hearing(db, event_id)
    old_start = event.starts_at
    rule = policy(EventKind.HEARING)
    report_follows = _follows(event.report_deadline, default_report_deadline(old_start, timing))
    questions_follow = _follows(event.questions_deadline, rule.submission_deadline(_at(event, None), timing))
    event.starts_at, event.status = new_start, EventStatus.RESCHEDULED
    if report_follows or (event.report_deadline is not None and event.report_deadline >= new_start):
        event.report_deadline = default_report_deadline(new_start, timing)
    if questions_follow or (event.questions_deadline is not None and event.questions_deadline >= new_start):
        event.questions_deadline = rule.submission_deadline(_at(event, None), timing)
    people = await concerned(db, event.id, now=now)
    await queue_all(
        db,
        NoticeKind.HEARING_MOVED,
        [(p.citizen_id, HearingMoved(event.id, p.role, old_start, new_start, reason)) for p in people],
        now=now,
    )
    record_change(
        db,
        "reschedule",
        event.id,
        actor=actor,
        now=now,
        reason=reason,
        override=override,
        told=len(people),
        old=old_start.isoformat(),
        new=new_start.isoformat(),
    )
    await db.flush()
    return len(people)


def _at(event: Event, questions_deadline: datetime | None) -> EventDates:
    """The event as the policy reads it, with this questions deadline (None: the default)."""
    return EventDates(event.starts_at, event.status, event.compile_deadline, questions_deadline)


async def cancel(
    db: AsyncSession, event_id: int, *, reason: str, override: bool, actor: Actor, now: datetime
) -> int:
    """Cancel the hearing and tell whom it concerns (questions, reports and speeches stay as
    they are). Returns how many were told."""
    event = await _hearing(db, event_id)
    event.status = EventStatus.CANCELLED
    people = await concerned(db, event.id, now=now)
    await queue_all(
        db,
        NoticeKind.HEARING_CANCELLED,
        [(p.citizen_id, HearingCancelled(event.id, p.role, reason)) for p in people],
        now=now,
    )
    record_change(
        db, "cancel", event.id, actor=actor, now=now, reason=reason, override=override, told=len(people)
    )
    await db.flush()
    return len(people)
