"""Conversation state: one read and one write per event.

`open_turn` reads, in one statement, the user's state (locked until the transaction ends,
so a user's events are handled one at a time across workers), who they are (the citizen
row with their sign-ups, and any staff role), whether this event was handled before, and the
catalog's version (`storage.catalog`); on PostgreSQL the same statement creates a new user.
`close_turn` writes the new state and marks the event handled: on PostgreSQL in one statement
(with the turn's own writes, `storage.db.write_with_turn`), which also decides a race between
two workers handed the same event (the loser writes nothing and rolls back). The statements
are built once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    String,
    Table,
    and_,
    bindparam,
    exists,
    literal,
    literal_column,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.catalog import CATALOG_VERSION, CURRENT_VERSION
from storage.citizens import DENOUNCER_AT, RECORD_COLUMNS, CitizenRecord, record_of
from storage.db import TURN_WRITES, insert_if_absent
from storage.identity import UserKey
from storage.models import Citizen, ConversationState, InboundUpdate, StaffMember, UTCDateTime
from storage.staff import Actor, actor_from

STATE = ConversationState.__table__
INBOUND = InboundUpdate.__table__
assert isinstance(STATE, Table) and isinstance(INBOUND, Table)


@dataclass(frozen=True)
class Turn:
    """What one event starts from."""

    flow: str
    step: str
    data: dict[str, Any]
    citizen: CitizenRecord
    actor: Actor
    handled_before: bool  # the event was handled already (a repeat delivery)


_HANDLED = (
    select(InboundUpdate.handled_at.is_not(None))
    .where(InboundUpdate.channel == bindparam("key_channel"), InboundUpdate.update_id == bindparam("event"))
    .scalar_subquery()
)
# Who the user is on the staff (all None for a citizen), as `actor_from` takes it.
_STAFF_COLUMNS = (
    StaffMember.role,
    StaffMember.endpoint_ids,
    StaffMember.see_denouncers,
    StaffMember.id.label("staff_id"),
    StaffMember.agency_id,
    StaffMember.delegate,
)
_READ = (
    select(
        ConversationState.flow,
        ConversationState.step,
        ConversationState.data,
        *_STAFF_COLUMNS,
        CURRENT_VERSION.label("catalog_version"),
        _HANDLED,
        *RECORD_COLUMNS,
    )
    .select_from(ConversationState)
    .outerjoin(
        Citizen,
        and_(
            Citizen.channel == ConversationState.channel, Citizen.channel_user_id == ConversationState.user_id
        ),
    )
    .outerjoin(
        StaffMember,
        and_(
            StaffMember.channel == ConversationState.channel,
            StaffMember.user_id == ConversationState.user_id,
            StaffMember.active.is_(True),
        ),
    )
    .where(
        ConversationState.channel == bindparam("key_channel"),
        ConversationState.user_id == bindparam("key_user"),
    )
    .with_for_update(of=ConversationState)  # PostgreSQL; SQLite's transactions hold the write lock
)
CITIZEN_AT = 11  # where the citizen's columns start in a row of _READ

# PostgreSQL: the turn's read, which for a new user also creates their state and citizen rows
# (one round trip, not a read that finds nothing and then an INSERT). The INSERTs select
# nothing when the state was found; a new citizen is not a denouncer (no submission yet).
# A user with a state but no citizen row, or a first event racing another, returns no row
# here: `_create` then makes what is missing, or reads what the other made.
_EXISTING = _READ.cte("existing")
_NOTHING_FOUND = ~exists(select(literal(1)).select_from(_EXISTING))
_NEW_STATE = (
    postgresql.insert(STATE)
    .from_select(
        ["channel", "user_id", "flow", "step", "data", "updated_at"],
        select(
            bindparam("key_channel"),
            bindparam("key_user"),
            literal(""),
            literal(""),
            literal_column("'{}'", JSON),
            bindparam("at", type_=UTCDateTime()),
        ).where(_NOTHING_FOUND),
    )
    .on_conflict_do_nothing()
    .cte("new_state")
)
_NEW_CITIZEN = (
    postgresql.insert(Citizen)
    .from_select(
        ["channel", "channel_user_id", "created_at", "unreachable"],
        select(
            bindparam("key_channel"),
            bindparam("key_user"),
            bindparam("at", type_=UTCDateTime()),
            literal(False),
        ).where(_NOTHING_FOUND),
    )
    .on_conflict_do_nothing()
    .returning(*RECORD_COLUMNS[:DENOUNCER_AT])
    .cte("new_citizen")
)
_READ_OR_CREATE_POSTGRESQL = union_all(
    select(_EXISTING),
    select(
        literal(""),
        literal(""),
        literal(None, JSON),
        *_STAFF_COLUMNS,
        CURRENT_VERSION,
        literal(False),  # handled before: a new user's event was not
        *_NEW_CITIZEN.c,
        literal(False),  # a denouncer: not yet
        literal(None, String),  # sign-ups: none yet
    )
    .select_from(_NEW_CITIZEN)
    .outerjoin(
        StaffMember,
        and_(
            StaffMember.channel == bindparam("key_channel"),
            StaffMember.user_id == bindparam("key_user"),
            StaffMember.active.is_(True),
        ),
    )
    .add_cte(_NEW_STATE),
)

_WRITE = (
    update(STATE)
    .where(STATE.c.channel == bindparam("key_channel"), STATE.c.user_id == bindparam("key_user"))
    .values(
        flow=bindparam("new_flow"),
        step=bindparam("new_step"),
        data=bindparam("new_data", type_=JSON),
        updated_at=bindparam("at", type_=UTCDateTime()),
    )
)


def _mark_handled(insert: Any) -> Any:
    """INSERT the event as handled, or mark it so if stored unhandled; nothing if handled."""
    table = INBOUND
    return insert.values(
        channel=bindparam("key_channel"),
        update_id=bindparam("event"),
        payload=bindparam("emptied", type_=JSON),
        received_at=bindparam("at", type_=UTCDateTime()),
        handled_at=bindparam("at", type_=UTCDateTime()),
        reply_to=bindparam("owed_to"),
    ).on_conflict_do_update(
        index_elements=[table.c.channel, table.c.update_id],
        set_={
            "handled_at": bindparam("at", type_=UTCDateTime()),
            "payload": bindparam("emptied", type_=JSON),
            "reply_to": bindparam("owed_to"),
        },
        where=table.c.handled_at.is_(None),
    )


_MARK_SQLITE = _mark_handled(sqlite.insert(InboundUpdate))
# PostgreSQL: the mark and the state in one statement; the state is written only if this
# transaction made the mark (a concurrent duplicate waits on the mark's row, then finds it).
_MARKED = _mark_handled(postgresql.insert(InboundUpdate)).returning(literal(1)).cte("marked")
_WRITE_MARKED_POSTGRESQL = _WRITE.where(exists(select(literal(1)).select_from(_MARKED))).add_cte(_MARKED)


async def open_turn(
    db: AsyncSession, key: UserKey, event_id: str | None, admins: frozenset[UserKey], *, now: datetime
) -> Turn:
    """The user's state, locked, with who they are; created for a new user."""
    params: dict[str, Any] = {"key_channel": key.channel, "key_user": key.user_id, "event": event_id or ""}
    read: Any = _READ
    connection = await db.connection()
    if connection.dialect.name == "postgresql":
        read, params = _READ_OR_CREATE_POSTGRESQL, params | {"at": now}
    row = (await connection.execute(read, params)).one_or_none()
    if row is None or row.id is None:  # a new user (PostgreSQL: one the read could not create)
        row = await _create(db, key, params, now)
    db.info[TURN_WRITES] = []  # writes to send with close_turn's
    db.info[CATALOG_VERSION] = row.catalog_version
    actor = actor_from(
        key,
        admins,
        row.role,
        row.endpoint_ids,
        row.see_denouncers,
        staff_id=row.staff_id,
        agency_id=row.agency_id,
        delegate=row.delegate,
    )
    return Turn(
        flow=row.flow,
        step=row.step,
        data=dict(row.data or {}),
        citizen=record_of(row[CITIZEN_AT:]),
        actor=actor,
        handled_before=bool(row[CITIZEN_AT - 1]),  # _HANDLED, just before the citizen
    )


