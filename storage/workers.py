"""Workers' heartbeats: which `tiepdan run` processes are alive on this database.

Each writes `last_seen` every few seconds; one not seen for a while is dead, and its
updates are taken over by a live one (storage/inbound.py `take_over`). The count of live
workers splits a bot's sending rate among them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.models import Worker


async def beat(db: AsyncSession, name: str, now: datetime, *, starting: bool = False) -> None:
    """`name` is alive now (`starting`: it has just started)."""
    insert = dialect_insert(db, Worker).values(name=name, started_at=now, last_seen=now)
    changed = {"last_seen": now} | ({"started_at": now} if starting else {})
    await db.execute(insert.on_conflict_do_update(index_elements=[Worker.name], set_=changed))


async def alive(db: AsyncSession, *, since: datetime) -> dict[str, datetime]:
    """The workers seen since `since`, each with when it was last seen."""
    rows = await db.execute(select(Worker.name, Worker.last_seen).where(Worker.last_seen >= since))
    return {name: last_seen for name, last_seen in rows}


async def count_alive(db: AsyncSession, *, since: datetime) -> int:
    alive = select(func.count()).select_from(Worker).where(Worker.last_seen >= since)
    return int(await db.scalar(alive) or 0)


async def leave(db: AsyncSession, name: str) -> None:
    """`name` stopped cleanly: no longer counted, whatever it left is taken over at once."""
    await db.execute(delete(Worker).where(Worker.name == name))
