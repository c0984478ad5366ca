"""What channels and the dialog engine exchange: platform-neutral and frozen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from storage.identity import UserKey


@dataclass(frozen=True)
class Attachment:
    """A file the user sent, kept as a reference on the platform."""

    kind: str  # "photo" | "document"
    file_id: str
    name: str = ""
    mime_type: str = ""
    size: int = 0


@dataclass(frozen=True)
class Incoming:
    """One event from a user, whatever the platform."""

    channel: str
    user_id: str
    text: str = ""
    option: str | None = None  # the wire payload of a pressed button
    phone: str | None = None  # a phone number shared through the platform
    attachments: tuple[Attachment, ...] = ()
    event_id: str = ""  # the platform's id of the event; set: a repeat of it is ignored
    language: str | None = None  # the platform's guess of the user's language

    @property
    def key(self) -> UserKey:
        return UserKey(self.channel, self.user_id)


@dataclass(frozen=True)
class Option:
    """A choice offered to the user. `payload` is short ASCII; channels send it back."""

    payload: str
    label: str


ANY_DOCUMENT = frozenset({"*/*"})


# The document types the exports make, and channels declare they take.
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Document:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class Reply:
    text: str
    options: tuple[Option, ...] = ()
    ask_phone: str = ""  # label of a "share my phone number" button, if any
    document: Document | None = None
    document_fallback: Document | None = None  # sent instead where the chat cannot take `document`
    files: tuple[Attachment, ...] = ()  # files the platform already holds, sent back by reference
    # The previous prompt asked for the phone: a channel with a persistent
    # "share my phone" keyboard removes it with this reply.
    close_keyboard: bool = False
    # The user's staff role changed: a channel with a per-chat command menu sets it again.
    staff_menu: bool = False
    # It answers a button of an earlier message, not of the current question: a channel that
    # edits a pressed message into the reply leaves that one as it is and sends this below.
    old_button: bool = False


@dataclass(frozen=True)
class Capabilities:
    buttons: bool = False  # native buttons; otherwise options are numbered text
    phone_request: bool = False
    # The MIME types of the files we can send (exports, calendar files); ANY_DOCUMENT: all.
    document_types: frozenset[str] = frozenset()
    max_document_bytes: int = 0
    file_uploads: bool = False  # citizens can send us photos and documents
    max_text_length: int = 4096
    # Buttons, and the options also listed as numbers the user may type (Zalo OA).
    numbered_options: bool = False

    @property
    def numbers_answer(self) -> bool:
        """Whether a typed number chooses an option: the options are shown numbered."""
        return self.numbered_options or not self.buttons

    def takes(self, document: Document) -> bool:
        """Whether this channel can send the user this file."""
        known = self.document_types >= ANY_DOCUMENT or document.mime_type in self.document_types
        return known and len(document.content) <= self.max_document_bytes

    @property
    def documents(self) -> bool:
        """Whether it can send any file at all."""
        return bool(self.document_types) and self.max_document_bytes > 0


class RecipientUnreachable(Exception):
    """The platform says the user cannot be reached (blocked the bot, left)."""


class WindowClosed(RecipientUnreachable):
    """The platform allows free-form messages only for a while after the user's last
    interaction (Zalo OA: 7 days), and that time is over. Not a block: the citizen stays
    reachable by other means (a ZNS template by phone) and by chat once they write again."""


class TemplateRefused(Exception):
    """A template message can never go as asked (a bad phone number, an unknown template)."""


class RateLimited(Exception):
    """The platform asks us to wait `retry_after` seconds before sending more."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after} s")
        self.retry_after = retry_after


class Channel(Protocol):
    """An adapter at the edge: turns platform updates into Incoming, renders Replies."""

    name: str
    capabilities: Capabilities

    async def send(self, user_id: str, replies: list[Reply]) -> None: ...


@dataclass
class Offered:
    """The options of the last prompt, kept in the conversation state."""

    turn: int = 0
    options: list[Option] = field(default_factory=list)