async def _create(db: AsyncSession, key: UserKey, params: dict[str, Any], now: datetime) -> Any:
    """A new user's rows, and the turn's row read from them. Two first events at once (or a
    citizen without a state): both insert, one wins, and the other reads what is there."""
    state = {"channel": key.channel, "user_id": key.user_id, "flow": "", "step": "", "data": {}}
    await insert_if_absent(db, ConversationState, state | {"updated_at": now})
    citizen = {"channel": key.channel, "channel_user_id": key.user_id, "created_at": now}
    await insert_if_absent(db, Citizen, citizen | {"unreachable": False})
    connection = await db.connection()
    return (await connection.execute(_READ, params)).one()


async def close_turn(
    db: AsyncSession,
    key: UserKey,
    *,
    flow: str,
    step: str,
    data: dict[str, Any],
    event_id: str | None,
    reply_to: str | None,
    now: datetime,
) -> bool:
    """Write the state and mark the event handled (owing its replies to `reply_to`). False:
    another worker handled the event meanwhile; the caller must roll back."""
    params = {
        "key_channel": key.channel,
        "key_user": key.user_id,
        "new_flow": flow,
        "new_step": step,
        "new_data": data,
        "at": now,
        "event": event_id,
        "owed_to": reply_to,
        "emptied": {},
    }
    connection = await db.connection()
    writes = db.info.pop(TURN_WRITES, [])
    db.info.pop(CATALOG_VERSION, None)
    if connection.dialect.name == "postgresql" and (folded := _folded(writes, params, bool(event_id))):
        # One statement: the turn's writes as its data-modifying WITH clauses. They run even
        # if the mark finds the event handled; the caller then rolls them back.
        statement, all_params = folded
        result = await connection.execute(statement, all_params)
        return bool(result.rowcount) or not event_id
    for write, write_params in writes:
        await connection.execute(write, write_params)
    if not event_id:
        await connection.execute(_WRITE, params)
        return True
    if connection.dialect.name == "postgresql":
        return bool((await connection.execute(_WRITE_MARKED_POSTGRESQL, params)).rowcount)
    if not (await connection.execute(_MARK_SQLITE, params)).rowcount:
        return False
    await connection.execute(_WRITE, params)
    return True


