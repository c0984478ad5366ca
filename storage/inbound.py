"""Inbound updates: stored on arrival (webhooks), marked handled exactly once.

A webhook stores the update before it answers 200, so an update survives a crash
right after; a duplicate delivery (same update id) is recognised and dropped. Once handled,
only the id stays: the payload (the sender's name, what they typed) is emptied, so no
personal data outlives its handling here, out of reach of "delete my data" and retention.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert, insert_if_absent
from storage.models import InboundUpdate


async def store(
    db: AsyncSession, channel: str, update_id: str, payload: dict[str, Any], now: datetime
) -> None:
    values = {"channel": channel, "update_id": update_id, "payload": payload, "received_at": now}
    await insert_if_absent(db, InboundUpdate, values)


async def first_handling(db: AsyncSession, channel: str, update_id: str, now: datetime) -> bool:
    """Mark the update handled in the caller's transaction; False if it already was.

    Done in the same transaction as the conversation change, so an update is
    handled exactly once: a crash rolls both back, a duplicate finds the mark.
    On PostgreSQL a concurrent duplicate waits on the row lock, then sees it.
    """
    values = {
        "channel": channel,
        "update_id": update_id,
        "payload": {},
        "received_at": now,
        "handled_at": now,
    }
    insert = dialect_insert(db, InboundUpdate).values(**values)
    result = await db.execute(
        insert.on_conflict_do_update(
            index_elements=[InboundUpdate.channel, InboundUpdate.update_id],
            set_={"handled_at": now, "payload": {}},
            where=InboundUpdate.handled_at.is_(None),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_handled(db: AsyncSession, channel: str, update_id: str, now: datetime) -> None:
    """For updates that never reach the dialog engine (membership changes, group chats)."""
    await db.execute(
        update(InboundUpdate)
        .where(
            InboundUpdate.channel == channel,
            InboundUpdate.update_id == update_id,
            InboundUpdate.handled_at.is_(None),
        )
        .values(handled_at=now, payload={})
    )


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
