"""Inbound updates: stored on arrival, marked handled exactly once, replies owed until sent.

Every update is stored before it is acknowledged (a webhook's 200, a poll's next offset),
so it survives a crash right after; a duplicate delivery (same update id) is recognised and
dropped. Once handled, only the id stays: the payload (the sender's name, what they typed)
is emptied, so no personal data outlives its handling here, out of reach of "delete my
data" and retention. The transaction that handles an update also notes to whom its replies
are owed (`reply_to`); sending them clears it, so a start after a crash knows whose prompt
may not have gone out.

Several workers (PostgreSQL): each stored update names its user and the worker that
stored it, which alone handles it while it lives. A worker about to handle a user's update
first sees the older ones of that user other workers have not finished (`ahead_of`); a dead
worker's unfinished updates are taken over by a live one (`take_over`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.db import dialect_insert, insert_if_absent
from storage.models import InboundUpdate, Worker


async def store(
    db: AsyncSession, channel: str, update_id: str, payload: dict[str, Any], now: datetime
) -> None:
    values = {"channel": channel, "update_id": update_id, "payload": payload, "received_at": now}
    await insert_if_absent(db, InboundUpdate, values)


# The row an INSERT or UPDATE returns, as a subquery in its RETURNING names it (SQLAlchemy
# would neither qualify these names there nor correlate the subquery to that row).
_RETURNED: dict[str, ColumnElement[Any]] = {
    name: literal_column(f"inbound_updates.{name}") for name in ("id", "channel", "user_id")
}


def _unfinished(row: type[InboundUpdate]) -> ColumnElement[bool]:
    """Not handled yet, or handled with its replies maybe not sent (models.UNFINISHED)."""
    return or_(row.handled_at.is_(None), row.reply_to.is_not(None))


async def store_new(
    db: AsyncSession,
    channel: str,
    updates: list[tuple[str, str | None, dict[str, Any]]],
    now: datetime,
    *,
    worker: str,
) -> dict[str, bool]:
    """Store a batch of (update id, user id, payload) in one statement, each to be handled by
    `worker`. Returns the ids not seen before (a repeat delivery is not handled again: a
    stored one is resumed), each with whether an older update of its user, stored by another
    worker, was not finished yet (then see `ahead_of` before handling it)."""
    if not updates:
        return {}
    rows = [
        {
            "channel": channel,
            "update_id": update_id,
            "user_id": user_id,
            "payload": payload,
            "received_at": now,
            "worker": worker,
        }
        for update_id, (user_id, payload) in {u: (who, p) for u, who, p in updates}.items()
    ]
    older = aliased(InboundUpdate)
    behind = exists().where(
        older.channel == _RETURNED["channel"],
        older.user_id == _RETURNED["user_id"],
        # `+ 0`: SQLite would otherwise walk every older row by rowid (the whole table's
        # history, per update stored) instead of the small index of unfinished ones.
        older.id + 0 < _RETURNED["id"],
        older.worker.is_distinct_from(worker),
        _unfinished(older),
    )
    insert = dialect_insert(db, InboundUpdate).values(rows).on_conflict_do_nothing()
    result = await db.execute(insert.returning(InboundUpdate.update_id, behind))
    return {update_id: bool(waits) for update_id, waits in result}


async def first_handling(
    db: AsyncSession, channel: str, update_id: str, now: datetime, *, reply_to: str | None = None
) -> bool:
    """Mark the update handled in the caller's transaction; False if it already was.

    Done in the same transaction as the conversation change, so an update is
    handled exactly once: a crash rolls both back, a duplicate finds the mark.
    On PostgreSQL a concurrent duplicate waits on the row lock, then sees it.
    `reply_to`: the user its replies are owed to, until `replies_sent`.
    """
    values = {
        "channel": channel,
        "update_id": update_id,
        "payload": {},
        "received_at": now,
        "handled_at": now,
        "reply_to": reply_to,
    }
    insert = dialect_insert(db, InboundUpdate).values(**values)
    result = await db.execute(
        insert.on_conflict_do_update(
            index_elements=[InboundUpdate.channel, InboundUpdate.update_id],
            set_={"handled_at": now, "payload": {}, "reply_to": reply_to},
            where=InboundUpdate.handled_at.is_(None),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def replies_sent(
    db: AsyncSession, channel: str, update_ids: list[str], now: datetime, *, worker: str | None = None
) -> None:
    """These updates are finished: handled (an update the engine never saw, or one it failed
    on and apologised for, is marked here so it is not replayed at every start) and their
    replies sent. One statement for a whole batch. With `worker`, only those still its own:
    one taken over meanwhile (its worker was thought dead) is the new owner's to finish."""
    if not update_ids:
        return
    which = [InboundUpdate.channel == channel, InboundUpdate.update_id.in_(update_ids)]
    if worker is not None:
        which.append(or_(InboundUpdate.worker.is_(None), InboundUpdate.worker == worker))
    await db.execute(
        update(InboundUpdate)
        .where(*which)
        .values(
            handled_at=func.coalesce(InboundUpdate.handled_at, now),
            payload={},
            reply_to=None,
        )
    )


async def replies_owed(db: AsyncSession, channel: str) -> list[tuple[str, str]]:
    """(update id, user id) of updates handled whose replies may not have gone out, oldest first."""
    rows = await db.execute(
        select(InboundUpdate.update_id, InboundUpdate.reply_to)
        .where(InboundUpdate.channel == channel, InboundUpdate.reply_to.is_not(None))
        .order_by(InboundUpdate.id)
    )
    return [(update_id, str(user_id)) for update_id, user_id in rows]


