"""Staff review of reception cases (a sign-up with its case): the queue, decisions, outcomes, search.

What the flows get back is a `Case`: the registration as staff read it, plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import AlreadyDecided, NotFound
from storage.models import (
    CaseType,
    Event,
    EventEndpoint,
    SignUp,
    SignUpStatus,
    Submission,
)
from storage.outbox import AboutRegistration, NoticeKind, queue
from storage.registrations import ACTIVE, CASE_OF_SIGN_UP
from storage.staff import Actor
from storage.text import fold

ROUTES = ("accept", "return", "forward")


@dataclass(frozen=True)
class CaseFile:
    """A photo or document the citizen sent with their case (as the channel stored it)."""

    kind: str
    file_id: str
    name: str
    mime_type: str
    size: int


@dataclass(frozen=True)
class Case:
    """A registration as staff read it, with its session and endpoint."""

    id: int
    code: str
    status: SignUpStatus
    session_id: int
    session_title: str
    starts_at: datetime
    session_endpoint_id: int
    endpoint_id: int
    endpoint_name: str
    full_name: str | None  # None: anonymised
    case_type: CaseType
    field: str
    group_size: int
    prior_agency: str
    summary: str
    files: tuple[CaseFile, ...]
    route: str | None  # None: not decided yet
    route_note: str
    forwarded_to: str
    outcome: str


def _case(registration: SignUp) -> Submission:
    """A reception sign-up's case; every one has it (made together, migration 0007)."""
    if registration.case is None:
        raise NotFound(f"registration {registration.id} has no case")
    return registration.case


def case_of(registration: SignUp) -> Case:
    link = registration.event_endpoint
    case = _case(registration)
    return Case(
        id=registration.id,
        code=registration.code or "",
        status=registration.status,
        session_id=registration.session_id,
        session_title=registration.event.title,
        starts_at=registration.event.starts_at,
        session_endpoint_id=link.id,
        endpoint_id=link.endpoint_id,
        endpoint_name=link.endpoint.name,
        full_name=case.full_name,
        case_type=case.case_type,
        field=case.field,
        group_size=case.group_size,
        prior_agency=case.prior_agency,
        summary=case.summary,
        files=tuple(
            CaseFile(
                item["kind"], item["file_id"], item["name"], item.get("mime_type", ""), item.get("size", 0)
            )
            for item in case.attachments
        ),
        route=case.route,
        route_note=case.route_note,
        forwarded_to=case.forwarded_to,
        outcome=case.outcome,
    )


def in_scope(actor: Actor, registration: SignUp) -> bool:
    return actor.sees_endpoint(registration.event_endpoint.endpoint_id)


def open_for_decision(case: Case) -> bool:
    """Active and not decided yet: a decision stands once, and none is made on a cancelled one."""
    return case.status in ACTIVE and case.route is None


async def _in_scope(db: AsyncSession, actor: Actor, registration_id: int) -> SignUp:
    registration = await db.get(SignUp, registration_id)
    if registration is None or registration.case is None or not in_scope(actor, registration):
        raise NotFound(f"registration {registration_id}")
    return registration


async def case(db: AsyncSession, actor: Actor, registration_id: int) -> Case | None:
    """The registration as it stands now, if it exists and is within the actor's scope."""
    try:
        return case_of(await _in_scope(db, actor, registration_id))
    except NotFound:
        return None


async def next_to_review(db: AsyncSession, actor: Actor, *, now: datetime, skipped: list[int]) -> Case | None:
    """The oldest active registration without a decision, of a coming session, in scope."""
    query = (
        select(SignUp)
        .join(Event, Event.id == SignUp.session_id)
        .join(EventEndpoint, EventEndpoint.id == SignUp.session_endpoint_id)
        .join(Submission, CASE_OF_SIGN_UP)
        .where(
            SignUp.status.in_(ACTIVE),
            Submission.route.is_(None),
            Event.starts_at > now,
            SignUp.id.not_in(skipped or [-1]),
        )
        .order_by(Event.starts_at, SignUp.queued_at, SignUp.id)
    )
    if actor.endpoint_ids is not None:
        query = query.where(EventEndpoint.endpoint_id.in_(list(actor.endpoint_ids)))
    found = await db.scalar(query.limit(1))
    return None if found is None else case_of(found)


async def _notify(db: AsyncSession, registration: SignUp, kind: NoticeKind, now: datetime) -> None:
    params = AboutRegistration(registration.id)
    await queue(db, kind, citizen_id=registration.citizen_id, params=params, now=now)


