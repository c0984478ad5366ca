"""Moving and cancelling events: every affected citizen is told at once, in the same
transaction as the change; a change inside the notice window needs an explicit override,
and the override and its reason are audited.

A reception session (or a hearing) starts at one time: it moves whole. A voter-contact round
starts at its own time at each endpoint: one endpoint moves, or the whole round shifts by the
same span (each endpoint keeps its place in the round's order). The voters told are those
signed up (confirmed or waitlisted) and those with petitions in the round."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage import audit
from storage.errors import NotFound
from storage.event_kinds import Timing, default_compile_deadline, default_materials_deadline, policy
from storage.models import (
    Event,
    EventEndpoint,
    EventStatus,
    SignUp,
    SignUpStatus,
    Submission,
    SubmissionKind,
)
from storage.outbox import (
    NoticeKind,
    RoundCancelled,
    RoundMoved,
    SessionCancelled,
    SessionMoved,
    queue_all,
)
from storage.registrations import ACTIVE
from storage.rules import summary_deadline
from storage.staff import Actor
from storage.staff_sessions import COUNTED


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
    record_change(
        db,
        "reschedule",
        session.id,
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
    record_change(
        db, "cancel", session.id, actor=actor, now=now, reason=reason, override=override, told=len(people)
    )
    await db.flush()
    return len(people)


def record_change(
    db: AsyncSession,
    change: str,
    event_id: int,
    *,
    actor: Actor,
    now: datetime,
    reason: str,
    override: bool,
    told: int,
    **details: object,
) -> None:
    """The audit entry of a schedule change (`change`: reschedule | cancel), one shape for
    every kind of event."""
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action=f"session.{change}",
        target_type="session",
        target_id=event_id,
        **details,
        reason=reason,
        short_notice_override=override,
        told=told,
    )


# --- voter-contact rounds -----------------------------------------------------------


@dataclass(frozen=True)
class Voter:
    """Someone a change to a round concerns, once each."""

    citizen_id: int
    endpoint_id: int | None  # their sign-up's endpoint, else the commune of their petition
    signed_up: bool


async def round_voters(db: AsyncSession, event_id: int) -> list[Voter]:
    """Voters signed up (confirmed or waitlisted) and voters with petitions (not withdrawn)
    in the round, one entry per voter (a sign-up first)."""
    sign_ups = await db.execute(
        select(SignUp.citizen_id, EventEndpoint.endpoint_id)
        .join(EventEndpoint, SignUp.session_endpoint_id == EventEndpoint.id)
        .where(SignUp.session_id == event_id, SignUp.status.in_(ACTIVE))
        .order_by(SignUp.id)
    )
    petitions = await db.execute(
        select(Submission.citizen_id, Submission.endpoint_id)
        .where(
            Submission.event_id == event_id,
            Submission.kind == SubmissionKind.PETITION,
            Submission.status.in_(COUNTED),
            Submission.citizen_id.is_not(None),
        )
        .order_by(Submission.id)
    )
    found: dict[int, Voter] = {}
    for attendee, endpoint_id in sign_ups:
        found.setdefault(attendee, Voter(attendee, endpoint_id, True))
    for petitioner, commune in petitions:
        if petitioner is not None:
            found.setdefault(petitioner, Voter(petitioner, commune, False))
    return list(found.values())


@dataclass(frozen=True)
class RoundMove:
    """What moving a round (or one of its endpoints) would make of it."""

    old_starts: Mapping[int, datetime]  # endpoint id -> start
    new_starts: Mapping[int, datetime]
    compile_deadline: datetime
    materials_deadline: datetime
    deadline_moved: bool  # the petitions' deadline (compile deadline) changes with the move
    told: tuple[Voter, ...]

    @property
    def moved_starts(self) -> list[datetime]:
        """The old and new starts of the endpoints that move (for the notice window)."""
        return [
            start
            for endpoint_id, new in self.new_starts.items()
            if new != self.old_starts[endpoint_id]
            for start in (self.old_starts[endpoint_id], new)
        ]


async def _round(db: AsyncSession, event_id: int) -> Event:
    event = await db.get(Event, event_id, options=[selectinload(Event.endpoints)])
    if event is None:
        raise NotFound(f"event {event_id}")
    return event


def _follows(deadline: datetime | None, default: datetime) -> bool:
    """A deadline left at its default follows a move; one the plan set stays."""
    return deadline is None or deadline == default


async def plan_round_move(
    db: AsyncSession, event_id: int, endpoint_id: int | None, new_start: datetime, timing: Timing
) -> RoundMove:
    """Moving endpoint `endpoint_id` to `new_start`, or (None) the whole round so that its
    first meeting is at `new_start` and every other keeps its distance from it. Deadlines
    at their default move with the meetings, and so does one the move would put on the wrong
    side of them (a compile deadline before the last meeting, materials after the first)."""
    event = await _round(db, event_id)
    old = {link.endpoint_id: link.starts_at or event.starts_at for link in event.endpoints}
    if endpoint_id is None:
        shift = new_start - min(old.values())
        new = {key: start + shift for key, start in old.items()}
    else:
        if endpoint_id not in old:
            raise NotFound(f"endpoint {endpoint_id} of event {event_id}")
        new = {**old, endpoint_id: new_start}
    first, last = min(new.values()), max(new.values())
    compile_deadline = event.compile_deadline
    if _follows(compile_deadline, default_compile_deadline(max(old.values()), timing)) or (
        compile_deadline is not None and compile_deadline <= last
    ):
        compile_deadline = default_compile_deadline(last, timing)
    assert compile_deadline is not None
    materials_deadline = event.materials_deadline
    if _follows(materials_deadline, default_materials_deadline(min(old.values()), timing)) or (
        materials_deadline is not None and materials_deadline >= first
    ):
        materials_deadline = default_materials_deadline(first, timing)
    assert materials_deadline is not None
    deadline_moved = compile_deadline != event.compile_deadline
    voters = await round_voters(db, event_id)
    if endpoint_id is not None and not deadline_moved:  # only those who meet there
        voters = [voter for voter in voters if voter.endpoint_id == endpoint_id]
    return RoundMove(old, new, compile_deadline, materials_deadline, deadline_moved, tuple(voters))


async def move_round(
    db: AsyncSession,
    event_id: int,
    endpoint_id: int | None,
    new_start: datetime,
    *,
    reason: str,
    override: bool,
    timing: Timing,
    actor: Actor,
    now: datetime,
) -> int:
    """Move one endpoint of a voter-contact round, or all of it (see `plan_round_move`), and
    tell the voters it concerns. Returns how many were told."""
    move = await plan_round_move(db, event_id, endpoint_id, new_start, timing)
    event = await _round(db, event_id)
    for link in event.endpoints:
        link.starts_at = move.new_starts[link.endpoint_id]
    event.starts_at = min(move.new_starts.values())
    event.compile_deadline, event.materials_deadline = move.compile_deadline, move.materials_deadline
    event.status = EventStatus.RESCHEDULED
    deadline = policy(event.kind).submission_deadline(event, timing)
    notices = []
    for voter in move.told:
        # Their endpoint's times; the round's first meeting for a voter of a commune not connected.
        told_of = endpoint_id if endpoint_id is not None else voter.endpoint_id
        if told_of not in move.old_starts:
            told_of = None
        old, new = (
            (move.old_starts[told_of], move.new_starts[told_of])
            if told_of is not None
            else (min(move.old_starts.values()), min(move.new_starts.values()))
        )
        notices.append((voter.citizen_id, RoundMoved(event.id, told_of, old, new, deadline, reason)))
    await queue_all(db, NoticeKind.ROUND_MOVED, notices, now=now)
    record_change(
        db,
        "reschedule",
        event.id,
        actor=actor,
        now=now,
        reason=reason,
        override=override,
        told=len(notices),
        endpoint_id=endpoint_id,
        old=min(move.old_starts.values()).isoformat(),
        new=event.starts_at.isoformat(),
    )
    await db.flush()
    return len(notices)


async def cancel_round(
    db: AsyncSession, event_id: int, *, reason: str, override: bool, actor: Actor, now: datetime
) -> int:
    """Cancel a voter-contact round and its sign-ups, and tell every voter signed up or with
    petitions in it (the petitions stay as they are). Returns how many were told."""
    event = await _round(db, event_id)
    event.status = EventStatus.CANCELLED
    voters = await round_voters(db, event.id)
    await queue_all(
        db,
        NoticeKind.ROUND_CANCELLED,
        [(voter.citizen_id, RoundCancelled(event.id, reason)) for voter in voters],
        now=now,
    )
    for sign_up in await affected(db, event.id):
        sign_up.status, sign_up.cancelled_at, sign_up.updated_at = SignUpStatus.CANCELLED, now, now
    record_change(
        db, "cancel", event.id, actor=actor, now=now, reason=reason, override=override, told=len(voters)
    )
    await db.flush()
    return len(voters)