async def unhandled(db: AsyncSession, channel: str, limit: int = 500) -> list[dict[str, Any]]:
    """Payloads stored but not handled (the process died), oldest first.

    Safe to run while other workers handle them too: the engine handles each once.
    """
    rows = await db.scalars(
        select(InboundUpdate)
        .where(
            InboundUpdate.channel == channel,
            InboundUpdate.handled_at.is_(None),
        )
        .order_by(InboundUpdate.id)
        .limit(limit)
    )
    return [row.payload for row in rows]


@dataclass(frozen=True)
class Ahead:
    """An older update of the same user, not finished yet."""

    update_id: str
    worker: str | None


async def ahead_of(
    db: AsyncSession, channel: str, user_id: str, update_id: str, *, worker: str, owed_since: datetime
) -> list[Ahead]:
    """The updates of `user_id` stored before `update_id` and not finished: other workers'
    (or none's) not handled, or handled since `owed_since` with replies not confirmed sent (a
    send failed for good long ago holds nothing back); and `worker`'s own not handled. Oldest
    first."""
    mine = (
        select(InboundUpdate.id)
        .where(InboundUpdate.channel == channel, InboundUpdate.update_id == update_id)
        .scalar_subquery()
    )
    others_owed = and_(
        InboundUpdate.worker.is_distinct_from(worker),
        InboundUpdate.reply_to.is_not(None),
        InboundUpdate.handled_at >= owed_since,
    )
    rows = await db.execute(
        select(InboundUpdate.update_id, InboundUpdate.worker)
        .where(
            InboundUpdate.channel == channel,
            InboundUpdate.user_id == user_id,
            InboundUpdate.id < mine,
            or_(InboundUpdate.handled_at.is_(None), others_owed),
        )
        .order_by(InboundUpdate.id)
    )
    return [Ahead(*row) for row in rows]


@dataclass(frozen=True)
class Taken:
    """An unfinished update now this worker's: to handle, or (handled) its replies owed."""

    update_id: str
    user_id: str | None
    payload: dict[str, Any]
    handled: bool
    reply_to: str | None  # handled, its replies maybe not sent: to whom
    superseded: bool  # a later update of the user is handled: its replies are the last ones


async def take_over(
    db: AsyncSession,
    channel: str,
    worker: str,
    *,
    alive_since: datetime,
    orphaned_before: datetime | None,
    own: bool = False,
    update_ids: Sequence[str] | None = None,
    limit: int = 500,
) -> list[Taken]:
    """Make `worker` the owner of the unfinished updates of workers not seen since
    `alive_since` (dead, or stopped), and of those stored with no worker before
    `orphaned_before` (None: any; rows stored before workers were recorded). `own`: also
    those already `worker`'s (a start takes back what its previous run left). Oldest first.

    One UPDATE whose condition is checked again on each row it locks: of two live workers
    taking over at once, each row goes to one (the other sees its new, live owner)."""
    live = select(Worker.name).where(Worker.last_seen >= alive_since)

    def takeable(row: type[InboundUpdate]) -> list[ColumnElement[bool]]:
        unowned: ColumnElement[bool] = row.worker.is_(None)
        if orphaned_before is not None:
            unowned = and_(unowned, row.received_at < orphaned_before)
        orphan = or_(unowned, row.worker.not_in(live))
        if own:
            orphan = or_(orphan, row.worker == worker)
        which = [row.channel == channel, _unfinished(row), orphan]
        if update_ids is not None:
            which.append(row.update_id.in_(list(update_ids)))
        return which

    candidate = aliased(InboundUpdate)
    first = select(candidate.id).where(*takeable(candidate)).order_by(candidate.id).limit(limit)
    newer = aliased(InboundUpdate)
    superseded = exists().where(
        newer.channel == _RETURNED["channel"],
        newer.user_id == _RETURNED["user_id"],
        newer.id > _RETURNED["id"],
        newer.handled_at.is_not(None),
    )
    result = await db.execute(
        update(InboundUpdate)
        .where(InboundUpdate.id.in_(first), *takeable(InboundUpdate))
        .values(worker=worker)
        .returning(
            InboundUpdate.id,
            InboundUpdate.update_id,
            InboundUpdate.user_id,
            InboundUpdate.payload,
            InboundUpdate.handled_at,  # not `IS NOT NULL`: SQLite's RETURNING gets that wrong
            InboundUpdate.reply_to,
            superseded,
        )
        .execution_options(synchronize_session=False)
    )
    rows = sorted(result, key=lambda row: row[0])
    return [
        Taken(update_id, user_id, payload, handled_at is not None, reply_to, bool(superseded))
        for _, update_id, user_id, payload, handled_at, reply_to, superseded in rows
    ]


async def purge_handled(db: AsyncSession, *, before: datetime) -> int:
    """Delete updates handled before `before` (HANDLED_KEEP_DAYS ago): the table no longer
    grows without bound. Returns how many. A repeat arriving later would be handled again,
    which is why the window is far longer than any platform retries a delivery."""
    result = await db.execute(
        delete(InboundUpdate)
        .where(InboundUpdate.handled_at.is_not(None), InboundUpdate.handled_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