async def decide(
    db: AsyncSession,
    registration_id: int,
    route: str,
    *,
    actor: Actor,
    now: datetime,
    note: str = "",
    agency: str = "",
) -> Case:
    """Accept, return with guidance, or forward to an agency; the citizen is told. Returns the
    case as decided.

    Raises NotFound when the registration is gone or outside the actor's scope, and
    AlreadyDecided when another officer decided first or the citizen cancelled meanwhile
    (checked in the same statement that writes, so two officers never both do)."""
    if route not in ROUTES:
        raise ValueError(route)
    registration = await _in_scope(db, actor, registration_id)
    case = _case(registration)
    result = await db.execute(
        update(Submission)
        .where(
            Submission.id == case.id,
            Submission.route.is_(None),
            select(SignUp.id).where(SignUp.id == registration.id, SignUp.status.in_(ACTIVE)).exists(),
        )
        .values(
            route=route,
            route_note=note,
            forwarded_to=agency,
            reviewed_at=now,
            reviewed_by=str(actor),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await db.refresh(registration)
    await db.refresh(case)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDecided(f"{registration.code}: {registration.status.value}, route {case.route}")
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action=f"review.{route}",
        target_type="registration",
        target_id=registration.id,
        agency=agency,
    )
    await _notify(db, registration, NoticeKind(f"route_{route}"), now)
    await db.flush()
    return case_of(registration)


async def reclassify(
    db: AsyncSession,
    registration_id: int,
    *,
    actor: Actor,
    now: datetime,
    case_type: CaseType | None = None,
    field: str | None = None,
    group_size: int | None = None,
) -> None:
    """Raises NotFound when the registration is gone or outside the actor's scope."""
    registration = await _in_scope(db, actor, registration_id)
    case = _case(registration)
    before = {"case_type": case.case_type.value, "field": case.field, "group_size": case.group_size}
    if case_type is not None:
        case.case_type = case_type
    if field is not None:
        case.field = field
    if group_size is not None:
        case.group_size = group_size
    case.updated_at = registration.updated_at = now
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action="review.reclassify",
        target_type="registration",
        target_id=registration.id,
        before=before,
    )
    await db.flush()


async def record_outcome(
    db: AsyncSession, registration_id: int, outcome: str, *, actor: Actor, now: datetime
) -> None:
    """Raises NotFound when the registration is gone or outside the actor's scope."""
    registration = await _in_scope(db, actor, registration_id)
    case = _case(registration)
    case.outcome, case.outcome_at, case.updated_at = outcome, now, now
    registration.updated_at = now
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action="review.outcome",
        target_type="registration",
        target_id=registration.id,
    )
    await _notify(db, registration, NoticeKind.OUTCOME, now)
    await db.flush()


async def by_code(db: AsyncSession, actor: Actor, code: str) -> Case | None:
    registration = await db.scalar(select(SignUp).where(SignUp.code == code.strip().upper()))
    found = registration is not None and registration.case is not None and in_scope(actor, registration)
    return case_of(registration) if found and registration is not None else None


async def find(
    db: AsyncSession, actor: Actor, query: str, *, phone: str | None, limit: int = 20
) -> list[Case]:
    """By code, phone (E.164) or part of the name, within the actor's scope.

    Without the right to see denouncers, a denunciation is found by its code only:
    a match by name or phone would itself tell who denounced.
    """
    found = await by_code(db, actor, query)
    if found is not None:
        return [found]
    statement = (
        select(SignUp)
        .join(EventEndpoint, EventEndpoint.id == SignUp.session_endpoint_id)
        .join(Submission, CASE_OF_SIGN_UP)
        .where(Submission.full_name.is_not(None))
        .order_by(SignUp.created_at.desc(), SignUp.id.desc())
    )
    if actor.endpoint_ids is not None:
        statement = statement.where(EventEndpoint.endpoint_id.in_(list(actor.endpoint_ids)))
    if not actor.see_denouncers:
        statement = statement.where(Submission.case_type != CaseType.DENUNCIATION)
    if phone:
        statement = statement.where(Submission.phone == phone)
        return [case_of(registration) for registration in await db.scalars(statement.limit(limit))]
    words = fold(query).split()
    if not words:
        return []
    matches = []
    for registration in await db.scalars(statement):
        name = fold(_case(registration).full_name or "")
        if all(word in name for word in words):
            matches.append(case_of(registration))
            if len(matches) >= limit:
                break
    return matches
