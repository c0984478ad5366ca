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

import contextlib
import hashlib
import hmac
import json
import logging
import re
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.channels.inbound import Inbound, acknowledged
from bot.channels.zalo.oa_channel import ZaloOAChannel
from bot.channels.zalo.oa_client import OAClient
from bot.channels.zalo.oa_events import CHANNEL, classify, event_id_of, happened_at, to_incoming, user_of
from bot.channels.zalo.oa_tokens import OATokens
from bot.channels.zalo.zns import ZnsTemplates
from bot.dialog.types import RecipientUnreachable
from storage import citizens, inbound, zalo_oa
from storage.identity import UserKey
from storage.zalo_oa import TokenSeed

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/zalo/oa/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
MAX_BODY_BYTES = 64 * 1024  # Zalo's events are a few hundred bytes
TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*"?(\d{1,20})"?')
MAX_TIMESTAMPS = 4  # a real event has one; a few tries bound the work on a forged body


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
        self.client.throttled = lambda: app.metrics.throttled(CHANNEL)
        self.tokens.refused = app.metrics.zalo_token_refusals.inc
        self.channel = ZaloOAChannel(self.client, app.sessions, app.clock)
        self.zns = ZnsTemplates(self.client, settings.zns_templates)  # the outbox's fallback
        # An event the engine fails on is answered with an apology and marked handled all
        # the same (by the pipeline), so it is not replayed at every start.
        self.inbound = Inbound(
            app,
            CHANNEL,
            event_id_of=lambda payload: event_id_of(payload),
            user_of=user_of,
            handle=self._converse,
            send=self.channel.send,
        )

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
        await self.inbound.wait_idle()

    # --- receiving -------------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.Response:
        raw = await self._read(request)
        if raw is None:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        # Verified on the raw bytes before any parsing: an unsigned body is never parsed.
        if not self._signed(request, raw):
            log.warning("zalo oa webhook: an event with a wrong or no signature")
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
            payload = None
        if not isinstance(payload, dict):
            return web.json_response({"ok": False, "error": "bad event"}, status=400)
        event = classify(payload)
        if event is None:  # our own echoes (oa_send_*), receipts, tags …
            log.info("zalo oa event %r acknowledged, not handled", payload.get("event_name"))
            return web.json_response({"ok": True})

        async def touch(db: AsyncSession) -> None:
            if event.interaction:
                now = self.app.clock.now()
                await zalo_oa.touch(db, event.user_id, at=happened_at(payload, now), now=now)

        # Stored before the 200: a crash after answering loses nothing (see resume_unhandled).
        return await acknowledged(CHANNEL, self.inbound.accept([payload], also=touch))

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

    def _signed(self, request: web.Request, raw: bytes) -> bool:
        settings = self.app.settings
        given = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not (settings.zalo_oa_secret_key and settings.zalo_oa_app_id and given):
            return False
        # The signed timestamp is the event's own `timestamp`, read from the raw bytes (each
        # candidate tried: a forger cannot make any of them match without the key). Our
        # configured app id, not the event's: a sender cannot pick what is signed.
        for timestamp in dict.fromkeys(TIMESTAMP.findall(raw[:MAX_BODY_BYTES])[:MAX_TIMESTAMPS]):
            expected = signature(
                settings.zalo_oa_app_id, raw, timestamp.decode(), settings.zalo_oa_secret_key
            )
            if hmac.compare_digest(given.encode(), expected.encode()):
                return True
        return False

    # --- handling --------------------------------------------------------------------

    async def _converse(self, payload: dict[str, Any]) -> None:
        event = classify(payload)
        if event is None:  # stored before this version knew better: nothing to do
            return
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
        """Send again what may not have gone out and handle events stored but not handled
        (the process died); returns how many events."""
        return await self.inbound.resume()
