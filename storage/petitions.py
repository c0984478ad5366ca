"""Voters' petitions (ý kiến, kiến nghị cử tri), the voter's side: add one, list and read
their own, change the text, withdraw it — each until the round's petition deadline (its
compile deadline, `storage.event_kinds`).

A petition is a `Submission` of kind petition: made with a sign-up to attend (`sign_up_id`),
or written from a commune the round does not connect (no sign-up, `endpoint_id` their
commune). Its own code reads KNCT-2026-000123 (the kind policy's prefix for submissions),
made in the INSERT that stores it.

The statements are Core, built once. The round's deadline is checked inside the write
itself (the INSERT … SELECT and the UPDATEs carry `voters.still_taking_petitions`), so a
change that arrives in time costs one write; only a refused one reads why.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, String, Table, bindparam, cast, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import DeadlinePassed, NotFound, SessionNotOpen
from storage.event_kinds import Timing
from storage.models import AnswerLevel, CaseType, EventStatus, Submission, SubmissionKind, SubmissionStatus
from storage.rules import OPEN_STATUSES
from storage.voters import (
    ENDPOINTS,
    EVENTS,
    STOPS,
    Person,
    actor,
    code_prefix,
    deadline_params,
    petition_deadline,
    still_taking_petitions,
    voter_round,
)

SUBMISSIONS = typing.cast(Table, Submission.__table__)


@dataclass(frozen=True)
class NewPetition:
    """What a voter has entered, ready to be stored."""

    event_id: int
    endpoint_id: int | None  # their commune (the stop they attend, or where they write from);
    # None: a commune the office's list does not have (the address says which)
    sign_up_id: int | None  # with a sign-up to attend; None: written (or not attending)
    full_name: str
    phone: str
    address: str
    case_type: CaseType
    field: str
    level: AnswerLevel | None
    summary: str
    attachments: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class Petition:
    """A petition as its voter sees it, with the round and the commune."""

    id: int
    code: str
    status: SubmissionStatus
    event_id: int
    title: str  # the round's
    event_status: EventStatus
    deadline: datetime  # seen, changed or withdrawn until then
    endpoint_id: int | None
    endpoint_name: str
    sign_up_id: int | None
    full_name: str | None
    phone: str | None
    address: str | None
    case_type: CaseType
    field: str
    level: AnswerLevel | None
    summary: str
    attachments: list[dict[str, Any]]
    forwarded_to: str
    outcome: str
    outcome_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def changeable(self, now: datetime) -> bool:
        """Still active, its round on and its deadline not past (the minute itself admitted)."""
        return (
            self.status == SubmissionStatus.ACTIVE
            and self.event_status in OPEN_STATUSES
            and now <= self.deadline
        )


# --- statements, built once --------------------------------------------------------------


def _numbered(dialect: str) -> Any:
    """INSERT … SELECT that takes the row's id first so that its code (:code_prefix, then the
    id in six digits or more) goes in with it, and only while the round takes petitions: one
    statement. The id is the one the engine would have given: the sequence's next on
    PostgreSQL, one past the largest on SQLite (whose writers hold the database's lock), as
    `registrations` numbers sign-ups."""
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
    values = select(
        row.c.id,
        bindparam("code_prefix", type_=String()) + number,
        *(bindparam(name, type_=SUBMISSIONS.c[name].type) for name in _INSERTED),
    ).where(still_taking_petitions(bindparam("open_event_id")))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(SUBMISSIONS)
        .from_select(["id", "code", *_INSERTED], values)
        .returning(SUBMISSIONS.c.id, SUBMISSIONS.c.code)
    )


_INSERTED = (
    "kind",
    "event_id",
    "sign_up_id",
    "citizen_id",
    "endpoint_id",
    "status",
    "full_name",
    "phone",
    "address",
    "case_type",
    "field",
    "level",
    "summary",
    "attachments",
    "created_at",
    "updated_at",
)
# The INSERT … SELECT inserts nothing when the round is no longer taking petitions.
_INSERT = {dialect: _numbered(dialect) for dialect in ("postgresql", "sqlite")}

# The round's last meeting (the default compile deadline is counted from it).
_last_start = (
    select(func.max(func.coalesce(STOPS.c.starts_at, EVENTS.c.starts_at)))
    .where(STOPS.c.session_id == EVENTS.c.id)
    .scalar_subquery()
)
_COLUMNS = (
    SUBMISSIONS.c.id,
    SUBMISSIONS.c.code,
    SUBMISSIONS.c.status,
    SUBMISSIONS.c.event_id,
    EVENTS.c.title,
    EVENTS.c.status.label("event_status"),
    EVENTS.c.starts_at.label("event_starts_at"),
    EVENTS.c.compile_deadline,
    _last_start.label("last_start"),
    SUBMISSIONS.c.endpoint_id,
    ENDPOINTS.c.name.label("endpoint_name"),
    SUBMISSIONS.c.sign_up_id,
    SUBMISSIONS.c.full_name,
    SUBMISSIONS.c.phone,
    SUBMISSIONS.c.address,
    SUBMISSIONS.c.case_type,
    SUBMISSIONS.c.field,
    SUBMISSIONS.c.level,
    SUBMISSIONS.c.summary,
    SUBMISSIONS.c.attachments,
    SUBMISSIONS.c.forwarded_to,
    SUBMISSIONS.c.outcome,
    SUBMISSIONS.c.outcome_at,
    SUBMISSIONS.c.created_at,
    SUBMISSIONS.c.updated_at,
)
_OWN = (
    select(*_COLUMNS)
    .select_from(
        SUBMISSIONS.join(EVENTS, EVENTS.c.id == SUBMISSIONS.c.event_id).outerjoin(
            ENDPOINTS, ENDPOINTS.c.id == SUBMISSIONS.c.endpoint_id
        )
    )
    .where(
        SUBMISSIONS.c.citizen_id == bindparam("citizen_id"),
        SUBMISSIONS.c.kind == SubmissionKind.PETITION,
    )
)
_ALL_OWN = _OWN.order_by(SUBMISSIONS.c.created_at.desc(), SUBMISSIONS.c.id.desc()).limit(bindparam("limit"))
_ONE_OWN = _OWN.where(SUBMISSIONS.c.id == bindparam("petition_id"))

# A change goes through only on the voter's own active petition of a round still taking them.
_CHANGEABLE = (
    SUBMISSIONS.c.id == bindparam("petition_id"),
    SUBMISSIONS.c.citizen_id == bindparam("owner_id"),  # a column's name is refused in an UPDATE
    SUBMISSIONS.c.kind == SubmissionKind.PETITION,
    SUBMISSIONS.c.status == SubmissionStatus.ACTIVE,
    still_taking_petitions(SUBMISSIONS.c.event_id),
)
_SET_TEXT = (
    SUBMISSIONS.update()
    .where(*_CHANGEABLE)
    .values(summary=bindparam("new_summary"), updated_at=bindparam("now"))
    .returning(SUBMISSIONS.c.id)
)
_WITHDRAW = (
    SUBMISSIONS.update()
    .where(*_CHANGEABLE)
    .values(status=SubmissionStatus.WITHDRAWN, updated_at=bindparam("now"))
    .returning(SUBMISSIONS.c.id)
)


def _petition_of(row: Any, timing: Timing) -> Petition:
    last_start = row.last_start or row.event_starts_at
    return Petition(
        id=row.id,
        code=row.code or "",
        status=row.status,
        event_id=row.event_id,
        title=row.title,
        event_status=row.event_status,
        deadline=petition_deadline(row.event_status, last_start, row.compile_deadline, timing),
        endpoint_id=row.endpoint_id,
        endpoint_name=row.endpoint_name or "",
        sign_up_id=row.sign_up_id,
        full_name=row.full_name,
        phone=row.phone,
        address=row.address,
        case_type=row.case_type,
        field=row.field,
        level=row.level,
        summary=row.summary,
        attachments=list(row.attachments or []),
        forwarded_to=row.forwarded_to or "",
        outcome=row.outcome or "",
        outcome_at=row.outcome_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# --- reading -----------------------------------------------------------------------------


async def list_own(db: AsyncSession, citizen_id: int, timing: Timing, limit: int = 20) -> list[Petition]:
    """The voter's petitions, the latest first. One read."""
    rows = await db.execute(_ALL_OWN, {"citizen_id": citizen_id, "limit": limit})
    return [_petition_of(row, timing) for row in rows]


async def own(db: AsyncSession, citizen_id: int, petition_id: int, timing: Timing) -> Petition:
    """One of the voter's own petitions (NotFound for anyone else's). One read."""
    row = (await db.execute(_ONE_OWN, {"citizen_id": citizen_id, "petition_id": petition_id})).first()
    if row is None:
        raise NotFound(f"petition {petition_id}")
    return _petition_of(row, timing)


# --- writing -----------------------------------------------------------------------------


async def _why_closed(db: AsyncSession, citizen: Person, event_id: int, timing: Timing) -> Exception:
    """The reason a round took no petition: cancelled or over (SessionNotOpen), or past its
    deadline (DeadlinePassed, naming it)."""
    found = await voter_round(db, citizen.id, event_id, timing)
    if found is None:
        return NotFound(f"round {event_id}")
    if found.status not in OPEN_STATUSES:
        return SessionNotOpen(f"round {event_id} is {found.status}")
    return DeadlinePassed(found.petition_deadline, None)


async def add(
    db: AsyncSession, citizen: Person, new: NewPetition, *, now: datetime, timing: Timing, tz: tzinfo
) -> Petition:
    """Store a petition with its code. Raises DeadlinePassed (the round's petition deadline),
    SessionNotOpen or NotFound. The caller commits. Two statements: the row and the audit."""
    values = {
        "kind": SubmissionKind.PETITION,
        "event_id": new.event_id,
        "open_event_id": new.event_id,
        "sign_up_id": new.sign_up_id,
        "citizen_id": citizen.id,
        "endpoint_id": new.endpoint_id,
        "status": SubmissionStatus.ACTIVE,
        "full_name": new.full_name,
        "phone": new.phone,
        "address": new.address,
        "case_type": new.case_type,
        "field": new.field,
        "level": new.level,
        "summary": new.summary,
        "attachments": list(new.attachments),
        "created_at": now,
        "updated_at": now,
        "code_prefix": code_prefix(now, tz),
        **deadline_params(now, timing),
    }
    inserted = (await db.execute(_INSERT[db.get_bind().dialect.name], values)).first()
    if inserted is None:
        raise await _why_closed(db, citizen, new.event_id, timing)
    petition_id, code = inserted
    await audit.write(
        db,
        at=now,
        actor=actor(citizen),
        action="petition.add",
        target_type="submission",
        target_id=petition_id,
    )
    return Petition(
        id=petition_id,
        code=code,
        status=SubmissionStatus.ACTIVE,
        event_id=new.event_id,
        title="",
        event_status=EventStatus.SCHEDULED,
        deadline=now,  # not read: `own` gives the round's
        endpoint_id=new.endpoint_id,
        endpoint_name="",
        sign_up_id=new.sign_up_id,
        full_name=new.full_name,
        phone=new.phone,
        address=new.address,
        case_type=new.case_type,
        field=new.field,
        level=new.level,
        summary=new.summary,
        attachments=list(new.attachments),
        forwarded_to="",
        outcome="",
        outcome_at=None,
        created_at=now,
        updated_at=now,
    )


async def _change(
    db: AsyncSession,
    citizen: Person,
    petition_id: int,
    statement: Any,
    action: str,
    *,
    now: datetime,
    timing: Timing,
    **params: Any,
) -> None:
    ids = {"owner_id": citizen.id, "petition_id": petition_id}
    changed = (await db.execute(statement, {**ids, **params, **deadline_params(now, timing)})).first()
    if changed is None:
        petition = await own(db, citizen.id, petition_id, timing)  # NotFound: not theirs
        if petition.status != SubmissionStatus.ACTIVE:
            raise SessionNotOpen(f"petition {petition.code} is {petition.status}")
        raise await _why_closed(db, citizen, petition.event_id, timing)
    await audit.write(
        db, at=now, actor=actor(citizen), action=action, target_type="submission", target_id=petition_id
    )


async def edit_text(
    db: AsyncSession, citizen: Person, petition_id: int, text: str, *, now: datetime, timing: Timing
) -> None:
    """Change the text of the voter's own active petition before the deadline. Raises
    DeadlinePassed, SessionNotOpen (withdrawn, merged, or the round called off) or NotFound."""
    await _change(
        db, citizen, petition_id, _SET_TEXT, "petition.edit", now=now, timing=timing, new_summary=text
    )


async def withdraw(
    db: AsyncSession, citizen: Person, petition_id: int, *, now: datetime, timing: Timing
) -> None:
    """Withdraw the voter's own active petition before the deadline (same errors as `edit_text`)."""
    await _change(db, citizen, petition_id, _WITHDRAW, "petition.withdraw", now=now, timing=timing)
