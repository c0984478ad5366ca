"""Explanation hearings, the delegates' registrations to speak (đăng ký phát biểu, chất vấn):
a delegate (StaffMember.delegate) registers a question addressed to one of the agencies that
must explain, on one of that agency's topics, and may withdraw it; the admins order the list
of speakers (position, then when registered). Every change is audited.

A registration is a `Submission` of kind speech: staff_id (the delegate), agency_id,
topic_id, summary (the question), full_name (the delegate's name as they gave it), position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import DeadlinePassed, NotFound, SessionNotOpen
from storage.models import (
    Agency,
    CaseType,
    Event,
    EventKind,
    HearingAgency,
    HearingTopic,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.rules import OPEN_STATUSES


@dataclass(frozen=True)
class Speech:
    id: int
    event_id: int
    title: str  # the hearing's
    starts_at: datetime
    staff_id: int | None
    speaker: str  # the delegate's name as given
    agency_id: int | None
    agency: str
    topic_id: int | None
    topic: str
    summary: str
    status: SubmissionStatus
    position: int | None
    created_at: datetime


def _speeches_query() -> Any:
    return (
        select(Submission, Event.title, Event.starts_at, Agency.name, HearingTopic.title)
        .join(Event, Event.id == Submission.event_id)
        .outerjoin(Agency, Agency.id == Submission.agency_id)
        .outerjoin(HearingTopic, HearingTopic.id == Submission.topic_id)
        .where(Submission.kind == SubmissionKind.SPEECH)
    )


def _speech(
    row: Submission, title: str, starts_at: datetime, agency: str | None, topic: str | None
) -> Speech:
    return Speech(
        id=row.id,
        event_id=row.event_id,
        title=title,
        starts_at=starts_at,
        staff_id=row.staff_id,
        speaker=row.full_name or "",
        agency_id=row.agency_id,
        agency=agency or "",
        topic_id=row.topic_id,
        topic=topic or "",
        summary=row.summary,
        status=row.status,
        position=row.position,
        created_at=row.created_at,
    )


async def register(
    db: AsyncSession,
    *,
    staff_id: int,
    actor: str,
    event_id: int,
    agency_id: int,
    topic_id: int,
    speaker: str,
    summary: str,
    now: datetime,
) -> Speech:
    """Register to speak: last on the list. Raises SessionNotOpen (the hearing is off or has
    begun), NotFound (the agency is not called to it, or the topic is not that agency's)."""
    event = await db.get(Event, event_id, with_for_update=True)
    if event is None or event.kind != EventKind.HEARING:
        raise NotFound(f"hearing {event_id}")
    if event.status not in OPEN_STATUSES:
        raise SessionNotOpen(f"hearing {event_id} is {event.status}")
    if now >= event.starts_at:
        raise DeadlinePassed(event.starts_at, None)
    called = await db.scalar(
        select(HearingAgency).where(HearingAgency.event_id == event_id, HearingAgency.agency_id == agency_id)
    )
    if called is None or topic_id not in [int(t) for t in called.topic_ids or ()]:
        raise NotFound(f"agency {agency_id} topic {topic_id}")
    last = await db.scalar(
        select(func.max(Submission.position)).where(
            Submission.event_id == event_id,
            Submission.kind == SubmissionKind.SPEECH,
            Submission.status == SubmissionStatus.ACTIVE,
        )
    )
    row = Submission(
        kind=SubmissionKind.SPEECH,
        event_id=event_id,
        staff_id=staff_id,
        agency_id=agency_id,
        topic_id=topic_id,
        full_name=speaker,
        case_type=CaseType.PETITION,
        field="",
        summary=summary,
        position=(last or 0) + 1,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    await db.flush()
    audit.record(
        db, at=now, actor=actor, action="speech.register", target_type="submission", target_id=row.id
    )
    return (await own(db, staff_id, speech_id=row.id))[0]


async def own(db: AsyncSession, staff_id: int, *, speech_id: int | None = None) -> list[Speech]:
    """The delegate's registrations (withdrawn ones too), the latest first."""
    query = _speeches_query().where(Submission.staff_id == staff_id)
    if speech_id is not None:
        query = query.where(Submission.id == speech_id)
    rows = await db.execute(query.order_by(Submission.created_at.desc(), Submission.id.desc()).limit(20))
    return [_speech(row[0], row[1], row[2], row[3], row[4]) for row in rows]


async def withdraw(db: AsyncSession, staff_id: int, speech_id: int, *, actor: str, now: datetime) -> Speech:
    """Withdraw the delegate's own active registration before the hearing begins. NotFound:
    not theirs or no longer active; DeadlinePassed: the hearing has begun."""
    row = await db.scalar(
        select(Submission)
        .where(
            Submission.id == speech_id,
            Submission.staff_id == staff_id,
            Submission.kind == SubmissionKind.SPEECH,
            Submission.status == SubmissionStatus.ACTIVE,
        )
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"speech {speech_id}")
    event = await db.get_one(Event, row.event_id)
    if now >= event.starts_at:
        raise DeadlinePassed(event.starts_at, None)
    row.status, row.updated_at, row.position = SubmissionStatus.WITHDRAWN, now, None
    audit.record(
        db, at=now, actor=actor, action="speech.withdraw", target_type="submission", target_id=row.id
    )
    await db.flush()
    await _renumber(db, row.event_id)
    return (await own(db, staff_id, speech_id=row.id))[0]


async def speakers(db: AsyncSession, event_id: int) -> list[Speech]:
    """The hearing's speakers in order: position, then when they registered."""
    rows = await db.execute(
        _speeches_query()
        .where(Submission.event_id == event_id, Submission.status == SubmissionStatus.ACTIVE)
        .order_by(Submission.position.is_(None), Submission.position, Submission.created_at, Submission.id)
    )
    return [_speech(row[0], row[1], row[2], row[3], row[4]) for row in rows]


async def _active_rows(db: AsyncSession, event_id: int) -> list[Submission]:
    return list(
        await db.scalars(
            select(Submission)
            .where(
                Submission.event_id == event_id,
                Submission.kind == SubmissionKind.SPEECH,
                Submission.status == SubmissionStatus.ACTIVE,
            )
            .order_by(
                Submission.position.is_(None), Submission.position, Submission.created_at, Submission.id
            )
            .with_for_update()
        )
    )


async def _renumber(db: AsyncSession, event_id: int) -> None:
    for place, row in enumerate(await _active_rows(db, event_id), start=1):
        if row.position != place:
            row.position = place
    await db.flush()


async def move(
    db: AsyncSession, event_id: int, speech_id: int, place: int, *, actor: str, now: datetime
) -> int:
    """Put a speaker at `place` (1 = first; beyond the end = last); the others keep their
    order. Returns the place taken. NotFound: no such active speaker of that hearing."""
    rows = await _active_rows(db, event_id)
    moving = next((row for row in rows if row.id == speech_id), None)
    if moving is None:
        raise NotFound(f"speech {speech_id}")
    before = rows.index(moving) + 1
    rows.remove(moving)
    place = min(max(place, 1), len(rows) + 1)
    rows.insert(place - 1, moving)
    for number, row in enumerate(rows, start=1):
        row.position = number
    audit.record(
        db,
        at=now,
        actor=actor,
        action="speech.move",
        target_type="submission",
        target_id=speech_id,
        event_id=event_id,
        before=before,
        after=place,
    )
    await db.flush()
    return place
