"""Registrations: the capacity, deadline and waitlist rules.

Seats are taken and given back only by conditional UPDATEs of
`session_endpoints.seats_taken`, so concurrent sign-ups and cancellations
can never overbook an endpoint on SQLite or PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, outbox
from storage.errors import AlreadyRegistered, DeadlinePassed, NotFound, SessionNotOpen, TooManyPeople
from storage.models import (
    CaseType,
    ReceptionSession,
    Registration,
    RegistrationStatus,
    SessionEndpoint,
)
from storage.outbox import AboutRegistration, NoticeKind
from storage.rules import OPEN_STATUSES, is_open_for_registration, summary_deadline
from storage.sessions import open_seats_at

ACTIVE = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
GROUP_THRESHOLD = 5  # from 5 people a group names representatives


def max_representatives(group_size: int) -> int:
    """1–2 representatives for 5–10 people, at most 5 above 10 (0: no group rule)."""
    if group_size < GROUP_THRESHOLD:
        return 0
    return 2 if group_size <= 10 else 5


def seats_needed(group_size: int, representatives: list[str]) -> int:
    """Capacity counts the people who attend: representatives for a group."""
    return len(representatives) if group_size >= GROUP_THRESHOLD else group_size


class CitizenLike(Protocol):
    """A citizen as stored (ORM) or as the flows see them (storage.citizens.CitizenRecord)."""

    @property
    def id(self) -> int: ...
    @property
    def channel(self) -> str: ...
    @property
    def channel_user_id(self) -> str: ...


@dataclass
class Draft:
    """What a citizen has entered, ready to be submitted."""

    session_endpoint_id: int
    full_name: str
    phone: str
    id_number: str
    address: str
    case_type: CaseType
    field: str
    summary: str
    prior_agency: str = ""
    group_size: int = 1
    representatives: list[str] = dataclasses.field(default_factory=list)
    attachments: list[dict[str, object]] = dataclasses.field(default_factory=list)


def registration_code(registration: Registration, tz: tzinfo) -> str:
    """`TCD-2026-000123`: the year as the office counts it (local time), then the row id."""
    return f"TCD-{registration.created_at.astimezone(tz).year}-{registration.id:06d}"


async def _take_seats(db: AsyncSession, session_endpoint_id: int, seats: int) -> bool:
    result = await db.execute(
        update(SessionEndpoint)
        .where(
            SessionEndpoint.id == session_endpoint_id,
            SessionEndpoint.seats_taken + seats <= SessionEndpoint.capacity,
        )
        .values(seats_taken=SessionEndpoint.seats_taken + seats)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _give_back_seats(db: AsyncSession, session_endpoint_id: int, seats: int) -> None:
    await db.execute(
        update(SessionEndpoint)
        .where(SessionEndpoint.id == session_endpoint_id)
        .values(seats_taken=SessionEndpoint.seats_taken - seats)
        .execution_options(synchronize_session=False)
    )


async def next_open_session_id(
    db: AsyncSession, endpoint_id: int, now: datetime, lead_days: int
) -> int | None:
    seats = await open_seats_at(db, endpoint_id, now, lead_days)
    return seats[0].session_endpoint_id if seats else None


async def _check_open(
    db: AsyncSession, link: SessionEndpoint, session: ReceptionSession, now: datetime, lead_days: int
) -> None:
    if session.status not in OPEN_STATUSES:
        raise SessionNotOpen(f"session {session.id} is {session.status}")
    if not is_open_for_registration(session, now, lead_days):
        raise DeadlinePassed(
            summary_deadline(session.starts_at, lead_days),
            await next_open_session_id(db, link.endpoint_id, now, lead_days),
        )


async def active_registration(db: AsyncSession, citizen_id: int, session_id: int) -> Registration | None:
    return await db.scalar(
        select(Registration).where(
            Registration.citizen_id == citizen_id,
            Registration.session_id == session_id,
            Registration.status.in_(ACTIVE),
        )
    )


async def submit(
    db: AsyncSession, citizen: CitizenLike, draft: Draft, *, now: datetime, lead_days: int, tz: tzinfo = UTC
) -> Registration:
    """Confirm a registration if seats are left, else put it on the waitlist.

    Raises DeadlinePassed, SessionNotOpen or AlreadyRegistered. The caller commits.
    """
    link = await db.get(SessionEndpoint, draft.session_endpoint_id)
    if link is None:
        raise NotFound(f"session endpoint {draft.session_endpoint_id}")
    session = await db.get(ReceptionSession, link.session_id)
    assert session is not None
    await _check_open(db, link, session, now, lead_days)
    existing = await active_registration(db, citizen.id, session.id)
    if existing is not None:
        raise AlreadyRegistered(existing.code)

    seats = seats_needed(draft.group_size, draft.representatives)
    if seats < 1:
        raise ValueError("a group of 5 or more needs at least one representative")
    if seats > link.capacity:
        # It could never be confirmed, and at the head of the waitlist it would block everyone.
        raise TooManyPeople(link.capacity)
    confirmed = await _take_seats(db, link.id, seats)
    registration = Registration(
        citizen_id=citizen.id,
        session_id=session.id,
        session_endpoint_id=link.id,
        status=RegistrationStatus.CONFIRMED if confirmed else RegistrationStatus.WAITLISTED,
        full_name=draft.full_name,
        phone=draft.phone,
        id_number=draft.id_number,
        address=draft.address,
        case_type=draft.case_type,
        field=draft.field,
        summary=draft.summary,
        prior_agency=draft.prior_agency,
        group_size=draft.group_size,
        representatives=list(draft.representatives),
        attachments=list(draft.attachments),
        seats=seats,
        created_at=now,
        updated_at=now,
        queued_at=now,
    )
    try:
        # SAVEPOINT first, then add: begin_nested() flushes pending objects before the
        # savepoint starts, and a failed flush there would roll back the whole transaction.
        async with db.begin_nested():
            db.add(registration)
            await db.flush()
    except IntegrityError:
        # The same citizen submitted twice at once and the other one won, or a real failure,
        # which must not be told to the citizen as "registered already".
        won = await active_registration(db, citizen.id, session.id)
        if won is None:
            raise
        # The caller may go on and commit (the dialog does), so the seat taken above is given back.
        if confirmed:
            await _give_back_seats(db, link.id, seats)
        raise AlreadyRegistered(won.code) from None
    registration.code = registration_code(registration, tz)
    audit.record(
        db,
        at=now,
        actor=f"{citizen.channel}:{citizen.channel_user_id}",
        action="registration.submit",
        target_type="registration",
        target_id=registration.id,
        status=registration.status.value,
    )
    await db.flush()
    return registration


async def has_denounced(db: AsyncSession, citizen_id: int) -> bool:
    """Whether the citizen has submitted a denunciation (their identity is then never echoed)."""
    found = await db.scalar(
        select(Registration.id)
        .where(Registration.citizen_id == citizen_id, Registration.case_type == CaseType.DENUNCIATION)
        .limit(1)
    )
    return found is not None


async def has_waiting_list(db: AsyncSession, session_endpoint_id: int) -> bool:
    """Whether someone waits for a seat at this session and endpoint (a freed seat is theirs)."""
    found = await db.scalar(
        select(Registration.id)
        .where(
            Registration.session_endpoint_id == session_endpoint_id,
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .limit(1)
    )
    return found is not None


async def own_registration(db: AsyncSession, citizen_id: int, registration_id: int) -> Registration:
    registration = await db.get(Registration, registration_id)
    if registration is None or registration.citizen_id != citizen_id:
        raise NotFound(f"registration {registration_id}")
    return registration


async def list_own(db: AsyncSession, citizen_id: int) -> list[Registration]:
    return list(
        await db.scalars(
            select(Registration)
            .where(Registration.citizen_id == citizen_id)
            .order_by(Registration.created_at.desc(), Registration.id.desc())
        )
    )


async def edit_summary(
    db: AsyncSession,
    citizen: CitizenLike,
    registration_id: int,
    summary: str,
    *,
    now: datetime,
    lead_days: int,
) -> Registration:
    registration = await own_registration(db, citizen.id, registration_id)
    if registration.status not in ACTIVE:
        raise SessionNotOpen(f"registration {registration.code} is cancelled")
    await _check_open(db, registration.session_endpoint, registration.session, now, lead_days)
    registration.summary = summary
    registration.updated_at = now
    audit.record(
        db,
        at=now,
        actor=f"{citizen.channel}:{citizen.channel_user_id}",
        action="registration.edit_summary",
        target_type="registration",
        target_id=registration.id,
    )
    await db.flush()
    return registration


async def _move(
    db: AsyncSession,
    registration: Registration,
    old: RegistrationStatus,
    new: RegistrationStatus,
    now: datetime,
) -> bool:
    """Change the status only if nobody else changed it first (double presses, races)."""
    values: dict[str, object] = {"status": new, "updated_at": now}
    if new == RegistrationStatus.CANCELLED:
        values["cancelled_at"] = now
    result = await db.execute(
        update(Registration)
        .where(Registration.id == registration.id, Registration.status == old)
        .values(**values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cancel(
    db: AsyncSession, registration: Registration, *, now: datetime, actor: str
) -> list[Registration]:
    """Cancel, free the seats and promote waitlisted registrations in order.

    Returns the promoted registrations; each gets a notice in the outbox.
    """
    old = registration.status
    while True:
        if old == RegistrationStatus.CANCELLED:
            return []
        if await _move(db, registration, old, RegistrationStatus.CANCELLED, now):
            break
        # Changed since it was read: cancelled by a double press (nothing to do), or
        # promoted from the waitlist meanwhile (then it is cancelled as confirmed).
        current = await db.scalar(select(Registration.status).where(Registration.id == registration.id))
        if current is None or current == old:
            return []
        old = current
    audit.record(
        db,
        at=now,
        actor=actor,
        action="registration.cancel",
        target_type="registration",
        target_id=registration.id,
    )
    if old != RegistrationStatus.CONFIRMED:
        return []
    await _give_back_seats(db, registration.session_endpoint_id, registration.seats)
    return await _promote_waitlisted(db, registration.session_endpoint_id, now=now)


async def _promote_waitlisted(
    db: AsyncSession, session_endpoint_id: int, *, now: datetime
) -> list[Registration]:
    """First come, first served: stop at the first group that does not fit."""
    promoted = []
    queue = await db.scalars(
        select(Registration)
        .where(
            Registration.session_endpoint_id == session_endpoint_id,
            Registration.status == RegistrationStatus.WAITLISTED,
        )
        .order_by(Registration.queued_at, Registration.id)
    )
    waiting, confirmed = RegistrationStatus.WAITLISTED, RegistrationStatus.CONFIRMED
    for candidate in list(queue):
        if not await _move(db, candidate, waiting, confirmed, now):
            continue  # promoted by a concurrent cancellation
        if not await _take_seats(db, session_endpoint_id, candidate.seats):
            await _move(db, candidate, confirmed, waiting, now)
            break
        await outbox.queue(
            db,
            NoticeKind.WAITLIST_PROMOTED,
            citizen_id=candidate.citizen_id,
            params=AboutRegistration(candidate.id),
            now=now,
        )
        audit.record(
            db,
            at=now,
            actor="system",
            action="registration.promote",
            target_type="registration",
            target_id=candidate.id,
        )
        promoted.append(candidate)
    await db.flush()
    return promoted
