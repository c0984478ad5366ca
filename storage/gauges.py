"""What `GET /metrics` reads from the database at a scrape: a few aggregate queries, each
on an index or a primary key, so a scrape every 15 s costs the database nothing to speak of."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Notification, ZaloOAToken

UNSENT = ("pending", "sending")


@dataclass(frozen=True)
class Backlog:
    due: int  # notices due and not sent yet
    oldest_due_at: datetime | None  # when the oldest of them fell due


async def outbox_backlog(db: AsyncSession, now: datetime) -> Backlog:
    """On the index (state, due_at)."""
    due, oldest = (
        await db.execute(
            select(func.count(), func.min(Notification.due_at)).where(
                Notification.state.in_(UNSENT), Notification.due_at <= now
            )
        )
    ).one()
    if isinstance(oldest, str):  # SQLite may hand an aggregate back as the stored text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    return Backlog(int(due), oldest)


async def advisory_lock_holders(db: AsyncSession, key: int) -> int:
    """PostgreSQL: the sessions holding the advisory lock `key` (a bigint key below 2**32)
    in this database, from pg_locks."""
    held = await db.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = 0 AND objid = :key AND objsubid = 1"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"key": key},
    )
    return int(held or 0)


async def zalo_token_expires_at(db: AsyncSession, app_id: str) -> datetime | None:
    return await db.scalar(select(ZaloOAToken.expires_at).where(ZaloOAToken.app_id == app_id))
