"""Zalo OA state kept in the database: the app's token pair, each citizen's last
interaction (consultation messages are allowed only within 7 days of it), and the admin
alert when the token pair stops working."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import citizens, staff_notices
from storage.db import insert_if_absent
from storage.identity import UserKey
from storage.models import Citizen, ZaloOAToken
from storage.outbox import NoticeKind, TokenFailed, queue

CHANNEL = "zalo"
# We cannot know when the settings' access token was issued: trust it for two hours, then
# refresh (an older one is refused with -216 and refreshed at once anyway).
SEEDED_TOKEN_TRUST = timedelta(hours=2)


@dataclass(frozen=True)
class TokenSeed:
    """The pair from the settings: used the first time, and again whenever it changes."""

    access_token: str
    refresh_token: str

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.refresh_token.encode()).hexdigest()


async def lock_tokens(db: AsyncSession, app_id: str, seed: TokenSeed, *, now: datetime) -> ZaloOAToken | None:
    """The app's token row, locked until the caller's transaction ends, so one process at a
    time refreshes (PostgreSQL: FOR UPDATE; SQLite: the transaction holds the write lock).
    Seeded from the settings the first time and when the settings hold a new pair.
    None: no pair anywhere."""
    if seed.refresh_token:
        values = {
            "app_id": app_id,
            "access_token": seed.access_token,
            "refresh_token": seed.refresh_token,
            "expires_at": now + SEEDED_TOKEN_TRUST,
            "seed_hash": seed.hash,
        }
        await insert_if_absent(db, ZaloOAToken, values)
    row = await db.scalar(select(ZaloOAToken).where(ZaloOAToken.app_id == app_id).with_for_update())
    if row is not None and seed.refresh_token and row.seed_hash != seed.hash:
        row.access_token, row.refresh_token, row.seed_hash = seed.access_token, seed.refresh_token, seed.hash
        row.expires_at = now + SEEDED_TOKEN_TRUST
    return row


def store_pair(
    row: ZaloOAToken, access_token: str, refresh_token: str, expires_at: datetime, *, now: datetime
) -> None:
    row.access_token, row.refresh_token = access_token, refresh_token
    row.expires_at, row.refreshed_at = expires_at, now


async def touch(db: AsyncSession, user_id: str, *, at: datetime, now: datetime) -> None:
    """The citizen interacted with the OA `at`; an older event (a late repeat) changes nothing."""
    citizen = await citizens.get_or_create(db, UserKey(CHANNEL, user_id), now=now)
    if citizen.last_seen_at is None or at > citizen.last_seen_at:
        citizen.last_seen_at = at


async def last_seen(db: AsyncSession, user_id: str) -> datetime | None:
    return await db.scalar(
        select(Citizen.last_seen_at).where(Citizen.channel == CHANNEL, Citizen.channel_user_id == user_id)
    )


async def queue_token_alert(
    db: AsyncSession, admin_keys: frozenset[UserKey], reason: str, *, now: datetime
) -> int:
    """Tell every admin (once a day each) that the token pair cannot be refreshed: an OA
    admin must grant the app access again. Returns how many admins there are."""
    recipients = await staff_notices.admins(db, admin_keys)
    for key in recipients:
        citizen = await citizens.get_or_create(db, key, now=now)
        params = TokenFailed(reason=reason[:200], failed_at=now)
        await queue(db, NoticeKind.ZALO_TOKEN_FAILED, citizen_id=citizen.id, params=params, now=now)
    return len(recipients)
