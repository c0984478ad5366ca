"""Messages to Telegram paced within the bot's limit, all workers together.

Telegram allows a bot about 30 messages a second. Every message this worker sends (a reply,
a notice of the outbox) waits for a slot of one limiter running at this worker's share of
TELEGRAM_RATE_PER_SECOND (bot/workers.py keeps it at rate / live workers). A 429 pauses it.
Callback answers and keyboard edits are not messages and are not paced.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import Response

from bot.ratelimit import RateLimiter

MESSAGES = (SendMessage, SendDocument, SendPhoto)
ANY_CHAT = ""  # the limit is the bot's, whatever the chat


class PacingMiddleware(BaseRequestMiddleware):
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if not isinstance(method, MESSAGES):
            return await make_request(bot, method)
        await self.limiter.wait(ANY_CHAT)
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter as error:
            self.limiter.pause(float(error.retry_after))
            raise