# The state's write with the turn's writes folded in, built once per sequence of writes (a
# flow's step makes the same ones each time: a few sequences in all).
_FOLDED: dict[tuple[bool, tuple[int, ...]], Any] = {}


def _folded(
    writes: list[tuple[Any, dict[str, Any]]], params: dict[str, Any], marked: bool
) -> tuple[Any, dict[str, Any]] | None:
    """The one statement and its parameters, or None where the writes cannot be folded:

    - The clauses of one statement all see the database as it was before it: two UPDATEs of
      one table there (the state's write and the mark among them) could both hit one row,
      and one of them would be lost.
    - One statement written twice (two audit entries) would have its parameters twice, and
      so would two that name a parameter alike.

    They are then sent one by one."""
    statements = [statement for statement, _ in writes]
    updated = [STATE, INBOUND, *(statement.table for statement in statements if statement.is_update)]
    if len(updated) != len(set(updated)) or len(set(map(id, statements))) != len(statements):
        return None
    key = (marked, tuple(map(id, statements)))
    if (statement := _FOLDED.get(key)) is None:
        write_state = _WRITE_MARKED_POSTGRESQL if marked else _WRITE
        clauses = [write.cte(f"turn_write_{n}") for n, write in enumerate(statements)]
        statement = _FOLDED.setdefault(key, write_state.add_cte(*clauses) if clauses else write_state)
    all_params = dict(params)
    for _, write_params in writes:
        all_params |= write_params
    if len(all_params) != len(params) + sum(len(write_params) for _, write_params in writes):
        return None
    return statement, all_params


async def state_data(db: AsyncSession, key: UserKey) -> dict[str, Any]:
    """The user's state data as it is (no lock): empty for a user without a state."""
    data = await db.scalar(
        select(ConversationState.data).where(
            ConversationState.channel == key.channel, ConversationState.user_id == key.user_id
        )
    )
    return dict(data or {})
