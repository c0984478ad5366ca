"""Explanation hearings (phiên giải trình), the citizens' questions: the coming hearings and
their topics, a question sent on a topic (code CHGT-2026-000123) until the hearing's questions
deadline (`storage.event_kinds`: Event.questions_deadline, or HEARING_QUESTIONS_DAYS_BEFORE
days before it), seen and withdrawn until then; staff select a question into the hearing or
decline it (the citizen is told), and after the hearing the conclusion (kết luận) they record
goes to everyone whose question was selected, once each.

A question is a `Submission` of kind question: citizen_id, topic_id, summary (the text), the
name and phone given with it, route "selected" | "declined" with reviewed_at/by, position
(its place on the list of those selected).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, String, Table, and_, bindparam, cast, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import AlreadyDecided, DeadlinePassed, NotFound, SessionNotOpen
from storage.event_kinds import Timing, policy
from storage.models import (
    Agency,
    CaseType,
    Event,
    EventKind,
    EventStatus,
    HearingAgency,
    HearingTopic,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.outbox import HearingConclusion, NoticeKind, QuestionDecision, queue, queue_all
from storage.rules import OPEN_STATUSES

SUBMISSIONS = typing.cast(Table, Submission.__table__)
EVENTS = typing.cast(Table, Event.__table__)
TOPICS = typing.cast(Table, HearingTopic.__table__)
SELECTED, DECLINED = "selected", "declined"
ROUTES = (SELECTED, DECLINED)
POLICY = policy(EventKind.HEARING)


@dataclass(frozen=True)
class Topic:
    id: int
    position: int
    title: str


@dataclass(frozen=True)
class Hearing:
    """A hearing as its pages read it: its topics in the plan's order and its deadline."""

    id: int
    title: str
    host: str
    starts_at: datetime
    status: EventStatus
    questions_deadline: datetime  # the policy's (the plan's date, or N days before)
    topics: tuple[Topic, ...]
    conclusion: str
    concluded_at: datetime | None

    def open_for_questions(self, now: datetime) -> bool:
        """On, and the deadline not past (the deadline minute itself admitted)."""
        return self.status in OPEN_STATUSES and now <= self.questions_deadline

    def topic(self, topic_id: int) -> Topic | None:
        return next((topic for topic in self.topics if topic.id == topic_id), None)


@dataclass(frozen=True)
class Question:
    """A citizen's question as its sender sees it (and staff, with the name and phone)."""

    id: int
    code: str
    event_id: int
    title: str  # the hearing's
    topic_id: int | None
    topic_title: str
    summary: str
    full_name: str | None
    phone: str | None
    status: SubmissionStatus
    route: str | None  # None: not decided; SELECTED | DECLINED
    position: int | None
    deadline: datetime  # the hearing's questions deadline
    event_status: EventStatus
    created_at: datetime

    def withdrawable(self, now: datetime) -> bool:
        return (
            self.status == SubmissionStatus.ACTIVE
            and self.event_status in OPEN_STATUSES
            and now <= self.deadline
        )


def _deadline(event: Event, timing: Timing) -> datetime:
    return POLICY.submission_deadline(event, timing)


async def _topics(db: AsyncSession, event_ids: list[int]) -> dict[int, tuple[Topic, ...]]:
    rows = await db.scalars(
        select(HearingTopic)
        .where(HearingTopic.event_id.in_(event_ids))
        .order_by(HearingTopic.event_id, HearingTopic.position, HearingTopic.id)
    )
    found: dict[int, list[Topic]] = {}
    for row in rows:
        found.setdefault(row.event_id, []).append(Topic(row.id, row.position, row.title))
    return {event_id: tuple(topics) for event_id, topics in found.items()}


def _hearing(event: Event, topics: tuple[Topic, ...], timing: Timing) -> Hearing:
    return Hearing(
        id=event.id,
        title=event.title,
        host=event.host,
        starts_at=event.starts_at,
        status=event.status,
        questions_deadline=_deadline(event, timing),
        topics=topics,
        conclusion=event.conclusion or "",
        concluded_at=event.concluded_at,
    )


async def coming(db: AsyncSession, now: datetime, timing: Timing, limit: int = 5) -> list[Hearing]:
    """The hearings on and not begun, the soonest first, with their topics."""
    events = list(
        await db.scalars(
            select(Event)
            .where(Event.kind == EventKind.HEARING, Event.status.in_(OPEN_STATUSES), Event.starts_at > now)
            .order_by(Event.starts_at, Event.id)
            .limit(limit)
        )
    )
    topics = await _topics(db, [event.id for event in events])
    return [_hearing(event, topics.get(event.id, ()), timing) for event in events]


