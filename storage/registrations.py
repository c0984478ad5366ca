"""Registrations: the capacity, deadline and waitlist rules.

Seats are taken and given back only by conditional UPDATEs of
`session_endpoints.seats_taken`, so concurrent sign-ups and cancellations
can never overbook an endpoint on SQLite or PostgreSQL.

The flows get plain data back (`CitizenRegistration`, `SeatChoice`); the statements on a
sign-up's path are Core statements built once, each one round trip.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, catalog, outbox, sessions
from storage.db import write_with_turn
from storage.errors import AlreadyRegistered, DeadlinePassed, NotFound, SessionNotOpen, TooManyPeople
from storage.event_kinds import Timing, policy
from storage.models import (
    CaseType,
    EventKind,
    SignUp,
    SignUpStatus,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.outbox import AboutRegistration, NoticeKind
from storage.rules import OPEN_STATUSES
from storage.sessions import (
    CASE_KINDS,
    SEAT_COLUMNS,
    SEATS_FROM,
    SESSION_ENDPOINTS,
    SESSIONS,
    SessionSeat,
    open_seats_at,
    seat_of,
)

REGISTRATIONS = typing.cast(Table, SignUp.__table__)
SUBMISSIONS = typing.cast(Table, Submission.__table__)
# A reception sign-up's case: its one submission of kind `case`.
CASE_OF_SIGN_UP = and_(
    SUBMISSIONS.c.sign_up_id == REGISTRATIONS.c.id, SUBMISSIONS.c.kind == SubmissionKind.CASE
)

ACTIVE = (SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED)
GROUP_THRESHOLD = 5  # from 5 people a group names representatives


def max_representatives(group_size: int) -> int:
    """1–2 representatives for 5–10 people, at most 5 above 10 (0: no group rule)."""
    if group_size < GROUP_THRESHOLD:
        return 0
    return 2 if group_size <= 10 else 5


def seats_needed(group_size: int, representatives: list[str]) -> int:
    """Capacity counts the people who attend: representatives for a group."""
    return len(representatives) if group_size >= GROUP_THRESHOLD else group_size


class Person(Protocol):
    """Who registers, as these functions read them (a citizen's record, mapped or plain)."""

    @property
    def id(self) -> int: ...

    @property
    def channel(self) -> str: ...

    @property
    def channel_user_id(self) -> str: ...


def _actor(citizen: Person) -> str:
    return f"{citizen.channel}:{citizen.channel_user_id}"


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class CitizenRegistration:
    """A registration as its citizen sees it, with the session and endpoint (`seat`)."""

    id: int
    code: str
    status: SignUpStatus
    route: str | None  # the staff's decision: accept | return | forward
    citizen_id: int
    full_name: str | None
    phone: str | None
    id_number: str | None
    address: str | None
    case_type: CaseType
    field: str
    summary: str
    prior_agency: str
    group_size: int
    representatives: list[str]
    attachments: list[dict[str, Any]]
    seats: int  # taken while confirmed: the people who attend
    created_at: datetime
    updated_at: datetime
    queued_at: datetime
    seat: SessionSeat

    @property
    def session_id(self) -> int:
        return self.seat.session_id

    @property
    def session_endpoint_id(self) -> int:
        return self.seat.session_endpoint_id


@dataclass(frozen=True)
class SeatChoice:
    """A seat as one citizen may take it."""

    seat: SessionSeat
    held: str | None  # the code of their active registration for the same session, if any
    denouncer: bool  # they have denounced: their identity is never echoed (Luật Tố cáo, Art. 9)


@dataclass(frozen=True)
class Promoted:
    """A registration moved up from the waiting list to a seat."""

    id: int
    citizen_id: int


class Held(Protocol):
    """A registration as `cancel` reads it (mapped, or a CitizenRegistration); its status
    may be stale: the cancellation goes by the stored one."""

    @property
    def id(self) -> int: ...

    @property
    def status(self) -> SignUpStatus: ...

    @property
    def session_endpoint_id(self) -> int: ...

    @property
    def seats(self) -> int: ...


def code_prefix(kind: EventKind, created_at: datetime, tz: tzinfo) -> str:
    """A sign-up's code is `TCD-2026-000123` (`TXCT-…` for voter contact): this, the year as
    the office counts it (local time), then the row id in six digits or more."""
    return f"{policy(kind).code_prefix}-{created_at.astimezone(tz).year}-"


# --- statements, built once --------------------------------------------------------------

# ACTIVE as the partial unique index says it (and not IN (…), which is re-expanded into
# the SQL text at every execution).
_is_active = REGISTRATIONS.c.status != SignUpStatus.CANCELLED
_REGISTRATION_COLUMNS = (
    REGISTRATIONS.c.id.label("registration_id"),
    REGISTRATIONS.c.code,
    REGISTRATIONS.c.status.label("registration_status"),
    SUBMISSIONS.c.route,
    REGISTRATIONS.c.citizen_id,
    SUBMISSIONS.c.full_name,
    SUBMISSIONS.c.phone,
    SUBMISSIONS.c.id_number,
    SUBMISSIONS.c.address,
    SUBMISSIONS.c.case_type,
    SUBMISSIONS.c.field,
    SUBMISSIONS.c.summary,
    SUBMISSIONS.c.prior_agency,
    SUBMISSIONS.c.group_size,
    SUBMISSIONS.c.representatives,
    SUBMISSIONS.c.attachments,
    REGISTRATIONS.c.seats,
    REGISTRATIONS.c.created_at,
    REGISTRATIONS.c.updated_at,
    REGISTRATIONS.c.queued_at,
)
_WITH_SEAT = REGISTRATIONS.join(
    SEATS_FROM, REGISTRATIONS.c.session_endpoint_id == SESSION_ENDPOINTS.c.id
).join(SUBMISSIONS, CASE_OF_SIGN_UP)
_OWN = (
    select(*_REGISTRATION_COLUMNS, *SEAT_COLUMNS)
    .select_from(_WITH_SEAT)
    .where(REGISTRATIONS.c.citizen_id == bindparam("citizen_id"))
)
_ONE_OWN = _OWN.where(REGISTRATIONS.c.id == bindparam("registration_id"))
_ALL_OWN = _OWN.order_by(REGISTRATIONS.c.created_at.desc(), REGISTRATIONS.c.id.desc())

_denounced = exists().where(
    SUBMISSIONS.c.citizen_id == bindparam("citizen_id"),
    SUBMISSIONS.c.case_type == CaseType.DENUNCIATION,
)
_held = (
    select(REGISTRATIONS.c.code)
    .where(
        REGISTRATIONS.c.citizen_id == bindparam("citizen_id"),
        REGISTRATIONS.c.session_id == SESSIONS.c.id,
        _is_active,
    )
    .limit(1)
    .scalar_subquery()
)
_SEAT_FOR = (
    select(*SEAT_COLUMNS, _held.label("held"), _denounced.label("denouncer"))
    .select_from(SEATS_FROM)
    .where(SESSION_ENDPOINTS.c.id == bindparam("session_endpoint_id"))
)
_HELD_CODE = select(REGISTRATIONS.c.code).where(
    REGISTRATIONS.c.citizen_id == bindparam("citizen_id"),
    REGISTRATIONS.c.session_id == bindparam("session_id"),
    _is_active,
)
_HAS_WAITING_LIST = select(
    exists().where(
        REGISTRATIONS.c.session_endpoint_id == bindparam("session_endpoint_id"),
        REGISTRATIONS.c.status == SignUpStatus.WAITLISTED,
    )
)

_TAKE_SEATS = (
    update(SESSION_ENDPOINTS)
    .where(
        SESSION_ENDPOINTS.c.id == bindparam("session_endpoint_id"),
        SESSION_ENDPOINTS.c.seats_taken + bindparam("seats") <= SESSION_ENDPOINTS.c.capacity,
    )
    .values(seats_taken=SESSION_ENDPOINTS.c.seats_taken + bindparam("seats"))
)
_GIVE_BACK_SEATS = (
    update(SESSION_ENDPOINTS)
    .where(SESSION_ENDPOINTS.c.id == bindparam("session_endpoint_id"))
    .values(seats_taken=SESSION_ENDPOINTS.c.seats_taken - bindparam("seats"))
)
_INSERTED = (
    "citizen_id",
    "session_id",
    "session_endpoint_id",
    "status",
    "seats",
    "created_at",
    "updated_at",
    "queued_at",
)


def _insert_numbered(dialect: str, status: ColumnElement[Any] | None = None, prefix: str = "") -> Any:
    """INSERT … SELECT that takes the row's id first, so that its code, made of the id, goes in
    with it: one statement, not an INSERT and an UPDATE. The id is the one the engine would
    have given: the sequence's next on PostgreSQL, one past the largest on SQLite (whose
    writers hold the database's lock: no two take the same). A second active registration of
    the same citizen for the same session inserts nothing (the partial unique index and
    ON CONFLICT DO NOTHING): no SAVEPOINT, and the transaction goes on. The status is the
    `status` parameter unless an expression is given; the parameters' names start with
    `prefix`."""
    next_id: ColumnElement[int]
    if dialect == "postgresql":
        next_id = func.nextval(func.pg_get_serial_sequence(REGISTRATIONS.name, "id"))
    else:
        next_id = func.coalesce(func.max(REGISTRATIONS.c.id), 0) + 1
    row = select(next_id.label("id")).subquery("next_row")
    digits = cast(row.c.id, String)
    if dialect == "postgresql":  # at least six digits, as f"{id:06d}"
        number = func.lpad(digits, func.greatest(6, func.length(digits)), "0")
    else:
        number = func.printf("%06d", row.c.id)
    columns: dict[str, ColumnElement[Any]] = {
        name: bindparam(prefix + name, type_=REGISTRATIONS.c[name].type) for name in _INSERTED
    }
    if status is not None:
        columns["status"] = status
    values = select(
        row.c.id, bindparam(prefix + "code_prefix", type_=String()) + number, *columns.values()
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(REGISTRATIONS)
        .from_select(["id", "code", *_INSERTED], values)
        .on_conflict_do_nothing()
        .returning(REGISTRATIONS.c.id, REGISTRATIONS.c.code)
    )


_INSERT = {dialect: _insert_numbered(dialect) for dialect in ("postgresql", "sqlite")}


def _take_and_insert_postgresql() -> Any:
    """PostgreSQL: the seats taken if they are left and the sign-up inserted, confirmed or
    waitlisted as that went, in one statement. It returns whether seats were taken (to give
    them back when the insert found the citizen already signed up) and the new row's id and
    code (none then). The sign-up's parameters are named `new_…`: SQLAlchemy would take one
    named as a column of the seat's table (`session_id`) for a value its UPDATE sets."""
    taken = _TAKE_SEATS.returning(SESSION_ENDPOINTS.c.id).cte("taken")
    status = case(
        (exists(select(literal(1)).select_from(taken)), literal(SignUpStatus.CONFIRMED.value)),
        else_=literal(SignUpStatus.WAITLISTED.value),
    )
    inserted = _insert_numbered("postgresql", status, prefix="new_").cte("inserted")
    took = select(func.count().label("took")).select_from(taken).subquery("took")
    return select(took.c.took, inserted.c.id, inserted.c.code).select_from(took.outerjoin(inserted, true()))


_TAKE_AND_INSERT_POSTGRESQL = _take_and_insert_postgresql()
_CASE_COLUMNS = (
    "event_id", "sign_up_id", "citizen_id", "endpoint_id", "full_name", "phone", "id_number", "address",
    "case_type", "field", "summary", "prior_agency", "group_size", "representatives", "attachments",
    "created_at", "updated_at",
)  # fmt: skip
# Every NOT NULL column is given: folded into the turn's closing statement (a WITH clause),
# an INSERT gets none of the models' Python-side defaults.
_INSERT_CASE = insert(SUBMISSIONS).values(
    kind=SubmissionKind.CASE,
    status=SubmissionStatus.ACTIVE,
    voters=1,
    route_note="",
    forwarded_to="",
    reviewed_by="",
    outcome="",
    **{name: bindparam(f"case_{name}", type_=SUBMISSIONS.c[name].type) for name in _CASE_COLUMNS},
)
_SET_SUMMARY = (
    update(SUBMISSIONS)
    .where(
        SUBMISSIONS.c.sign_up_id == bindparam("registration_id"), SUBMISSIONS.c.kind == SubmissionKind.CASE
    )
    .values(summary=bindparam("new_summary"), updated_at=bindparam("now"))
)
# A status changed only if nobody else changed it first (double presses, races).
_MOVE = (
    update(REGISTRATIONS)
    .where(REGISTRATIONS.c.id == bindparam("registration_id"), REGISTRATIONS.c.status == bindparam("old"))
    .values(status=bindparam("new"), updated_at=bindparam("now"))
)
_MOVE_TO_CANCELLED = _MOVE.values(cancelled_at=bindparam("now"))
_STATUS = select(REGISTRATIONS.c.status).where(REGISTRATIONS.c.id == bindparam("registration_id"))
_WAITING = (
    select(REGISTRATIONS.c.id, REGISTRATIONS.c.citizen_id, REGISTRATIONS.c.seats)
    .where(
        REGISTRATIONS.c.session_endpoint_id == bindparam("session_endpoint_id"),
        REGISTRATIONS.c.status == SignUpStatus.WAITLISTED,
    )
    .order_by(REGISTRATIONS.c.queued_at, REGISTRATIONS.c.id)
)


def _registration_of(row: Any, lead_days: int) -> CitizenRegistration:
    return CitizenRegistration(
        id=row.registration_id,
        code=row.code or "",
        status=row.registration_status,
        route=row.route,
        citizen_id=row.citizen_id,
        full_name=row.full_name,
        phone=row.phone,
        id_number=row.id_number,
        address=row.address,
        case_type=row.case_type,
        field=row.field,
        summary=row.summary,
        prior_agency=row.prior_agency,
        group_size=row.group_size,
        representatives=list(row.representatives or []),
        attachments=list(row.attachments or []),
        seats=row.seats,
        created_at=row.created_at,
        updated_at=row.updated_at,
        queued_at=row.queued_at,
        seat=seat_of(row, lead_days),
    )


# --- reading -----------------------------------------------------------------------------


@runtime_checkable
class TurnCitizen(Protocol):
    """A citizen as the turn's read gives them (`storage.citizens.CitizenRecord`): with what
    they hold already."""

    @property
    def id(self) -> int: ...

    @property
    def denouncer(self) -> bool: ...

    def code_held_for(self, event_id: int) -> str | None: ...


async def seat_for(
    db: AsyncSession, citizen: Person | TurnCitizen, session_endpoint_id: int, lead_days: int | Timing
) -> SeatChoice | None:
    """A seat with what the citizen's own registrations say about taking it. For a citizen
    as the turn read them, the seat alone is read (and kept between events: see
    `storage.catalog`); otherwise all of it, in one read."""
    if isinstance(citizen, TurnCitizen):
        seat = await sessions.seat(db, session_endpoint_id, lead_days)
        if seat is None:
            return None
        return SeatChoice(seat, citizen.code_held_for(seat.session_id), citizen.denouncer)
    params = {"citizen_id": citizen.id, "session_endpoint_id": session_endpoint_id}
    row = (await db.execute(_SEAT_FOR, params)).first()
    if row is None:
        return None
    return SeatChoice(seat_of(row, lead_days), row.held, bool(row.denouncer))


async def has_waiting_list(db: AsyncSession, session_endpoint_id: int) -> bool:
    """Whether someone waits for a seat at this session and endpoint (a freed seat is theirs)."""
    return bool(await db.scalar(_HAS_WAITING_LIST, {"session_endpoint_id": session_endpoint_id}))


async def own_registration(
    db: AsyncSession, citizen_id: int, registration_id: int, lead_days: int
) -> CitizenRegistration:
    params = {"citizen_id": citizen_id, "registration_id": registration_id}
    row = (await db.execute(_ONE_OWN, params)).first()
    if row is None:
        raise NotFound(f"registration {registration_id}")
    return _registration_of(row, lead_days)


async def list_own(db: AsyncSession, citizen_id: int, lead_days: int) -> list[CitizenRegistration]:
    """The citizen's registrations, the latest first."""
    rows = await db.execute(_ALL_OWN, {"citizen_id": citizen_id})
    return [_registration_of(row, lead_days) for row in rows]


async def next_open_session_id(
    db: AsyncSession, endpoint_id: int, now: datetime, lead_days: int | Timing, kind: EventKind
) -> int | None:
    kinds = CASE_KINDS if kind in CASE_KINDS else (kind,)
    seats = await open_seats_at(db, endpoint_id, now, lead_days, kinds)
    return seats[0].session_endpoint_id if seats else None


async def _check_open(db: AsyncSession, seat: SessionSeat, now: datetime, lead_days: int | Timing) -> None:
    if seat.status not in OPEN_STATUSES:
        raise SessionNotOpen(f"session {seat.session_id} is {seat.status}")
    if now > seat.deadline:
        next_one = await next_open_session_id(db, seat.endpoint_id, now, lead_days, seat.kind)
        raise DeadlinePassed(seat.deadline, next_one)


# --- signing up --------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedUp:
    """A sign-up as made: confirmed or waitlisted, with its code."""

    id: int
    code: str
    status: SignUpStatus
    seats: int
    seat: SessionSeat  # as it stands after this sign-up


async def sign_up(
    db: AsyncSession,
    citizen: Person,
    session_endpoint_id: int,
    *,
    seats: int,
    now: datetime,
    lead_days: int | Timing,
    tz: tzinfo = UTC,
) -> SignedUp:
    """Take `seats` at an endpoint of an event if they are left, else a place on its waiting
    list; the code's prefix is the event kind's. Nothing is handed in with it (`submit` does
    that for a reception case).

    Raises NotFound, DeadlinePassed, SessionNotOpen, AlreadyRegistered or TooManyPeople. The
    caller commits. Statements: the seat read; the seats taken and the row with its code (one
    on PostgreSQL, two on SQLite); the audit, which goes with a dialog turn's closing write.
    """
    choice = await seat_for(db, citizen, session_endpoint_id, lead_days)
    if choice is None:
        raise NotFound(f"session endpoint {session_endpoint_id}")
    seat = choice.seat
    await _check_open(db, seat, now, lead_days)
    if choice.held is not None:
        raise AlreadyRegistered(choice.held)
    if seats < 1:
        raise ValueError("a sign-up takes at least one seat")
    if seats > seat.capacity:
        # It could never be confirmed, and at the head of the waitlist it would block everyone.
        raise TooManyPeople(seat.capacity)
    values: dict[str, Any] = {
        "citizen_id": citizen.id,
        "session_id": seat.session_id,
        "session_endpoint_id": seat.session_endpoint_id,
        "seats": seats,
        "created_at": now,
        "updated_at": now,
        "queued_at": now,
        "code_prefix": code_prefix(seat.kind, now, tz),
    }
    catalog.changed(db)  # the seats taken move on
    confirmed, inserted = await _take_and_insert(db, seat.session_endpoint_id, seats, values)
    status = SignUpStatus.CONFIRMED if confirmed else SignUpStatus.WAITLISTED
    if inserted is None:
        # The same citizen signed up twice at once and the other one won.
        won = await db.scalar(_HELD_CODE, {"citizen_id": citizen.id, "session_id": seat.session_id})
        if won is None:
            raise RuntimeError("a sign-up was not inserted, and no other holds its place")
        # The caller may go on and commit (the dialog does), so the seat taken above is given back.
        if confirmed:
            await db.execute(
                _GIVE_BACK_SEATS, {"session_endpoint_id": seat.session_endpoint_id, "seats": seats}
            )
        raise AlreadyRegistered(won)
    sign_up_id, code = inserted
    await audit.write(
        db,
        at=now,
        actor=_actor(citizen),
        action="registration.submit",
        target_type="registration",
        target_id=sign_up_id,
        status=status.value,
    )
    taken = seat.seats_taken + seats if confirmed else seat.capacity
    return SignedUp(sign_up_id, code, status, seats, dataclasses.replace(seat, seats_taken=taken))


async def submit(
    db: AsyncSession, citizen: Person, draft: Draft, *, now: datetime, lead_days: int, tz: tzinfo = UTC
) -> CitizenRegistration:
    """A reception sign-up with its case: confirmed if seats are left, else waitlisted.

    Raises DeadlinePassed, SessionNotOpen, AlreadyRegistered or TooManyPeople. The caller
    commits. `sign_up`'s statements and the case, which (as the audit) goes with a dialog
    turn's closing write: nothing in the event reads it back.
    """
    seats = seats_needed(draft.group_size, draft.representatives)
    if seats < 1:
        raise ValueError("a group of 5 or more needs at least one representative")
    signed = await sign_up(
        db, citizen, draft.session_endpoint_id, seats=seats, now=now, lead_days=lead_days, tz=tz
    )
    case_row = {
        "event_id": signed.seat.session_id,
        "sign_up_id": signed.id,
        "citizen_id": citizen.id,
        "endpoint_id": signed.seat.endpoint_id,
        "full_name": draft.full_name,
        "phone": draft.phone,
        "id_number": draft.id_number,
        "address": draft.address,
        "case_type": draft.case_type,
        "field": draft.field,
        "summary": draft.summary,
        "prior_agency": draft.prior_agency,
        "group_size": draft.group_size,
        "representatives": list(draft.representatives),
        "attachments": list(draft.attachments),
        "created_at": now,
        "updated_at": now,
    }
    await write_with_turn(db, _INSERT_CASE, {f"case_{name}": value for name, value in case_row.items()})
    return CitizenRegistration(
        id=signed.id,
        code=signed.code,
        status=signed.status,
        route=None,
        citizen_id=citizen.id,
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
        seat=signed.seat,
    )


async def _take_and_insert(
    db: AsyncSession, session_endpoint_id: int, seats: int, values: dict[str, Any]
) -> tuple[bool, tuple[int, str] | None]:
    """The seats taken if they are left, and the sign-up inserted, confirmed or waitlisted as
    that went: whether seats were taken, and the new row's id and code (None: the citizen
    holds a sign-up for the event already). One statement on PostgreSQL, two on SQLite."""
    if db.get_bind().dialect.name == "postgresql":
        params = {f"new_{name}": value for name, value in values.items()}
        params |= {"session_endpoint_id": session_endpoint_id, "seats": seats}
        took, sign_up_id, code = (await db.execute(_TAKE_AND_INSERT_POSTGRESQL, params)).one()
        return bool(took), None if sign_up_id is None else (sign_up_id, code)
    confirmed = await _take_seats(db, session_endpoint_id, seats)
    status = SignUpStatus.CONFIRMED if confirmed else SignUpStatus.WAITLISTED
    row = (await db.execute(_INSERT["sqlite"], values | {"status": status})).first()
    return confirmed, None if row is None else (row.id, row.code)


async def _take_seats(db: AsyncSession, session_endpoint_id: int, seats: int) -> bool:
    result = await db.execute(_TAKE_SEATS, {"session_endpoint_id": session_endpoint_id, "seats": seats})
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- changing and cancelling -------------------------------------------------------------


async def edit_summary(
    db: AsyncSession,
    citizen: Person,
    registration_id: int,
    summary: str,
    *,
    now: datetime,
    lead_days: int,
) -> CitizenRegistration:
    registration = await own_registration(db, citizen.id, registration_id, lead_days)
    if registration.status not in ACTIVE:
        raise SessionNotOpen(f"registration {registration.code} is cancelled")
    await _check_open(db, registration.seat, now, lead_days)
    await db.execute(_SET_SUMMARY, {"registration_id": registration_id, "new_summary": summary, "now": now})
    await audit.write(
        db,
        at=now,
        actor=_actor(citizen),
        action="registration.edit_summary",
        target_type="registration",
        target_id=registration_id,
    )
    return dataclasses.replace(registration, summary=summary, updated_at=now)


async def _move(
    db: AsyncSession, registration_id: int, old: SignUpStatus, new: SignUpStatus, now: datetime
) -> bool:
    """Change the status only if nobody else changed it first (double presses, races)."""
    statement = _MOVE_TO_CANCELLED if new == SignUpStatus.CANCELLED else _MOVE
    params = {"registration_id": registration_id, "old": old, "new": new, "now": now}
    result = await db.execute(statement, params)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cancel(db: AsyncSession, registration: Held, *, now: datetime, actor: str) -> list[Promoted]:
    """Cancel, free the seats and promote waitlisted registrations in order.

    Returns the promoted registrations; each gets a notice in the outbox.
    """
    old = registration.status
    while True:
        if old == SignUpStatus.CANCELLED:
            return []
        if await _move(db, registration.id, old, SignUpStatus.CANCELLED, now):
            break
        # Changed since it was read: cancelled by a double press (nothing to do), or
        # promoted from the waitlist meanwhile (then it is cancelled as confirmed).
        current = await db.scalar(_STATUS, {"registration_id": registration.id})
        if current is None or current == old:
            return []
        old = current
    await audit.write(
        db,
        at=now,
        actor=actor,
        action="registration.cancel",
        target_type="registration",
        target_id=registration.id,
    )
    if old != SignUpStatus.CONFIRMED:
        return []
    params = {"session_endpoint_id": registration.session_endpoint_id, "seats": registration.seats}
    catalog.changed(db)
    await db.execute(_GIVE_BACK_SEATS, params)
    return await _promote_waitlisted(db, registration.session_endpoint_id, now=now)


async def _promote_waitlisted(db: AsyncSession, session_endpoint_id: int, *, now: datetime) -> list[Promoted]:
    """First come, first served: stop at the first group that does not fit."""
    promoted = []
    waiting, confirmed = SignUpStatus.WAITLISTED, SignUpStatus.CONFIRMED
    queue = list(await db.execute(_WAITING, {"session_endpoint_id": session_endpoint_id}))
    for candidate in queue:
        if not await _move(db, candidate.id, waiting, confirmed, now):
            continue  # promoted by a concurrent cancellation
        if not await _take_seats(db, session_endpoint_id, candidate.seats):
            await _move(db, candidate.id, confirmed, waiting, now)
            break
        await outbox.queue(
            db,
            NoticeKind.WAITLIST_PROMOTED,
            citizen_id=candidate.citizen_id,
            params=AboutRegistration(candidate.id),
            now=now,
        )
        await audit.write(
            db,
            at=now,
            actor="system",
            action="registration.promote",
            target_type="registration",
            target_id=candidate.id,
        )
        promoted.append(Promoted(candidate.id, candidate.citizen_id))
    if promoted:
        await db.flush()
    return promoted
