"""The OA access token: lasts 25 hours, refreshed before it expires and when Zalo refuses it.

The refresh token works once, so a refresh is single-flight: one task per process (an
asyncio lock) and one process at a time (the token row is locked in the database while
the refresh runs). The new pair is committed before the new access token is used; a
refused refresh alerts the admins, since only an OA admin can grant access again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.zalo.oa_client import AuthError, TokenPair, refresh_tokens
from bot.clock import Clock
from storage import zalo_oa
from storage.identity import UserKey
from storage.zalo_oa import TokenSeed

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(minutes=30)


@dataclass(frozen=True)
class _Known:
    access_token: str = field(repr=False)
    expires_at: datetime


class OATokens:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        app_id: str,
        app_secret: str,
        oauth_base: str,
        seed: TokenSeed,
        admin_keys: frozenset[UserKey],
        timeout: float = 15.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.app_id = app_id
        self.app_secret = app_secret
        self.oauth_base = oauth_base
        self.seed = seed
        self.admin_keys = admin_keys
        self.timeout = timeout
        self._lock = asyncio.Lock()
        self._known: _Known | None = None
        self._http: aiohttp.ClientSession | None = None
        self.refused: Callable[[], object] = lambda: None  # told of every refused refresh (/metrics)

    async def access_token(self) -> str:
        known = self._known
        if known is not None and self._fresh(known.expires_at):
            return known.access_token
        return await self._obtain(stale=None)

    async def rejected(self, token: str) -> str:
        return await self._obtain(stale=token)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    def _fresh(self, expires_at: datetime) -> bool:
        return self.clock.now() < expires_at - REFRESH_AHEAD

    async def _obtain(self, stale: str | None) -> str:
        async with self._lock:
            known = self._known
            if known is not None and known.access_token != stale and self._fresh(known.expires_at):
                return known.access_token  # another task refreshed while this one waited
            refused: AuthError | None = None
            async with self.sessions() as db, db.begin():
                now = self.clock.now()
                row = await zalo_oa.lock_tokens(db, self.app_id, self.seed, now=now)
                if row is None:
                    raise AuthError(0, "no token pair: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN")
                if row.access_token != stale and self._fresh(row.expires_at):
                    self._known = _Known(row.access_token, row.expires_at)  # another process refreshed
                    return row.access_token
                try:
                    pair = await self._refresh(row.refresh_token)
                except AuthError as error:  # committed with the transaction, unlike the token
                    refused = error
                    self.refused()
                    log.error("zalo oa token refresh refused (%s); the admins are alerted", error)
                    await zalo_oa.queue_token_alert(db, self.admin_keys, error.message, now=now)
                else:
                    expires_at = now + timedelta(seconds=pair.expires_in)
                    zalo_oa.store_pair(row, pair.access_token, pair.refresh_token, expires_at, now=now)
            if refused is not None:
                raise refused
            self._known = _Known(pair.access_token, expires_at)  # committed: now it may be used
            log.info("zalo oa access token refreshed, valid until %s", expires_at.isoformat())
            return pair.access_token

    async def _refresh(self, refresh_token: str) -> TokenPair:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return await refresh_tokens(self._http, self.oauth_base, self.app_id, self.app_secret, refresh_token)
