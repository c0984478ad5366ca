"""Inbound updates: stored on arrival, marked handled exactly once, replies owed until sent.

Every update is stored before it is acknowledged (a webhook's 200, a poll's next offset),
so it survives a crash right after; a duplicate delivery (same update id) is recognised and
dropped. Once handled, only the id stays: the payload (the sender's name, what they typed)
is emptied, so no personal data outlives its handling here, out of reach of "delete my
data" and retention. The transaction that handles an update also notes to whom its replies
are owed (`reply_to`); sending them clears it, so a start after a crash knows whose prompt
may not have gone out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert, insert_if_absent
from storage.models import InboundUpdate


async def store(
    db: AsyncSession, channel: str, update_id: str, payload: dict[str, Any], now: datetime
) -> None:
    values = {"channel": channel, "update_id": update_id, "payload": payload, "received_at": now}
    await insert_if_absent(db, InboundUpdate, values)


async def store_new(
    db: AsyncSession, channel: str, updates: list[tuple[str, dict[str, Any]]], now: datetime
) -> set[str]:
    """Store a batch of (update id, payload) in one statement; returns the ids not seen before
    (a repeat delivery is not handled again: a stored one is resumed at start)."""
    if not updates:
        return set()
    rows = [
        {"channel": channel, "update_id": update_id, "payload": payload, "received_at": now}
        for update_id, payload in dict(updates).items()
    ]
    insert = dialect_insert(db, InboundUpdate).values(rows).on_conflict_do_nothing()
    return set(await db.scalars(insert.returning(InboundUpdate.update_id)))


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


async def replies_sent(db: AsyncSession, channel: str, update_ids: list[str], now: datetime) -> None:
    """These updates are finished: handled (an update the engine never saw, or one it failed
    on and apologised for, is marked here so it is not replayed at every start) and their
    replies sent. One statement for a whole batch."""
    if not update_ids:
        return
    await db.execute(
        update(InboundUpdate)
        .where(InboundUpdate.channel == channel, InboundUpdate.update_id.in_(update_ids))
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
