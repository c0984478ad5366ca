"""The Telegram bot: aiogram's dispatcher at the edge, the dialog engine behind it.

The update_id is the event id: the engine handles each once (a duplicate is
dropped in the same transaction). Both modes go through the shared inbound pipeline
(bot/channels/inbound.py): a webhook stores the update before answering 200, and long
polling stores each batch before the next getUpdates confirms it (aiogram's own loop moves
the offset before the handler commits, so it is not used). Long polling or a webhook on
an aiohttp server (`/telegram/webhook`, `GET /healthz`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re

from aiogram import Bot, Dispatcher, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.methods.base import Response
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    Message,
    Update,
)
from aiogram.utils.backoff import Backoff, BackoffConfig
from aiohttp import web
from pydantic import ValidationError

from bot.app import App
from bot.channels.inbound import Inbound, Payload, acknowledged, unless_stopped
from bot.channels.telegram.channel import LatestMessages, TelegramChannel
from bot.channels.telegram.mapping import (
    CHANNEL,
    Pressed,
    callback_to_incoming,
    message_to_incoming,
    pressed_message,
)
from bot.channels.telegram.menus import Menus
from bot.channels.telegram.pacing import PacingMiddleware
from bot.channels.telegram.retry import RateLimitCounter, RetryMiddleware
from bot.dialog.types import Incoming, RecipientUnreachable
from bot.ratelimit import RateLimiter
from storage import citizens, inbound
from storage.identity import UserKey

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
# A Bot API field name; anything else is not repeated in a log line.
_KIND_NAME = re.compile(r"[a-z][a-z_]{0,63}")

# aiogram parses every answer as `Response[<return type>]`; pydantic caches such
# parametrised models only weakly, so without a strong reference each API call
# rebuilds the model class (measured: a quarter of the bot's CPU time).
_RESPONSE_MODELS = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        methods.SendMessage,
        methods.SendDocument,
        methods.EditMessageReplyMarkup,
        methods.EditMessageText,
        methods.AnswerCallbackQuery,
        methods.GetUpdates,
        methods.GetMe,
        methods.SetMyCommands,
        methods.SetWebhook,
        methods.DeleteWebhook,
    )
)


def make_bot(
    token: str,
    api_base: str,
    max_retries: int,
    retry_base_delay: float = 0.5,
    wait_out_rate_limits: bool = True,
    pacer: RateLimiter | None = None,
) -> Bot:
    """A bot whose requests are retried (outermost) and, with `pacer`, whose messages wait
    for their slot (each attempt)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")))
    session.middleware(
        RetryMiddleware(
            max_retries=max_retries, base_delay=retry_base_delay, wait_out_rate_limits=wait_out_rate_limits
        )
    )
    if pacer is not None:
        session.middleware(PacingMiddleware(pacer))
    return Bot(token, session=session)


def webhook_target(webhook_url: str) -> str:
    """Where Telegram is told to post: TELEGRAM_WEBHOOK_URL, ending in the webhook's path."""
    if webhook_url.endswith(WEBHOOK_PATH):
        return webhook_url
    return webhook_url.rstrip("/") + WEBHOOK_PATH


def user_of(payload: Payload) -> str:
    """The sender of a raw update (its events of one user are handled in order)."""
    for kind in ALLOWED_UPDATES:
        event = payload.get(kind)
        sender = event.get("from") if isinstance(event, dict) else None
        if isinstance(sender, dict):
            return str(sender.get("id", ""))
    return ""


def kind_of(payload: Payload) -> str:
    """The update's kind: the field beside update_id that carries its event (by name only)."""
    fields = [key for key in payload if key != "update_id" and payload[key] is not None]
    for kind in ALLOWED_UPDATES:
        if kind in fields:
            return kind
    named = [key for key in fields if _KIND_NAME.fullmatch(key)]
    return named[0] if named else "unknown"


def update_id_of(payload: Payload) -> str:
    return str(payload.get("update_id", ""))


