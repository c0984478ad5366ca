"""Drive the real Telegram runner (aiogram polling or webhook) against the fake Bot API."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiogram.types import TelegramObject, Update
from aiogram.utils.backoff import BackoffConfig

from bot.app import App
from bot.channels.telegram.runner import TelegramBot, make_bot
from tests.fakes.telegram_api import TOKEN, FakeTelegram, SentMessage, Shown

FAST_BACKOFF = BackoffConfig(min_delay=0.05, max_delay=0.2, factor=1.5, jitter=0.0)


class Completion:
    """An outer middleware that tells a driver when an update is finished (replies sent)."""

    def __init__(self) -> None:
        self.done: dict[int, asyncio.Event] = {}

    def expect(self, update_id: int) -> asyncio.Event:
        return self.done.setdefault(update_id, asyncio.Event())

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        update: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(update, data)
        finally:
            assert isinstance(update, Update)
            self.expect(update.update_id).set()


def make_telegram_bot(app: App, fake: FakeTelegram, max_retries: int = 5) -> TelegramBot:
    bot = make_bot(TOKEN, fake.base_url, max_retries, retry_base_delay=0.05)
    telegram = TelegramBot(app, bot=bot, backoff=FAST_BACKOFF)
    COMPLETIONS[telegram] = completion = Completion()
    telegram.dp.update.outer_middleware(completion)
    return telegram


COMPLETIONS: weakref.WeakKeyDictionary[TelegramBot, Completion] = weakref.WeakKeyDictionary()


def completion_of(telegram: TelegramBot) -> Completion:
    return COMPLETIONS[telegram]


@dataclass
class TelegramUser:
    """A citizen in a Telegram client: sends updates, reads what the bot sent them."""

    telegram: TelegramBot
    fake: FakeTelegram
    user_id: int
    language_code: str = "vi"
    seen: int = 0
    # What appeared in the chat for the last update: messages sent, and a pressed message
    # edited into the answer (as it read then), in order; `text` joins what each said anew.
    last: list[SentMessage] = field(default_factory=list)
    new_texts: list[str] = field(default_factory=list)

    async def _await_handled(self, update: dict[str, Any], within: float = 15.0) -> list[SentMessage]:
        """Wait until the bot has finished with the update: handled and every reply shown."""
        done = completion_of(self.telegram).expect(update["update_id"])
        await asyncio.wait_for(done.wait(), timeout=within)
        mine = self.mine()
        fresh, self.seen = mine[self.seen :], len(mine)
        self.last = [shown.message for shown in fresh]
        self.new_texts = [shown.new_text for shown in fresh]
        return self.last

    def mine(self) -> list[Shown]:
        return [shown for shown in self.fake.shown if shown.message.chat_id == self.user_id]

    def catch_up(self) -> None:
        """Take what was shown so far as read (replies that came of no update of this user's
        here, such as those sent again at a start)."""
        self.seen = len(self.mine())

    async def say(self, text: str) -> list[SentMessage]:
        update = self.fake.push_message(self.user_id, text, self.language_code)
        return await self._await_handled(update)

    async def send(self, **message: Any) -> list[SentMessage]:
        update = self.fake.push_message(self.user_id, language_code=self.language_code, **message)
        return await self._await_handled(update)

    async def share_contact(self, phone: str, owner: int | None = None) -> list[SentMessage]:
        return await self._await_handled(self.fake.push_contact(self.user_id, phone, owner))

    async def send_document(self, name: str, mime_type: str, size: int) -> list[SentMessage]:
        return await self._await_handled(self.fake.push_document(self.user_id, name, mime_type, size))

    def keyboard_message(self) -> SentMessage:
        message = self.fake.keyboard_of(self.user_id)
        assert message is not None, "no message with an inline keyboard"
        return message

    @staticmethod
    def buttons(message: SentMessage) -> list[dict[str, Any]]:
        assert message.reply_markup is not None
        return [row[0] for row in message.reply_markup.get("inline_keyboard", [])]

    async def press(self, label: str, message: SentMessage | None = None) -> list[SentMessage]:
        """Press the button on `message` as the client shows it (by default the last keyboard)."""
        message = message or self.keyboard_message()
        for button in self.buttons(message):
            if label.lower() in button["text"].lower():
                update = self.fake.push_callback(self.user_id, message, button["callback_data"])
                return await self._await_handled(update)
        raise AssertionError(f"no button {label!r} in {[b['text'] for b in self.buttons(message)]}")

    @property
    def text(self) -> str:
        return "\n".join(self.new_texts)
