"""Staff review of registrations: the queue, decisions, outcomes, search. Every step audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import AlreadyDecided
from storage.models import (
    CaseType,
    ReceptionSession,
    Registration,
    SessionEndpoint,
)
from storage.outbox import AboutRegistration, NoticeKind, queue
from storage.registrations import ACTIVE
from storage.staff import Actor
from storage.text import fold

ROUTES = ("accept", "return", "forward")


def in_scope(actor: Actor, registration: Registration) -> bool:
    return actor.sees_endpoint(registration.session_endpoint.endpoint_id)


def open_for_decision(registration: Registration) -> bool:
    """Active and not decided yet: a decision stands once, and none is made on a cancelled one."""
    return registration.status in ACTIVE and registration.route is None


async def next_to_review(
    db: AsyncSession, actor: Actor, *, now: datetime, skipped: list[int]
) -> Registration | None:
    """The oldest active registration without a decision, of a coming session, in scope."""
    query = (
        select(Registration)
        .join(ReceptionSession, ReceptionSession.id == Registration.session_id)
        .join(SessionEndpoint, SessionEndpoint.id == Registration.session_endpoint_id)
        .where(
            Registration.status.in_(ACTIVE),
            Registration.route.is_(None),
            ReceptionSession.starts_at > now,
            Registration.id.not_in(skipped or [-1]),
        )
        .order_by(ReceptionSession.starts_at, Registration.queued_at, Registration.id)
    )
    if actor.endpoint_ids is not None:
        query = query.where(SessionEndpoint.endpoint_id.in_(list(actor.endpoint_ids)))
    return await db.scalar(query.limit(1))


async def _notify(db: AsyncSession, registration: Registration, kind: NoticeKind, now: datetime) -> None:
    params = AboutRegistration(registration.id)
    await queue(db, kind, citizen_id=registration.citizen_id, params=params, now=now)


async def decide(
    db: AsyncSession,
    registration: Registration,
    route: str,
    *,
    actor: Actor,
    now: datetime,
    note: str = "",
    agency: str = "",
) -> None:
    """Accept, return with guidance, or forward to an agency; the citizen is told.

    Raises AlreadyDecided when another officer decided first or the citizen cancelled
    meanwhile (checked in the same statement that writes, so two officers never both do)."""
    if route not in ROUTES:
        raise ValueError(route)
    result = await db.execute(
        update(Registration)
        .where(
            Registration.id == registration.id,
            Registration.route.is_(None),
            Registration.status.in_(ACTIVE),
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
    if not result.rowcount:  # type: ignore[attr-defined]
        raise AlreadyDecided(f"{registration.code}: {registration.status.value}, route {registration.route}")
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


async def reclassify(
    db: AsyncSession,
    registration: Registration,
    *,
    actor: Actor,
    now: datetime,
    case_type: CaseType | None = None,
    field: str | None = None,
    group_size: int | None = None,
) -> None:
    before = {
        "case_type": registration.case_type.value,
        "field": registration.field,
        "group_size": registration.group_size,
    }
    if case_type is not None:
        registration.case_type = case_type
    if field is not None:
        registration.field = field
    if group_size is not None:
        registration.group_size = group_size
    registration.updated_at = now
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
    db: AsyncSession, registration: Registration, outcome: str, *, actor: Actor, now: datetime
) -> None:
    registration.outcome, registration.outcome_at, registration.updated_at = outcome, now, now
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


async def by_code(db: AsyncSession, actor: Actor, code: str) -> Registration | None:
    registration = await db.scalar(select(Registration).where(Registration.code == code.strip().upper()))
    return registration if registration is not None and in_scope(actor, registration) else None


async def find(
    db: AsyncSession, actor: Actor, query: str, *, phone: str | None, limit: int = 20
) -> list[Registration]:
    """By code, phone (E.164) or part of the name, within the actor's scope.

    Without the right to see denouncers, a denunciation is found by its code only:
    a match by name or phone would itself tell who denounced.
    """
    found = await by_code(db, actor, query)
    if found is not None:
        return [found]
    statement = (
        select(Registration)
        .join(SessionEndpoint, SessionEndpoint.id == Registration.session_endpoint_id)
        .where(Registration.full_name.is_not(None))
        .order_by(Registration.created_at.desc(), Registration.id.desc())
    )
    if actor.endpoint_ids is not None:
        statement = statement.where(SessionEndpoint.endpoint_id.in_(list(actor.endpoint_ids)))
    if not actor.see_denouncers:
        statement = statement.where(Registration.case_type != CaseType.DENUNCIATION)
    if phone:
        statement = statement.where(Registration.phone == phone)
        return list(await db.scalars(statement.limit(limit)))
    words = fold(query).split()
    if not words:
        return []
    matches = []
    for registration in await db.scalars(statement):
        name = fold(registration.full_name or "")
        if all(word in name for word in words):
            matches.append(registration)
            if len(matches) >= limit:
                break
    return matches