class TelegramBot:
    def __init__(self, app: App, bot: Bot | None = None, backoff: BackoffConfig | None = None) -> None:
        settings = app.settings
        self.app = app
        # Replies and notices share this worker's share of the bot's rate (a bot given is paced by the giver).
        pacer = app.presence.pacer(settings.telegram_rate_per_second) if bot is None else None
        self.bot = bot or make_bot(
            settings.telegram_bot_token,
            settings.telegram_api_base,
            settings.telegram_max_retries,
            pacer=pacer,
        )
        self.menus = Menus(self.bot, app)
        latest = LatestMessages()  # one for replies and notices: both count as sent after a question
        self.channel = TelegramChannel(
            self.bot, app.sessions, app.clock, self.menus, settings.default_locale, latest
        )
        # The outbox sends through a bot of its own that reports 429s instead of waiting them out.
        outbox_bot = bot or make_bot(
            settings.telegram_bot_token,
            settings.telegram_api_base,
            settings.telegram_max_retries,
            wait_out_rate_limits=False,
            pacer=pacer,
        )
        self.outbox_channel = TelegramChannel(
            outbox_bot, app.sessions, app.clock, self.menus, settings.default_locale, latest
        )
        for counted in {id(b): b for b in (self.bot, outbox_bot)}.values():  # 429s at /metrics
            counted.session.middleware(RateLimitCounter(lambda: app.metrics.throttled(CHANNEL)))
        self.backoff = backoff or BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.5, jitter=0.1)
        self.inbound = Inbound(
            app,
            CHANNEL,
            event_id_of=update_id_of,
            user_of=user_of,
            handle=self._handle_stored,
            send=self.channel.send,
            kind_of=kind_of,
            kinds=frozenset(ALLOWED_UPDATES),
        )
        self._stopping = asyncio.Event()
        self._poll_ended: asyncio.Event | None = None  # set once run_polling has returned
        self.dp = Dispatcher()
        self.dp.message.register(self.on_message)
        self.dp.callback_query.register(self.on_callback)
        self.dp.my_chat_member.register(self.on_membership)
        self.dp.startup.register(self.on_startup)

    # --- update handling -------------------------------------------------------------

    async def _converse(self, incoming: Incoming, pressed: Pressed | None = None) -> None:
        replies = await self.app.dialog.handle(incoming, self.channel.capabilities)
        with contextlib.suppress(RecipientUnreachable):  # the channel marked them unreachable
            await self.channel.send(incoming.user_id, replies, pressed)

    async def on_message(self, message: Message, event_update: Update) -> None:
        incoming = message_to_incoming(message, event_update.update_id)
        if incoming is not None:  # else not for the engine: the pipeline marks it handled
            await self._converse(incoming)

    async def on_callback(self, query: CallbackQuery, event_update: Update) -> None:
        """Two Bot API calls: the spinner stopped while the engine works, and the pressed
        message edited into the answer (sent instead where Telegram cannot edit it)."""
        incoming = callback_to_incoming(query, event_update.update_id)
        await asyncio.gather(self._acknowledge(query), self._converse(incoming, pressed_message(query)))

    async def _acknowledge(self, query: CallbackQuery) -> None:
        """Cosmetic: a refusal (a query too old to answer, a user who blocked the bot
        meanwhile) is logged and must not stop the answer itself."""
        try:
            await query.answer()
        except TelegramAPIError as error:
            log.info("callback %s of %s not acknowledged: %s", query.id, query.from_user.id, error.message)

    async def on_membership(self, event: ChatMemberUpdated, event_update: Update) -> None:
        """Blocked (kicked, left) or unblocked (member), marked with the update handled in one
        transaction: a repeat of an old update does not undo what came after it."""
        status = event.new_chat_member.status
        reachable = {"kicked": False, "left": False, "member": True}.get(status)
        async with self.app.sessions() as db, db.begin():
            now = self.app.clock.now()
            first = await inbound.first_handling(db, CHANNEL, str(event_update.update_id), now)
            if first and event.chat.type == "private" and reachable is not None:
                key = UserKey(CHANNEL, str(event.from_user.id))
                await citizens.set_reachable(db, key, reachable, now=now)

    async def on_startup(self) -> None:
        await self.menus.set_all()

    # --- serving ---------------------------------------------------------------------

    async def run_polling(self) -> None:
        """Poll until `stop()`: each batch is stored before the next getUpdates confirms it."""
        self._stopping.clear()
        self._poll_ended = asyncio.Event()
        try:
            await self.bot.delete_webhook(drop_pending_updates=False)
            await self.dp.emit_startup(bot=self.bot)
            await self.inbound.resume()
            await self._poll()
        finally:
            self._poll_ended.set()

    async def _poll(self) -> None:
        timeout = self.app.settings.telegram_polling_timeout
        get_updates = methods.GetUpdates(timeout=timeout, allowed_updates=ALLOWED_UPDATES)
        # The HTTP request must outlive the long poll it waits on.
        request_timeout = int(self.bot.session.timeout + timeout)
        backoff = Backoff(config=self.backoff)
        while not self._stopping.is_set():
            try:
                updates = await unless_stopped(
                    self._stopping, self.bot(get_updates, request_timeout=request_timeout)
                )
                if not updates:
                    continue
                # Stored before the offset moves past them: the next getUpdates confirms them.
                await self.inbound.accept(
                    [update.model_dump(mode="json", exclude_unset=True, by_alias=True) for update in updates]
                )
            except Exception as error:  # the Bot API or the database is unreachable: retry
                log.warning(
                    "telegram poll failed (%s); again in %.1fs", type(error).__name__, backoff.next_delay
                )
                await unless_stopped(self._stopping, backoff.asleep())
                continue
            backoff.reset()
            get_updates.offset = updates[-1].update_id + 1

    async def stop(self) -> None:
        """End polling, let updates in hand finish, close the HTTP sessions."""
        self._stopping.set()
        if self._poll_ended is not None:  # the session must outlive the poll in flight
            await self._poll_ended.wait()
        await self.inbound.wait_idle()
        await self.bot.session.close()
        if self.outbox_channel.bot is not self.bot:
            await self.outbox_channel.bot.session.close()

    def webhook_app(self) -> web.Application:
        application = web.Application()
        self.add_routes(application)
        application.router.add_get("/healthz", self.healthz)
        return application

    def add_routes(self, application: web.Application) -> None:
        application.router.add_post(WEBHOOK_PATH, self.receive_webhook)

    async def receive_webhook(self, request: web.Request) -> web.Response:
        expected = self.app.settings.telegram_webhook_secret
        given = request.headers.get(SECRET_HEADER, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        try:
            payload = await request.json()
            Update.model_validate(payload, context={"bot": self.bot})  # refused here if not one
        except ValueError as error:
            # A validation error quotes the values it refused (a citizen's text): only where.
            where = (
                [".".join(map(str, e["loc"])) for e in error.errors(include_input=False)]
                if isinstance(error, ValidationError)
                else str(error)
            )
            log.warning("webhook body is not a Telegram update: %s", where)
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        # Stored before the 200: a crash after answering loses nothing (see resume_unhandled).
        return await acknowledged(CHANNEL, self.inbound.accept([payload]))

    async def _handle_stored(self, payload: Payload) -> None:
        await self.dp.feed_update(self.bot, Update.model_validate(payload, context={"bot": self.bot}))

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def resume_unhandled(self) -> int:
        """Send again what may not have gone out and handle updates stored but never finished
        (the process died); returns how many updates."""
        return await self.inbound.resume()

    async def start_webhook(self) -> web.AppRunner:
        """Serve the webhook on its own server (WEB_HOST:WEB_PORT) and register it."""
        settings = self.app.settings
        runner = web.AppRunner(self.webhook_app())
        await runner.setup()
        await web.TCPSite(runner, settings.web_host, settings.web_port).start()
        await self.register_webhook()
        return runner

    async def register_webhook(self) -> None:
        """Tell Telegram where to post (the routes must be served), then finish what a crash left."""
        settings = self.app.settings
        await self.dp.emit_startup(bot=self.bot)
        await self.bot.set_webhook(
            webhook_target(settings.telegram_webhook_url),
            secret_token=settings.telegram_webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
        await self.resume_unhandled()
