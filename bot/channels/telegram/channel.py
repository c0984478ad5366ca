"""Sending Replies to Telegram chats."""

from __future__ import annotations

import logging
from dataclasses import replace

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.telegram.mapping import CHANNEL, Pressed
from bot.channels.telegram.menus import Menus
from bot.channels.telegram.render import (
    MAX_TEXT,
    chosen_text,
    closes_with_buttons,
    editable_into,
    inline_keyboard,
    markup_for,
    split_text,
)
from bot.channels.text import merge_texts
from bot.clock import Clock
from bot.dialog.types import ANY_DOCUMENT, Capabilities, RateLimited, RecipientUnreachable, Reply
from bot.i18n import load_catalog, normalize_locale
from storage import citizens
from storage.identity import UserKey

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # what the Bot API lets a bot send
NOT_MODIFIED = "message is not modified"  # Telegram's words for an edit that changes nothing


class LatestMessages:
    """The last message this process sent in each chat (or edited into its question). A pressed
    message becomes the next question only when it is that one: one with anything after it
    (a notice, a broadcast) would have the answer appear above them. Unknown (after a restart,
    or another worker sent it): the answer is sent, as is always right."""

    KEPT = 100_000  # chats remembered; the oldest is forgotten first

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}

    def note(self, chat_id: int, message_id: int) -> None:
        self._ids.pop(chat_id, None)
        self._ids[chat_id] = message_id
        if len(self._ids) > self.KEPT:
            del self._ids[next(iter(self._ids))]

    def is_latest(self, chat_id: int, message_id: int) -> bool:
        return self._ids.get(chat_id) == message_id


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
        default_locale: str = "vi",
        latest: LatestMessages | None = None,
    ) -> None:
        self.bot = bot
        self.latest = latest or LatestMessages()  # shared by the reply and the outbox channels
        self.sessions = sessions
        self.clock = clock
        self.menus = menus
        self.default_locale = default_locale

    async def send(self, user_id: str, replies: list[Reply], pressed: Pressed | None = None) -> None:
        """Send in order; with `pressed` (they answer that button), the pressed message becomes
        the first of them where Telegram allows it (see _edit_pressed). A 403 marks the citizen
        unreachable and raises RecipientUnreachable."""
        try:
            messages = await self._keyboard_closed_apart(user_id, replies)
            if pressed is not None:
                messages = await self._answer_pressed(pressed, replies, messages)
            for reply in messages:
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
        for number, chunk in enumerate(chunks, start=1):
            sent = await self.bot.send_message(
                chat_id, chunk, reply_markup=markup if number == len(chunks) else None
            )
            self.latest.note(chat_id, sent.message_id)
        if reply.document is not None:
            file = BufferedInputFile(reply.document.content, filename=reply.document.filename)
            sent = await self.bot.send_document(chat_id, file)
            self.latest.note(chat_id, sent.message_id)
        for attachment in reply.files:  # already on Telegram's servers: sent again by file id
            if attachment.kind == "photo":
                sent = await self.bot.send_photo(chat_id, attachment.file_id)
            else:
                sent = await self.bot.send_document(chat_id, attachment.file_id)
            self.latest.note(chat_id, sent.message_id)

    async def _keyboard_closed_apart(self, user_id: str, replies: list[Reply]) -> list[Reply]:
        """The replies as messages, with the "share my phone" keyboard removed by a message
        without buttons. A Telegram message carries one keyboard, and one sent with
        ReplyKeyboardRemove can never be edited to add inline buttons. What was said before
        the question removes it (no extra message); a question said first is preceded by a
        short line saying the button is hidden, in the citizen's language (one read, only then),
        which is true whatever the step did (an acknowledgement would not be: /help records
        nothing)."""
        if not (replies and replies[0].close_keyboard and any(closes_with_buttons(r) for r in replies)):
            return merge_texts(replies, MAX_TEXT)
        question = next(index for index, reply in enumerate(replies) if closes_with_buttons(reply))
        if question:
            said = merge_texts(replies[:question], MAX_TEXT)
            said[0] = replace(said[0], close_keyboard=True)
        else:
            said = [Reply(await self._keyboard_closed(user_id), close_keyboard=True)]
        rest = [replace(reply, close_keyboard=False) for reply in replies[question:]]
        return said + merge_texts(rest, MAX_TEXT)

    async def _keyboard_closed(self, user_id: str) -> str:
        async with self.sessions() as db:
            locale = await citizens.locale_of(db, UserKey(CHANNEL, user_id))
        return load_catalog(normalize_locale(locale, self.default_locale))["common.phone_keyboard_closed"]

    async def _answer_pressed(
        self, pressed: Pressed, replies: list[Reply], messages: list[Reply]
    ) -> list[Reply]:
        """What is left to send once the pressed message is dealt with. A button of the latest
        message pressed again before its edit showed (a double tap: the old button of the
        current question) only refreshes that question's buttons: nothing new is said. A
        message with others after it keeps its choice but is not made the answer."""
        latest = self.latest.is_latest(pressed.chat_id, pressed.message_id)
        old_button = any(reply.old_button for reply in replies)
        if old_button and latest:
            (question, *more) = [reply for reply in replies if not reply.old_button] or [Reply("")]
            if not more and editable_into(question) and pressed.text.endswith(question.text):
                markup = inline_keyboard(question.options) if question.options else None
                if await self._edit_text(pressed, pressed.text, markup):
                    return []
        return await self._edit_pressed(pressed, messages, old_button, latest)

    async def _edit_pressed(
        self, pressed: Pressed, messages: list[Reply], old_button: bool, latest: bool
    ) -> list[Reply]:
        """Edit the pressed message and return what is left to send.

        Where the first message is text with inline buttons or none and all fits, the pressed
        message becomes its own text, the choice made (`chosen_text`) and that message: with
        the acknowledgement, two Bot API calls for the button, and nothing the citizen read
        disappears. Otherwise (a phone keyboard or a file next, too long, a button of an old
        message answered below it) its keyboard is edited away, the choice kept where it was
        taken, and every message sent. An edit Telegram refuses (not found, can't be edited, a
        blocked chat) is sent instead: the citizen never goes without the question. Nothing to
        say (the press was handled before) leaves the message as that handling made it."""
        if not messages:
            return messages
        if old_button or not (pressed.text and pressed.label):
            await self.remove_keyboard(pressed.chat_id, pressed.message_id)
            return messages
        chosen, first = chosen_text(pressed.text, pressed.label), messages[0]
        if latest and editable_into(first) and len(chosen) + 2 + len(first.text) <= MAX_TEXT:
            markup = inline_keyboard(first.options) if first.options else None
            shown = await self._edit_text(pressed, f"{chosen}\n\n{first.text}", markup)
            return messages[1:] if shown else messages
        if len(chosen) <= MAX_TEXT:
            await self._edit_text(pressed, chosen, None)
        else:
            await self.remove_keyboard(pressed.chat_id, pressed.message_id)
        return messages

    async def _edit_text(self, pressed: Pressed, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Whether the pressed message now reads `text` with `markup`."""
        try:
            await self.bot.edit_message_text(
                text, chat_id=pressed.chat_id, message_id=pressed.message_id, reply_markup=markup
            )
        except (TelegramBadRequest, TelegramForbiddenError, TelegramNotFound) as error:
            if NOT_MODIFIED in error.message:  # already so: a retried edit that had gone through
                return True
            log.info(
                "message %s in chat %s not edited: %s", pressed.message_id, pressed.chat_id, error.message
            )
            return False
        return True

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
