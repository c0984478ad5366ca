"""Serving the Zalo Bot API: long polling, or a webhook at `/zalo/bot/webhook`.

Every update is stored (storage/inbound) before it is handled, by polling and webhook
alike: a webhook answers 200 only once the update is safe, and an update fetched by a
poll is not lost if the process dies before handling it (`resume_unhandled`). The
message id is the event id, so a replayed update is handled once. Each user's updates
are handled in arrival order; different users' in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.app import App
from bot.channels.inbound import Inbound, acknowledged, unless_stopped
from bot.channels.zalo.bot_api import ZaloBotApi, ZaloBotError, ZaloBotUnauthorized
from bot.channels.zalo.bot_channel import (
    CHANNEL,
    ZaloBotChannel,
    event_id_of,
    sender_of,
    unwrap,
    update_to_incoming,
)
from bot.dialog.types import RecipientUnreachable

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/zalo/bot/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 256 * 1024  # a text update is a few hundred bytes


@dataclass(frozen=True)
class Backoff:
    """Waits between failed polls: first, growth factor, cap (seconds)."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.first * self.factor ** max(0, failures - 1))


class ZaloBotRunner:
    def __init__(
        self,
        app: App,
        api: ZaloBotApi | None = None,
        backoff: Backoff | None = None,
        on_finished: Callable[[str], None] | None = None,
    ) -> None:
        settings = app.settings
        self.app = app
        self.api = api or ZaloBotApi(settings.zalo_bot_token, settings.zalo_bot_api_base)
        self.api.throttled = lambda: app.metrics.throttled(CHANNEL)
        self.channel = ZaloBotChannel(self.api, app.sessions, app.clock)
        self.backoff = backoff or Backoff()
        self.inbound = Inbound(
            app,
            CHANNEL,
            event_id_of=event_id_of,
            user_of=lambda update: sender_of(update) or "",
            handle=self._converse,
            send=self.channel.send,
            on_finished=on_finished,  # told each event id once its replies are sent (tests)
        )
        self._stopping = asyncio.Event()
        self._poll_ended: asyncio.Event | None = None  # set once run_polling has returned

    # --- handling ----------------------------------------------------------------------

    async def accept(self, update: dict[str, Any]) -> None:
        """Store the update, then handle it in the background (in order for its user)."""
        await self.inbound.accept([update])

    async def _converse(self, update: dict[str, Any]) -> None:
        incoming = update_to_incoming(update)
        if incoming is None:  # a group chat or an event without a sender: marked handled only
            log.info("zalo bot event %s (%s) ignored", event_id_of(update), update.get("event_name"))
            return
        # An event the engine fails on is answered with an apology and marked handled all
        # the same (by the pipeline), so it is not replayed at every start.
        replies = await self.app.dialog.handle(incoming, self.channel.capabilities)
        with contextlib.suppress(RecipientUnreachable):  # the channel marked them unreachable
            await self.channel.send(incoming.user_id, replies)

    async def resume_unhandled(self) -> int:
        """Send again what may not have gone out and handle updates stored but never finished
        (the process died); returns how many updates."""
        return await self.inbound.resume()

    # --- polling -----------------------------------------------------------------------

    async def run_polling(self) -> None:
        """Poll until `stop()`. A wrong token ends it with ZaloBotUnauthorized."""
        self._stopping.clear()
        self._poll_ended = asyncio.Event()
        try:
            await self._poll()
        finally:
            self._poll_ended.set()

    async def _poll(self) -> None:
        timeout = self.app.settings.zalo_bot_polling_timeout
        await self.api.delete_webhook()  # getUpdates does not work while a webhook is set
        await self.resume_unhandled()
        failures = 0
        while not self._stopping.is_set():
            try:
                updates = await unless_stopped(self._stopping, self.api.get_updates(timeout))
            except ZaloBotUnauthorized:
                raise
            except ZaloBotError as error:
                failures += 1
                delay = self.backoff.delay(failures)
                log.warning("zalo bot poll failed (%s); again in %.1fs", error, delay)
                await unless_stopped(self._stopping, asyncio.sleep(delay))
                continue
            failures = 0
            bodies = []
            for update in updates or []:
                body = unwrap(update)
                if body is None:
                    log.warning("zalo bot poll returned something that is not an update; skipped")
                else:
                    bodies.append(body)
            try:
                await self.inbound.accept(bodies)
            except Exception:  # the database is down: log it, keep polling
                log.exception("zalo bot updates could not be stored")

    async def stop(self) -> None:
        """End polling, let updates in hand finish, close the HTTP session."""
        self._stopping.set()
        if self._poll_ended is not None:  # the session must outlive the poll in flight
            await self._poll_ended.wait()
        await self.inbound.wait_idle()
        await self.api.close()

    # --- webhook -----------------------------------------------------------------------

    def add_routes(self, application: web.Application) -> None:
        application.router.add_post(WEBHOOK_PATH, self.receive_webhook)

    async def start_webhook(self) -> None:
        """Tell Zalo where to post (ZALO_BOT_WEBHOOK_URL), then finish what a crash left."""
        settings = self.app.settings
        url = settings.zalo_bot_webhook_url.rstrip("/")
        if not url.endswith(WEBHOOK_PATH):
            url += WEBHOOK_PATH
        await self.api.set_webhook(url, settings.zalo_bot_webhook_secret)
        await self.resume_unhandled()

    async def receive_webhook(self, request: web.Request) -> web.Response:
        expected = self.app.settings.zalo_bot_webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return web.json_response({"ok": False, "error": "too large"}, status=413)
        try:
            update = unwrap(await request.json())
        except ValueError:
            update = None
        if update is None:
            log.warning("zalo bot webhook body is not an update")
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        # Stored before the 200: a crash after it loses nothing.
        return await acknowledged(CHANNEL, self.accept(update))