async def hearing(db: AsyncSession, event_id: int, timing: Timing) -> Hearing | None:
    """A hearing with its topics (None: no hearing of that number)."""
    event = await db.get(Event, event_id)
    if event is None or event.kind != EventKind.HEARING:
        return None
    topics = await _topics(db, [event.id])
    return _hearing(event, topics.get(event.id, ()), timing)


# --- a citizen's question ----------------------------------------------------------------


@dataclass(frozen=True)
class NewQuestion:
    event_id: int
    topic_id: int
    full_name: str
    phone: str
    summary: str


def _still_taking_questions() -> ColumnElement[bool]:
    """The hearing is on, its topic is its own, and its questions deadline not past:
    Event.questions_deadline, or (none set) the start HEARING_QUESTIONS_DAYS_BEFORE days on."""
    return and_(
        EVENTS.c.id == bindparam("open_event_id"),
        EVENTS.c.kind == EventKind.HEARING,
        EVENTS.c.status.in_(OPEN_STATUSES),
        or_(
            and_(EVENTS.c.questions_deadline.is_not(None), EVENTS.c.questions_deadline >= bindparam("now")),
            and_(EVENTS.c.questions_deadline.is_(None), EVENTS.c.starts_at >= bindparam("shifted")),
        ),
        exists().where(TOPICS.c.id == bindparam("topic_id"), TOPICS.c.event_id == EVENTS.c.id),
    )


_INSERTED = (
    "kind",
    "event_id",
    "citizen_id",
    "topic_id",
    "status",
    "full_name",
    "phone",
    "case_type",
    "field",
    "summary",
    "attachments",
    "created_at",
    "updated_at",
)


def _numbered(dialect: str) -> Any:
    """INSERT … SELECT that takes the row's id first, so that its code goes in with it, and
    only while the hearing takes questions: one statement (as `storage.petitions` does)."""
    next_id: ColumnElement[int]
    if dialect == "postgresql":
        next_id = func.nextval(func.pg_get_serial_sequence(SUBMISSIONS.name, "id"))
    else:
        next_id = func.coalesce(func.max(SUBMISSIONS.c.id), 0) + 1
    row = select(next_id.label("id")).subquery("next_row")
    digits = cast(row.c.id, String)
    if dialect == "postgresql":
        number = func.lpad(digits, func.greatest(6, func.length(digits)), "0")
    else:
        number = func.printf("%06d", row.c.id)
    values = (
        select(
            row.c.id,
            bindparam("code_prefix", type_=String()) + number,
            *(bindparam(name, type_=SUBMISSIONS.c[name].type) for name in _INSERTED),
        )
        .select_from(row)
        .where(exists(select(EVENTS.c.id).where(_still_taking_questions())))
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(SUBMISSIONS)
        .from_select(["id", "code", *_INSERTED], values)
        .returning(SUBMISSIONS.c.id, SUBMISSIONS.c.code)
    )


_INSERT = {dialect: _numbered(dialect) for dialect in ("postgresql", "sqlite")}


def code_prefix(created_at: datetime, tz: tzinfo) -> str:
    """`CHGT-2026-`: the hearing policy's prefix for submissions and the office's year."""
    return f"{POLICY.submission_code_prefix}-{created_at.astimezone(tz).year}-"


async def _why_closed(db: AsyncSession, event_id: int, topic_id: int, timing: Timing) -> Exception:
    found = await hearing(db, event_id, timing)
    if found is None or found.topic(topic_id) is None:
        return NotFound(f"hearing {event_id} topic {topic_id}")
    if found.status not in OPEN_STATUSES:
        return SessionNotOpen(f"hearing {event_id} is {found.status}")
    return DeadlinePassed(found.questions_deadline, None)


async def add(
    db: AsyncSession,
    citizen_id: int,
    actor: str,
    new: NewQuestion,
    *,
    now: datetime,
    timing: Timing,
    tz: tzinfo,
) -> tuple[int, str]:
    """Store a question with its code; (id, code). Raises DeadlinePassed (naming the questions
    deadline), SessionNotOpen or NotFound. Two statements: the row and the audit."""
    values = {
        "kind": SubmissionKind.QUESTION,
        "event_id": new.event_id,
        "open_event_id": new.event_id,
        "citizen_id": citizen_id,
        "topic_id": new.topic_id,
        "status": SubmissionStatus.ACTIVE,
        "full_name": new.full_name,
        "phone": new.phone,
        "case_type": CaseType.PETITION,
        "field": "",
        "summary": new.summary,
        "attachments": [],
        "created_at": now,
        "updated_at": now,
        "code_prefix": code_prefix(now, tz),
        "now": now,
        "shifted": now + timedelta(days=timing.questions_days_before),
    }
    inserted = (await db.execute(_INSERT[db.get_bind().dialect.name], values)).first()
    if inserted is None:
        raise await _why_closed(db, new.event_id, new.topic_id, timing)
    question_id, code = inserted
    await audit.write(
        db, at=now, actor=actor, action="question.add", target_type="submission", target_id=question_id
    )
    return question_id, code


