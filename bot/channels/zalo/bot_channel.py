"""The Zalo Bot API as a channel: updates in as Incoming, Replies out as numbered text.

An update is `{"event_name": "message.text.received", "message": {"message_id",
"from": {"id", "display_name"}, "chat": {"id", "chat_type"}, "date", "text"}}`
(`photo_url`, `caption`, `sticker` on the other message events). The message_id is
the event id, so an update the server replays is handled once. Assumed: in a
private chat `chat.id` is the user's id, the id sendMessage wants as `chat_id`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.text import render_numbered, split_text
from bot.channels.zalo.bot_api import MAX_TEXT, ZaloBotApi, ZaloBotBlocked, ZaloBotRateLimited
from bot.clock import Clock
from bot.dialog.types import Attachment, Capabilities, Incoming, RateLimited, RecipientUnreachable, Reply
from bot.identity import platform_id
from storage import citizens
from storage.identity import UserKey

log = logging.getLogger(__name__)

CHANNEL = "zalo_bot"
TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
STICKER_EVENT = "message.sticker.received"


def unwrap(body: Any) -> dict[str, Any] | None:
    """The update itself: webhooks have been seen both bare and as `{"ok": true, "result": update}`."""
    if not isinstance(body, dict):
        return None
    inner = body.get("result") if "result" in body else body
    if not isinstance(inner, dict) or not isinstance(inner.get("message"), dict):
        return None
    return inner


def event_id_of(update: dict[str, Any]) -> str:
    """The message id; an event without one is named by a hash of its content."""
    message_id = update.get("message", {}).get("message_id")
    if message_id:
        return str(message_id)
    canonical = json.dumps(update, sort_keys=True, ensure_ascii=False).encode()
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def sender_of(update: dict[str, Any]) -> str | None:
    message = update.get("message")
    sender = message.get("from") if isinstance(message, dict) else None
    return platform_id(sender.get("id")) if isinstance(sender, dict) else None


def attachments_of(event: str, message: dict[str, Any]) -> tuple[Attachment, ...]:
    if event == IMAGE_EVENT:
        url = str(message.get("photo_url") or message.get("photo") or "")
        return (Attachment("photo", url, "photo.jpg", "image/jpeg"),)
    if event == STICKER_EVENT:
        return ()  # a picture emoji, not a file: read as a message without text
    if event != TEXT_EVENT:  # voice, unsupported, anything new: answered as a file we cannot take
        return (Attachment(event.removeprefix("message.").removesuffix(".received"), "", ""),)
    return ()


def update_to_incoming(update: dict[str, Any]) -> Incoming | None:
    """None for what the dialog does not take: group chats, events without a sender."""
    message = update.get("message", {})
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}  # malformed: private
    user_id = sender_of(update)
    if user_id is None or str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return None
    event = str(update.get("event_name", ""))
    text = message.get("text") if event == TEXT_EVENT else message.get("caption")
    return Incoming(
        channel=CHANNEL,
        user_id=user_id,
        text=str(text or ""),
        attachments=attachments_of(event, message),
        event_id=event_id_of(update),
    )


def as_text(replies: list[Reply]) -> str:
    """All replies as one text, options numbered: fewer messages, and no buttons to miss."""
    return "\n\n".join(text for text in map(render_numbered, replies) if text)


class ZaloBotChannel:
    name = CHANNEL
    capabilities = Capabilities(buttons=False, phone_request=False, max_text_length=MAX_TEXT)

    def __init__(self, api: ZaloBotApi, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.api = api
        self.sessions = sessions
        self.clock = clock

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        """Send as few messages as fit. A blocked user is marked unreachable: RecipientUnreachable."""
        dropped = [reply.document.filename for reply in replies if reply.document is not None]
        if dropped:  # the Bot API sends photos by URL only; staff export on Telegram
            log.warning("zalo bot cannot send files; not sent to %s: %s", user_id, ", ".join(dropped))
        text = as_text(replies)
        if not text:
            return
        try:
            for chunk in split_text(text, MAX_TEXT):
                await self.api.send_message(user_id, chunk)
        except ZaloBotBlocked as error:
            log.info("zalo bot user %s cannot be reached: %s", user_id, error.description)
            await self.set_reachable(user_id, False)
            raise RecipientUnreachable(user_id) from error
        except ZaloBotRateLimited as error:  # still 429 after the client's own retries
            raise RateLimited(error.retry_after) from error

    async def set_reachable(self, user_id: str, reachable: bool) -> None:
        async with self.sessions() as db, db.begin():
            await citizens.set_reachable(db, UserKey(CHANNEL, user_id), reachable, now=self.clock.now())
