"""Telegram updates to platform-neutral Incoming events."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import CallbackQuery, Message

from bot.dialog.types import Attachment, Incoming

CHANNEL = "telegram"
# Media we recognise but do not take as files: the flow answers them politely (a step that
# takes files says which kinds it takes; another says this step takes none).
# Not files at all (a sticker, which is a picture emoji, a place, a poll, a dice) are read as
# a message without text: the step asks again for what it wants, never pointing to the
# attachments step as if they could be sent there.
OTHER_KINDS = ("video", "voice", "audio", "animation", "video_note")


def attachments_of(message: Message) -> tuple[Attachment, ...]:
    if message.photo:
        largest = message.photo[-1]
        return (Attachment("photo", largest.file_id, "photo.jpg", "image/jpeg", largest.file_size or 0),)
    if message.document:
        document = message.document
        return (
            Attachment(
                "document",
                document.file_id,
                document.file_name or "",
                document.mime_type or "",
                document.file_size or 0,
            ),
        )
    for kind in OTHER_KINDS:
        if getattr(message, kind, None) is not None:
            return (Attachment(kind, "", kind),)
    return ()


def message_to_incoming(message: Message, update_id: int) -> Incoming | None:
    user = message.from_user
    if user is None or message.chat.type != "private":
        return None  # the bot serves private chats only
    phone = None
    text = message.text or message.caption or ""
    if message.contact is not None:
        # Only the sender's own contact counts as "shared"; another contact is just a typed number.
        if message.contact.user_id == user.id:
            phone = message.contact.phone_number
        else:
            text = message.contact.phone_number
    return Incoming(
        channel=CHANNEL,
        user_id=str(user.id),
        text=text,
        phone=phone,
        attachments=attachments_of(message),
        event_id=str(update_id),
        language=user.language_code,
    )


def callback_to_incoming(query: CallbackQuery, update_id: int) -> Incoming:
    return Incoming(
        channel=CHANNEL,
        user_id=str(query.from_user.id),
        option=query.data or "",
        event_id=str(update_id),
        language=query.from_user.language_code,
    )


@dataclass(frozen=True)
class Pressed:
    """The message whose inline button was pressed, as the callback query carried it: what
    the reply may be edited into."""

    chat_id: int
    message_id: int
    text: str  # "" when it has none (a file)
    label: str  # the pressed button's words


def pressed_message(query: CallbackQuery) -> Pressed | None:
    """None when Telegram no longer gives access to the message (it cannot be edited)."""
    message = query.message
    if not isinstance(message, Message):
        return None
    rows = message.reply_markup.inline_keyboard if message.reply_markup is not None else []
    label = next((button.text for row in rows for button in row if button.callback_data == query.data), "")
    return Pressed(message.chat.id, message.message_id, message.text or "", label)