async def _questions(
    db: AsyncSession, timing: Timing, *where: ColumnElement[bool], order: tuple[Any, ...] = ()
) -> list[Question]:
    rows = await db.execute(
        select(Submission, Event, HearingTopic.title)
        .join(Event, Event.id == Submission.event_id)
        .outerjoin(HearingTopic, HearingTopic.id == Submission.topic_id)
        .where(Submission.kind == SubmissionKind.QUESTION, *where)
        .order_by(*order, Submission.created_at, Submission.id)
    )
    return [
        Question(
            id=row.id,
            code=row.code or "",
            event_id=event.id,
            title=event.title,
            topic_id=row.topic_id,
            topic_title=topic_title or "",
            summary=row.summary,
            full_name=row.full_name,
            phone=row.phone,
            status=row.status,
            route=row.route,
            position=row.position,
            deadline=_deadline(event, timing),
            event_status=event.status,
            created_at=row.created_at,
        )
        for row, event, topic_title in rows
    ]


async def own(db: AsyncSession, citizen_id: int, timing: Timing, limit: int = 20) -> list[Question]:
    """The citizen's questions, the latest first."""
    found = await _questions(
        db, timing, Submission.citizen_id == citizen_id, order=(Submission.created_at.desc(),)
    )
    return found[:limit]


async def own_one(db: AsyncSession, citizen_id: int, question_id: int, timing: Timing) -> Question:
    """One of the citizen's own questions (NotFound for anyone else's)."""
    found = await _questions(db, timing, Submission.citizen_id == citizen_id, Submission.id == question_id)
    if not found:
        raise NotFound(f"question {question_id}")
    return found[0]


async def withdraw(
    db: AsyncSession, citizen_id: int, actor: str, question_id: int, *, now: datetime, timing: Timing
) -> Question:
    """Withdraw the citizen's own active question until the questions deadline. Raises
    DeadlinePassed (naming it), SessionNotOpen, or NotFound (not theirs, or no longer active)."""
    question = await own_one(db, citizen_id, question_id, timing)
    if question.status != SubmissionStatus.ACTIVE:
        raise NotFound(f"question {question_id} is {question.status}")
    if question.event_status not in OPEN_STATUSES:
        raise SessionNotOpen(f"hearing {question.event_id}")
    if now > question.deadline:
        raise DeadlinePassed(question.deadline, None)
    row = await db.get_one(Submission, question_id)
    row.status, row.updated_at = SubmissionStatus.WITHDRAWN, now
    audit.record(
        db, at=now, actor=actor, action="question.withdraw", target_type="submission", target_id=row.id
    )
    await db.flush()
    return question


# --- staff: the questions by topic, a decision, the conclusion ---------------------------


async def for_hearing(db: AsyncSession, event_id: int, timing: Timing) -> list[Question]:
    """The hearing's questions still active, by topic (the plan's order), the oldest first."""
    return await _questions(
        db,
        timing,
        Submission.event_id == event_id,
        Submission.status == SubmissionStatus.ACTIVE,
        order=(HearingTopic.position, HearingTopic.id),
    )


