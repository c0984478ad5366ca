"""Sending Replies to Telegram chats."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram.mapping import CHANNEL
from bot.channels.telegram.menus import Menus
from bot.channels.telegram.render import MAX_TEXT, inline_keyboard, markup_for, split_text
from bot.channels.text import merge_texts
from bot.clock import Clock
from bot.dialog.types import ANY_DOCUMENT, Capabilities, RateLimited, RecipientUnreachable, Reply
from bot.identity import UserKey
from storage import citizens

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # what the Bot API lets a bot send


class TelegramChannel:
    name = CHANNEL
    capabilities = Capabilities(
        buttons=True,
        phone_request=True,
        document_types=ANY_DOCUMENT,
        max_document_bytes=MAX_DOCUMENT_BYTES,
        file_uploads=True,
        max_text_length=4096,
    )

    def __init__(
        self,
        bot: Bot,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        menus: Menus | None = None,
    ) -> None:
        self.bot = bot
        self.sessions = sessions
        self.clock = clock
        self.menus = menus

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        """Send in order. A 403 marks the citizen unreachable and raises RecipientUnreachable."""
        try:
            for reply in merge_texts(replies, MAX_TEXT):
                await self._send_one(int(user_id), reply)
            if self.menus is not None and any(reply.staff_menu for reply in replies):
                await self.menus.refresh(user_id)
        except TelegramForbiddenError as error:
            log.info("telegram user %s cannot be reached: %s", user_id, error.message)
            await self.set_reachable(user_id, False)
            raise RecipientUnreachable(user_id) from error
        except TelegramRetryAfter as error:  # still 429 after the client's own retries
            raise RateLimited(error.retry_after) from error

    async def _send_one(self, chat_id: int, reply: Reply) -> None:
        chunks = split_text(reply.text, MAX_TEXT) if reply.text or not (reply.document or reply.files) else []
        markup = markup_for(reply)
        needs_edit = reply.close_keyboard and isinstance(markup, InlineKeyboardMarkup)
        for number, chunk in enumerate(chunks, start=1):
            last = number == len(chunks)
            if last and needs_edit:
                # One message cannot both remove the reply keyboard and carry inline
                # buttons: remove it with the message, then add the buttons to it.
                sent = await self.bot.send_message(chat_id, chunk, reply_markup=ReplyKeyboardRemove())
                await self.bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=sent.message_id, reply_markup=inline_keyboard(reply.options)
                )
            else:
                await self.bot.send_message(chat_id, chunk, reply_markup=markup if last else None)
        if reply.document is not None:
            file = BufferedInputFile(reply.document.content, filename=reply.document.filename)
            await self.bot.send_document(chat_id, file)
        for attachment in reply.files:  # already on Telegram's servers: sent again by file id
            if attachment.kind == "photo":
                await self.bot.send_photo(chat_id, attachment.file_id)
            else:
                await self.bot.send_document(chat_id, attachment.file_id)

    async def remove_keyboard(self, chat_id: int, message_id: int) -> None:
        """Edit a pressed keyboard away so it cannot be pressed twice."""
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )
        except (TelegramBadRequest, TelegramForbiddenError) as error:  # too old to edit, or blocked
            log.info("keyboard of message %s in chat %s not removed: %s", message_id, chat_id, error.message)

    async def set_reachable(self, user_id: str, reachable: bool) -> None:
        async with self.sessions() as db, db.begin():
            await citizens.set_reachable(db, UserKey(CHANNEL, user_id), reachable, now=self.clock.now())
