"""The Zalo OA webhook (`POST /zalo/oa/webhook`) and the channel that answers.

Like the Telegram webhook: an event is verified, stored, answered 200 and handled in
the background, so a crash after the 200 loses nothing (`resume_unhandled`), and a
delivery Zalo repeats is handled once (the engine marks each event id handled in the
same transaction as the conversation change). Events of one user are handled in order.

Assumed (Zalo's documentation is terse here): the signature's last term is the OA secret
key of the webhook settings (one third-party guide says the app secret: if events are
refused in production, that is the first thing to check), and its first the app id.
There is no freshness check on `timestamp`: Zalo retries a refused delivery for up to
about two hours with the same body, and a replay is only a duplicate, dropped by its id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from bot.app import App
from bot.channels.zalo.oa_channel import ZaloOAChannel
from bot.channels.zalo.oa_client import OAClient
from bot.channels.zalo.oa_events import CHANNEL, Event, classify, happened_at, to_incoming
from bot.channels.zalo.oa_tokens import OATokens
from bot.channels.zalo.zns import ZnsTemplates
from bot.dialog.engine import KeyedLocks
from bot.dialog.types import RecipientUnreachable
from bot.identity import UserKey
from storage import citizens, inbound, zalo_oa
from storage.zalo_oa import TokenSeed

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/zalo/oa/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_BODY_BYTES = 64 * 1024  # Zalo's events are a few hundred bytes


def signature(app_id: str, raw_body: bytes, timestamp: str, secret_key: str) -> str:
    """`mac=` + sha256(app id + raw body + timestamp + OA secret key): a plain digest, not an HMAC."""
    digest = hashlib.sha256(app_id.encode() + raw_body + timestamp.encode() + secret_key.encode())
    return "mac=" + digest.hexdigest()


class ZaloOA:
    """Everything Zalo OA: the webhook, the channel (for replies and the outbox), the client."""

    def __init__(self, app: App, *, retry_base_delay: float = 0.5) -> None:
        settings = app.settings
        self.app = app
        self.tokens = OATokens(
            app.sessions,
            app.clock,
            app_id=settings.zalo_oa_app_id,
            app_secret=settings.zalo_app_secret,
            oauth_base=settings.zalo_oauth_base,
            seed=TokenSeed(settings.zalo_oa_access_token, settings.zalo_oa_refresh_token),
            admin_keys=settings.admin_keys,
        )
        self.client = OAClient(
            self.tokens,
            settings.zalo_oa_api_base,
            settings.zalo_zns_api_base,
            retry_base_delay=retry_base_delay,
        )
        self.channel = ZaloOAChannel(self.client, app.sessions, app.clock)
        self.zns = ZnsTemplates(self.client, settings.zns_templates)  # the outbox's fallback
        self._order = KeyedLocks()
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle -------------------------------------------------------------------

    def add_routes(self, application: web.Application) -> None:
        application.router.add_post(WEBHOOK_PATH, self.receive)

    async def start(self) -> int:
        """Handle events stored but never finished by a process that died; returns how many."""
        return await self.resume_unhandled()

    async def stop(self) -> None:
        await self.wait_idle()
        await self.client.close()
        await self.tokens.close()

    async def wait_idle(self) -> None:
        """Until every event received so far is handled and answered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- receiving -------------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.Response:
        raw = await self._read(request)
        if raw is None:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return web.json_response({"ok": False, "error": "bad event"}, status=400)
        if not self._signed(request, raw, payload):
            log.warning("zalo oa webhook: event %r with a wrong signature", payload.get("event_name"))
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        event = classify(payload)
        if event is None:  # our own echoes (oa_send_*), receipts, tags …
            log.info("zalo oa event %r acknowledged, not handled", payload.get("event_name"))
            return web.json_response({"ok": True})
        # Stored before the 200: a crash after answering loses nothing (see resume_unhandled).
        async with self.app.sessions() as db, db.begin():
            now = self.app.clock.now()
            await inbound.store(db, CHANNEL, event.event_id, payload, now)
            if event.interaction:
                await zalo_oa.touch(db, event.user_id, at=happened_at(payload, now), now=now)
        self._spawn(self._handle(event, payload))
        return web.json_response({"ok": True})

    @staticmethod
    async def _read(request: web.Request) -> bytes | None:
        """The raw body (the signature covers its exact bytes), or None past the size cap."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return None
        body = bytearray()
        while chunk := await request.content.readany():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return None
        return bytes(body)

    def _signed(self, request: web.Request, raw: bytes, payload: dict[str, Any]) -> bool:
        settings = self.app.settings
        given = request.headers.get(SIGNATURE_HEADER, "").strip()
        timestamp = str(payload.get("timestamp", ""))
        if not (settings.zalo_oa_secret_key and settings.zalo_oa_app_id and timestamp and given):
            return False
        # Our configured app id, not the event's: a sender cannot pick what is signed.
        expected = signature(settings.zalo_oa_app_id, raw, timestamp, settings.zalo_oa_secret_key)
        return hmac.compare_digest(given.encode(), expected.encode())

    # --- handling --------------------------------------------------------------------

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, event: Event, payload: dict[str, Any]) -> None:
        # Taking the user's lock before any await keeps their events in arrival order.
        async with self._order.hold(UserKey(CHANNEL, event.user_id)):
            try:
                await self._converse(event, payload)
            except Exception:
                log.exception("zalo oa event %s of %s failed", event.event_id, event.user_id)

    async def _converse(self, event: Event, payload: dict[str, Any]) -> None:
        if event.name == "unfollow":  # marked with the event handled: a late repeat changes nothing
            async with self.app.sessions() as db, db.begin():
                now = self.app.clock.now()
                if await inbound.first_handling(db, CHANNEL, event.event_id, now):
                    await citizens.set_reachable(db, UserKey(CHANNEL, event.user_id), False, now=now)
            return
        # A follow (like any message) makes them reachable again in the engine, handled once.
        replies = await self.app.dialog.handle(to_incoming(event, payload), self.channel.capabilities)
        with contextlib.suppress(RecipientUnreachable):  # the channel marked them, or the window closed
            await self.channel.send(event.user_id, replies)

    async def resume_unhandled(self) -> int:
        """Handle events stored but not handled (the process died); returns how many."""
        async with self.app.sessions() as db:
            payloads = await inbound.unhandled(db, CHANNEL)
        for payload in payloads:
            event = classify(payload)
            if event is not None:
                await self._handle(event, payload)
        return len(payloads)
