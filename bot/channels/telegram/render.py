"""A Reply in Telegram's native form: plain text (no parse mode, so nothing a citizen
types can be taken as markup), inline keyboards, a "share my phone" keyboard."""

from __future__ import annotations

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels.text import split_text as split_text  # re-exported for the Telegram channel
from bot.dialog.types import Option, Reply

MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def inline_keyboard(options: tuple[Option, ...]) -> InlineKeyboardMarkup:
    for option in options:
        if len(option.payload.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {option.payload!r}")
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=option.label, callback_data=option.payload)] for option in options
        ]
    )


def phone_keyboard(reply: Reply) -> ReplyKeyboardMarkup:
    """The share-contact button; options come back as their label text, which the engine matches."""
    rows = [[KeyboardButton(text=reply.ask_phone, request_contact=True)]]
    rows += [[KeyboardButton(text=option.label)] for option in reply.options]
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)


def closes_with_buttons(reply: Reply) -> bool:
    """A reply that shows inline buttons or the phone keyboard: it cannot also remove a keyboard."""
    return bool(reply.options or reply.ask_phone)


def markup_for(reply: Reply) -> Markup | None:
    if reply.ask_phone:
        return phone_keyboard(reply)
    if reply.options:
        return inline_keyboard(reply.options)
    if reply.close_keyboard:
        return ReplyKeyboardRemove()
    return None


def editable_into(reply: Reply) -> bool:
    """A reply a pressed message can be edited into: text with inline buttons or none. Not a
    phone keyboard or its removal (an edit takes inline keyboards only), not a file."""
    return bool(reply.text) and not (
        reply.ask_phone or reply.close_keyboard or reply.document or reply.document_fallback or reply.files
    )


def chosen_text(text: str, label: str) -> str:
    """A pressed message's text with the choice made under it, as the citizen's record (Telegram
    shows no pressed button once the keyboard is gone). A mark and the button's own words, which
    are in the citizen's language already: no words of ours, so no catalog read at all. A
    button's own leading sign (✅ Xong, ✏️ Sửa thông tin) is left out: one mark reads better."""
    sign, _, words = label.partition(" ")
    if words and not any(character.isalnum() for character in sign):
        label = words
    return f"{text}\n✓ {label}"
