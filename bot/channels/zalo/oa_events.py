"""Zalo OA webhook events to platform-neutral Incoming events.

Shapes (Zalo docs, OA API v3): user events carry `sender.id` (the user), `recipient.id`
(the OA), `message.msg_id` and a `timestamp` string in ms; `follow`/`unfollow` carry
`follower.id` instead; `user_submit_info` carries `info` {name, phone, ...}; echoes of
what the OA sent are `oa_send_*` with sender and recipient swapped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.channels.zalo.oa_render import option_of
from bot.dialog.types import Attachment, Incoming
from bot.identity import platform_id
from storage.text import normalize

CHANNEL = "zalo"
START = "/start"  # following the OA opens the conversation, as /start does on Telegram
# Media we recognise but do not take as files: the flow answers them politely.
OTHER_KINDS = {
    "user_send_gif": "animation",
    "user_send_audio": "audio",
    "user_send_video": "video",
}
# Not files at all (a sticker is a picture emoji): read as a message without text, so the
# step asks again for what it wants, never pointing to the attachments step.
NOT_FILES = {"user_send_sticker", "user_send_location", "user_send_business_card"}
# A message holding a link comes as `user_send_link` (the text, and a preview in
# `attachments`): it is read as the text it is, not as a file.
CONVERSATION_EVENTS = {
    "user_send_text",
    "user_send_link",
    "user_submit_info",
    "user_send_image",
    "user_send_file",
    "follow",
}
HANDLED_EVENTS = CONVERSATION_EVENTS | set(OTHER_KINDS) | NOT_FILES | {"unfollow"}


@dataclass(frozen=True)
class Event:
    name: str
    user_id: str
    event_id: str

    @property
    def interaction(self) -> bool:
        """Opens (or keeps open) the 7-day window for consultation messages."""
        return self.name != "unfollow"


def happened_at(payload: dict[str, Any], now: datetime) -> datetime:
    """When the user acted: the event's `timestamp` (ms), never later than now; now when it
    has none. A delivery Zalo repeats later must not reopen the 7-day window."""
    try:
        at = datetime.fromtimestamp(int(str(payload.get("timestamp"))) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return min(at, now)


def event_id_of(payload: dict[str, Any]) -> str:
    """`msg_id`, or a hash of the event for those without one (follow, submitted info):
    a delivery repeated by Zalo has the same content, so the same id."""
    message = payload.get("message")
    if isinstance(message, dict) and (msg_id := platform_id(message.get("msg_id"))):
        return msg_id
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def user_of(payload: dict[str, Any]) -> str:
    holder = payload.get("follower") if payload.get("event_name") in ("follow", "unfollow") else None
    holder = holder or payload.get("sender")
    return (platform_id(holder.get("id")) or "") if isinstance(holder, dict) else ""


def classify(payload: dict[str, Any]) -> Event | None:
    """The event, if it is one the bot handles (else None: acknowledge and log it)."""
    name = str(payload.get("event_name", ""))
    user_id = user_of(payload)
    if name not in HANDLED_EVENTS or not user_id:
        return None
    return Event(name, user_id, event_id_of(payload))


def attachments_of(name: str, message: dict[str, Any]) -> tuple[Attachment, ...]:
    if name in NOT_FILES:
        return ()
    if name in OTHER_KINDS:
        return (Attachment(OTHER_KINDS[name], "", OTHER_KINDS[name]),)
    found: list[Attachment] = []
    items = message.get("attachments")
    for item in items if isinstance(items, list) else []:  # a malformed event has none
        payload = item.get("payload") if isinstance(item, dict) else None
        if not isinstance(payload, dict):
            continue
        if name == "user_send_image":
            found.append(Attachment("photo", str(payload.get("url", "")), "photo.jpg", "image/jpeg"))
        elif name == "user_send_file":
            size, kind = str(payload.get("size", "0")), str(payload.get("type", ""))
            found.append(
                Attachment(
                    "document",
                    str(payload.get("url", "")),
                    str(payload.get("name", "")),
                    f"application/{kind}" if kind else "",
                    int(size) if size.isdecimal() else 0,
                )
            )
    return tuple(found)


def to_incoming(event: Event, payload: dict[str, Any]) -> Incoming:
    """The conversation event of a user event (never called for unfollow)."""
    base = Incoming(channel=CHANNEL, user_id=event.user_id, event_id=event.event_id)
    if event.name == "follow":
        return replace(base, text=START)
    if event.name == "user_submit_info":
        info = payload.get("info")
        phone = str(info.get("phone", "")).strip() if isinstance(info, dict) else ""
        return replace(base, phone=phone or None)
    message = payload.get("message")
    if not isinstance(message, dict):
        message = {}  # malformed, or a sticker without details: answered all the same
    text = message.get("text")
    text = normalize(text if isinstance(text, str) else "")  # Zalo may send Vietnamese in NFD
    option = option_of(text)
    if option is not None:
        return replace(base, option=option)
    return replace(base, text=text, attachments=attachments_of(event.name, message))
