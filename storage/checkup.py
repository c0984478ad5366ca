"""What `tiepdan doctor` reads from the database: plain data, nothing written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.gauges import Backlog, outbox_backlog
from storage.identity import UserKey
from storage.models import ConversationState, Notification, ZaloOAToken
from storage.outbox import NoticeKind


@dataclass(frozen=True)
class OATokenState:
    access_token: str
    expires_at: datetime
    refreshed_at: datetime | None
    seed_hash: str

    def __repr__(self) -> str:  # never print the token
        return f"OATokenState(expires_at={self.expires_at!r}, refreshed_at={self.refreshed_at!r})"


async def database_now(db: AsyncSession) -> datetime:
    """The database server's clock (on SQLite, this machine's), in UTC."""
    value = await db.scalar(select(func.current_timestamp()))
    if isinstance(value, str):  # SQLite: 'YYYY-MM-DD HH:MM:SS' in UTC
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def backlog(db: AsyncSession, now: datetime) -> Backlog:
    """The outbox's notices due and unsent, as /metrics counts them."""
    return await outbox_backlog(db, now)


async def last_talked(db: AsyncSession, keys: frozenset[UserKey]) -> dict[UserKey, datetime]:
    """When each of `keys` last wrote to the bot (absent: never)."""
    if not keys:
        return {}
    rows = await db.execute(
        select(ConversationState.channel, ConversationState.user_id, ConversationState.updated_at).where(
            ConversationState.user_id.in_([key.user_id for key in keys])
        )
    )
    found = {UserKey(channel, user_id): at for channel, user_id, at in rows}
    return {key: at for key, at in found.items() if key in keys}


async def oa_token(db: AsyncSession, app_id: str) -> OATokenState | None:
    row = await db.get(ZaloOAToken, app_id)
    if row is None:
        return None
    return OATokenState(row.access_token, row.expires_at, row.refreshed_at, row.seed_hash)


async def last_token_failure(db: AsyncSession) -> datetime | None:
    """When a refresh of the Zalo OA token pair was last refused (the admins' alert)."""
    at = await db.scalar(
        select(func.max(Notification.created_at)).where(Notification.kind == NoticeKind.ZALO_TOKEN_FAILED)
    )
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
