"""The Telegram bot: aiogram's dispatcher at the edge, the dialog engine behind it.

The update_id is the event id: the engine handles each once (a duplicate is
dropped in the same transaction). A webhook stores the update before answering
200, so nothing acknowledged is lost. Long polling or a webhook on an aiohttp
server (`/telegram/webhook`, `GET /healthz`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError
from aiogram.methods.base import Response
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    Message,
    TelegramObject,
    Update,
)
from aiogram.utils.backoff import BackoffConfig
from aiohttp import web
from pydantic import ValidationError

from bot.app import App
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.mapping import CHANNEL, callback_to_incoming, message_to_incoming
from bot.channels.telegram.menus import Menus
from bot.channels.telegram.retry import RetryMiddleware
from bot.dialog.engine import KeyedLocks
from bot.dialog.types import Incoming, RecipientUnreachable
from bot.identity import UserKey
from storage import citizens, inbound

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]

# aiogram parses every answer as `Response[<return type>]`; pydantic caches such
# parametrised models only weakly, so without a strong reference each API call
# rebuilds the model class (measured: a quarter of the bot's CPU time).
_RESPONSE_MODELS = tuple(
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        methods.SendMessage,
        methods.SendDocument,
        methods.EditMessageReplyMarkup,
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
) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")))
    session.middleware(
        RetryMiddleware(
            max_retries=max_retries, base_delay=retry_base_delay, wait_out_rate_limits=wait_out_rate_limits
        )
    )
    return Bot(token, session=session)


def user_of(update: Update) -> int | None:
    for event in (update.message, update.callback_query, update.my_chat_member):
        if event is not None and event.from_user is not None:
            return event.from_user.id
    return None


class TelegramBot:
    def __init__(self, app: App, bot: Bot | None = None, backoff: BackoffConfig | None = None) -> None:
        settings = app.settings
        self.app = app
        self.bot = bot or make_bot(
            settings.telegram_bot_token, settings.telegram_api_base, settings.telegram_max_retries
        )
        self.menus = Menus(self.bot, app)
        self.channel = TelegramChannel(self.bot, app.sessions, app.clock, self.menus, settings.default_locale)
        # The outbox sends through a bot of its own that reports 429s instead of waiting them out.
        outbox_bot = bot or make_bot(
            settings.telegram_bot_token,
            settings.telegram_api_base,
            settings.telegram_max_retries,
            wait_out_rate_limits=False,
        )
        self.outbox_channel = TelegramChannel(
            outbox_bot, app.sessions, app.clock, self.menus, settings.default_locale
        )
        self.backoff = backoff or BackoffConfig(min_delay=1.0, max_delay=30.0, factor=1.5, jitter=0.1)
        self._order = KeyedLocks()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.dp = Dispatcher()
        self.dp.update.outer_middleware(self._in_order)
        self.dp.message.register(self.on_message)
        self.dp.callback_query.register(self.on_callback)
        self.dp.my_chat_member.register(self.on_membership)
        self.dp.startup.register(self.on_startup)

    # --- update handling -------------------------------------------------------------

    async def _in_order(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        update: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Handle each user's updates in arrival order (the engine drops repeats)."""
        assert isinstance(update, Update)
        # Taking the user's lock before any await keeps their updates in arrival order.
        async with self._order.hold(UserKey(CHANNEL, str(user_of(update)))):
            return await handler(update, data)

    async def _converse(self, incoming: Incoming) -> None:
        replies = await self.app.dialog.handle(incoming, self.channel.capabilities)
        with contextlib.suppress(RecipientUnreachable):  # the channel marked them unreachable
            await self.channel.send(incoming.user_id, replies)

    async def _mark_handled(self, update: Update, stored: bool = True) -> None:
        """Updates the engine never sees are marked here, so none is resumed forever."""
        async with self.app.sessions() as db, db.begin():
            now = self.app.clock.now()
            if not stored:
                await inbound.store(db, CHANNEL, str(update.update_id), {}, now)
            await inbound.mark_handled(db, CHANNEL, str(update.update_id), now)

    async def on_message(self, message: Message, event_update: Update) -> None:
        incoming = message_to_incoming(message, event_update.update_id)
        if incoming is None:
            await self._mark_handled(event_update, stored=False)
        else:
            await self._converse(incoming)

    async def on_callback(self, query: CallbackQuery, event_update: Update) -> None:
        # Stop the button's spinner and edit the pressed keyboard away while the engine works.
        await asyncio.gather(
            self._acknowledge(query), self._converse(callback_to_incoming(query, event_update.update_id))
        )

    async def _acknowledge(self, query: CallbackQuery) -> None:
        """Cosmetic: a refusal (a query too old to answer, a message too old to edit, a user
        who blocked the bot meanwhile) is logged and must not stop the answer itself."""
        try:
            await query.answer()
        except TelegramAPIError as error:
            log.info("callback %s of %s not acknowledged: %s", query.id, query.from_user.id, error.message)
        if isinstance(query.message, Message):  # an InaccessibleMessage cannot be edited
            await self.channel.remove_keyboard(query.message.chat.id, query.message.message_id)

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
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.dp.start_polling(
            self.bot,
            polling_timeout=self.app.settings.telegram_polling_timeout,
            backoff_config=self.backoff,
            allowed_updates=ALLOWED_UPDATES,
            handle_signals=False,
            close_bot_session=False,
        )

    async def stop(self) -> None:
        if self.dp._stop_signal is not None and not self.dp._stop_signal.is_set():
            with contextlib.suppress(RuntimeError):  # polling was not running
                await self.dp.stop_polling()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
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
            update = Update.model_validate(payload, context={"bot": self.bot})
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
        async with self.app.sessions() as db, db.begin():
            await inbound.store(db, CHANNEL, str(update.update_id), payload, self.app.clock.now())
        self._spawn(self._handle_stored(update))
        return web.json_response({"ok": True})

    async def _handle_stored(self, update: Update) -> None:
        """Handle a stored update; a failure is logged (the dialog engine has answered the
        user, or the update stays unhandled for the next start) and never stops the others."""
        try:
            await self.dp.feed_update(self.bot, update)
            await self._mark_handled(update)
        except Exception:
            log.exception("telegram update %s failed", update.update_id)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def resume_unhandled(self) -> int:
        """Handle updates stored but never finished (the process died); returns how many."""
        async with self.app.sessions() as db:
            payloads = await inbound.unhandled(db, CHANNEL)
        for payload in payloads:
            await self._handle_stored(Update.model_validate(payload, context={"bot": self.bot}))
        return len(payloads)

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
            settings.telegram_webhook_url.rstrip("/") + WEBHOOK_PATH
            if not settings.telegram_webhook_url.endswith(WEBHOOK_PATH)
            else settings.telegram_webhook_url,
            secret_token=settings.telegram_webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
        await self.resume_unhandled()
