"""Sending Replies to Zalo OA users as consultation messages."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.text import merge_texts
from bot.channels.zalo.oa_client import (
    RATE_LIMIT_RESET_SECONDS,
    BlockedError,
    OAClient,
    PermanentError,
    RetryableError,
    WindowClosedError,
)
from bot.channels.zalo.oa_events import CHANNEL
from bot.channels.zalo.oa_render import MAX_TEXT, Message, file_message, is_phone_form, messages_for
from bot.clock import Clock
from bot.dialog.types import (
    DOCX_TYPE,
    Capabilities,
    Document,
    RateLimited,
    RecipientUnreachable,
    Reply,
    WindowClosed,
)
from storage import citizens, zalo_oa
from storage.identity import UserKey

log = logging.getLogger(__name__)

WINDOW = timedelta(days=7)  # consultation messages only this long after the last interaction


class ZaloOAChannel:
    name = CHANNEL
    capabilities = Capabilities(
        buttons=True,
        phone_request=True,
        document_types=frozenset({"application/pdf", "application/msword", DOCX_TYPE}),
        max_document_bytes=5 * 1024 * 1024,
        file_uploads=True,
        max_text_length=2000,
        numbered_options=True,
    )

    def __init__(self, client: OAClient, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.client = client
        self.sessions = sessions
        self.clock = clock

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        """Send in order. Raises WindowClosed past the 7 days (nothing is sent then),
        RecipientUnreachable when nobody can reach the user (who is marked so), and
        RateLimited when Zalo still refuses after the client's retries."""
        if not replies:
            return
        await self._check_window(user_id)
        try:
            for reply in merge_texts(replies, MAX_TEXT):
                for message in messages_for(reply):
                    await self._send_message(user_id, message)
                if reply.document is not None:
                    await self._send_document(user_id, reply.document)
        except WindowClosedError as error:
            log.info("zalo user %s is outside the consultation window: %s", user_id, error)
            raise WindowClosed(user_id) from error
        except BlockedError as error:
            log.info("zalo user %s cannot be reached: %s", user_id, error)
            await self.set_reachable(user_id, False)
            raise RecipientUnreachable(user_id) from error
        except RetryableError as error:
            if error.rate_limited:
                raise RateLimited(RATE_LIMIT_RESET_SECONDS) from error
            raise

    async def _send_message(self, user_id: str, message: Message) -> None:
        try:
            await self.client.send_cs(user_id, message)
        except PermanentError as error:
            if not is_phone_form(message) or isinstance(error, BlockedError | WindowClosedError):
                raise
            # The name-and-phone form is a convenience: the prompt before it asks to type the number.
            log.warning("zalo refused the request_user_info form for %s: %s", user_id, error)

    async def _send_document(self, user_id: str, document: Document) -> None:
        if not self.capabilities.takes(document):  # handlers offer only what fits; a bug otherwise
            log.error("zalo OA cannot send %s to %s; left out", document.filename, user_id)
            return
        token = await self.client.upload_file(document.filename, document.content, document.mime_type)
        await self.client.send_cs(user_id, file_message(token))

    async def _check_window(self, user_id: str) -> None:
        async with self.sessions() as db:
            seen = await zalo_oa.last_seen(db, user_id)
        if seen is not None and self.clock.now() - seen > WINDOW:
            raise WindowClosed(user_id)

    async def set_reachable(self, user_id: str, reachable: bool) -> None:
        async with self.sessions() as db, db.begin():
            await citizens.set_reachable(db, UserKey(CHANNEL, user_id), reachable, now=self.clock.now())