async def decide(
    db: AsyncSession, event_id: int, question_id: int, route: str, *, by: str, now: datetime
) -> str:
    """Select the question into the hearing (the next place on the list) or decline it; the
    citizen is told. Returns its code. Raises NotFound (no such active question of that
    hearing) or AlreadyDecided (decided before: a decision stands once)."""
    if route not in ROUTES:
        raise ValueError(route)
    row = await db.scalar(
        select(Submission)
        .where(
            Submission.id == question_id,
            Submission.event_id == event_id,
            Submission.kind == SubmissionKind.QUESTION,
            Submission.status == SubmissionStatus.ACTIVE,
        )
        .with_for_update()
    )
    if row is None:
        raise NotFound(f"question {question_id}")
    if row.route is not None:
        raise AlreadyDecided(f"question {question_id} is {row.route}")
    row.route, row.reviewed_at, row.reviewed_by, row.updated_at = route, now, by, now
    if route == SELECTED:
        last = await db.scalar(
            select(func.max(Submission.position)).where(
                Submission.event_id == event_id,
                Submission.kind == SubmissionKind.QUESTION,
                Submission.route == SELECTED,
            )
        )
        row.position = (last or 0) + 1
    audit.record(db, at=now, actor=by, action=f"question.{route}", target_type="submission", target_id=row.id)
    if row.citizen_id is not None:
        kind = NoticeKind.QUESTION_SELECTED if route == SELECTED else NoticeKind.QUESTION_DECLINED
        await queue(db, kind, citizen_id=row.citizen_id, params=QuestionDecision(row.id), now=now)
    await db.flush()
    return row.code or ""


async def conclude(db: AsyncSession, event_id: int, text: str, *, by: str, now: datetime) -> int:
    """Record the hearing's conclusion (kết luận) and send it to everyone whose question was
    selected (and not withdrawn), once each. Returns how many are told. NotFound: no hearing."""
    event = await db.get(Event, event_id, with_for_update=True)
    if event is None or event.kind != EventKind.HEARING:
        raise NotFound(f"hearing {event_id}")
    again = event.concluded_at is not None
    event.conclusion, event.concluded_at = text, now
    audit.record(
        db,
        at=now,
        actor=by,
        action="hearing.conclude",
        target_type="event",
        target_id=event.id,
        again=again,
    )
    citizens = sorted(
        cid
        for cid in set(
            await db.scalars(
                select(Submission.citizen_id).where(
                    Submission.event_id == event_id,
                    Submission.kind == SubmissionKind.QUESTION,
                    Submission.status == SubmissionStatus.ACTIVE,
                    Submission.route == SELECTED,
                    Submission.citizen_id.is_not(None),
                )
            )
        )
        if cid is not None
    )
    await queue_all(
        db,
        NoticeKind.HEARING_CONCLUSION,
        [(cid, HearingConclusion(event_id)) for cid in citizens],
        now=now,
    )
    await db.flush()
    return len(citizens)


@dataclass(frozen=True)
class DecisionNews:
    """What a citizen is told of the decision on their question."""

    code: str
    title: str
    topic_title: str
    summary: str
    route: str | None
    starts_at: datetime


async def decision_for(db: AsyncSession, question_id: int, citizen_id: int) -> DecisionNews | None:
    """The decision on the citizen's own question (None: gone, or not theirs)."""
    row = (
        await db.execute(
            select(Submission, Event, HearingTopic.title)
            .join(Event, Event.id == Submission.event_id)
            .outerjoin(HearingTopic, HearingTopic.id == Submission.topic_id)
            .where(Submission.id == question_id, Submission.citizen_id == citizen_id)
        )
    ).first()
    if row is None:
        return None
    question, event, topic_title = row
    return DecisionNews(
        question.code or "",
        event.title,
        topic_title or "",
        question.summary,
        question.route,
        event.starts_at,
    )


@dataclass(frozen=True)
class ConclusionNews:
    title: str
    starts_at: datetime
    conclusion: str
    codes: tuple[str, ...]  # the citizen's questions on the list


async def conclusion_for(db: AsyncSession, event_id: int, citizen_id: int) -> ConclusionNews | None:
    """The hearing's conclusion for one whose question was selected (None: nothing to tell)."""
    event = await db.get(Event, event_id)
    if event is None or not event.conclusion:
        return None
    codes = tuple(
        code or ""
        for code in await db.scalars(
            select(Submission.code)
            .where(
                Submission.event_id == event_id,
                Submission.citizen_id == citizen_id,
                Submission.kind == SubmissionKind.QUESTION,
                Submission.route == SELECTED,
            )
            .order_by(Submission.id)
        )
    )
    return ConclusionNews(event.title, event.starts_at, event.conclusion, codes)


async def agencies_of(db: AsyncSession, event_id: int) -> list[tuple[int, str, tuple[int, ...]]]:
    """The agencies that must explain at the hearing: (agency id, name, topic ids), by name."""
    rows = await db.execute(
        select(Agency.id, Agency.name, HearingAgency.topic_ids)
        .join(HearingAgency, HearingAgency.agency_id == Agency.id)
        .where(HearingAgency.event_id == event_id)
        .order_by(Agency.name, Agency.id)
    )
    return [(row.id, row.name, tuple(int(t) for t in row.topic_ids or ())) for row in rows]
