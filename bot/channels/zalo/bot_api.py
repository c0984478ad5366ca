"""A small typed async client of the Zalo Bot API (`https://bot-api.zaloplatforms.com`).

The API is Telegram-like: `POST {base}/bot<TOKEN>/<method>` with a JSON body, answered
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": n, "description": "..."}`.
Shapes follow the official docs (bot.zaloplatforms.com/docs); where they are silent we
assumed Telegram's behaviour, marked "Assumed" below.

The token is part of every URL, so no URL, and no text that might hold the token, ever
reaches a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.dialog.types import RecipientUnreachable

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://bot-api.zaloplatforms.com"
MAX_TEXT = 2000  # sendMessage: "text ... from 1 to 2000 characters"
IDLE_POLL = 408  # getUpdates found nothing within its timeout: not an error
REQUEST_TIMEOUT = 15.0  # seconds for a call other than the long poll
POLL_MARGIN = 10.0  # the HTTP timeout of getUpdates is its long-poll timeout plus this


class ZaloBotError(Exception):
    """A failed call. `str()` names the method and Zalo's description, never the token."""

    def __init__(self, method: str, code: int, description: str) -> None:
        super().__init__(f"{method}: {code} {description}".strip())
        self.method = method
        self.code = code
        self.description = description


class ZaloBotRetryable(ZaloBotError):
    """Worth trying again later: 5xx, a timeout, the network, a rate limit."""


class ZaloBotRateLimited(ZaloBotRetryable):
    def __init__(self, method: str, code: int, description: str, retry_after: float) -> None:
        super().__init__(method, code, description)
        self.retry_after = retry_after


class ZaloBotPermanent(ZaloBotError):
    """The same call will fail again: a bad request, an unknown chat."""


class ZaloBotUnauthorized(ZaloBotPermanent):
    """The token is wrong or revoked: nothing works until it is fixed."""


class ZaloBotBlocked(ZaloBotPermanent, RecipientUnreachable):
    """The user cannot be reached (blocked the bot). Assumed: 403, as on Telegram."""


def classify(method: str, code: int, description: str, retry_after: float | None = None) -> ZaloBotError:
    if code == 429:
        return ZaloBotRateLimited(method, code, description, retry_after or 1.0)
    if code >= 500 or code == 408:
        return ZaloBotRetryable(method, code, description)
    if code == 401:
        return ZaloBotUnauthorized(method, code, description)
    if code == 403:
        return ZaloBotBlocked(method, code, description)
    return ZaloBotPermanent(method, code, description)


class ZaloBotApi:
    """One bot's API. Calls other than getUpdates retry retryable failures `max_retries` times."""

    def __init__(
        self,
        token: str,
        api_base: str = DEFAULT_API_BASE,
        max_retries: int = 5,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
    ) -> None:
        if not token:
            raise ValueError("the Zalo Bot API needs a token (ZALO_BOT_TOKEN)")
        self._token = token
        self._base = api_base.rstrip("/")
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self._session: aiohttp.ClientSession | None = None
        self.throttled: Callable[[], None] = lambda: None  # told of every 429 (/metrics)

    def __repr__(self) -> str:  # the default would show the token in a debugger or a log
        return f"ZaloBotApi({self._base!r})"

    # --- methods ---------------------------------------------------------------------

    async def get_me(self) -> dict[str, Any]:
        result = await self.call("getMe")
        return result if isinstance(result, dict) else {}

    async def get_updates(self, wait_seconds: int) -> list[dict[str, Any]]:
        """Long poll. [] when idle (408). The docs show one update object as `result`;
        a list is accepted too in case the server ever batches them."""
        try:
            # The docs type `timeout` as a String.
            params = {"timeout": str(wait_seconds)}
            result = await self._request("getUpdates", params, wait_seconds + POLL_MARGIN)
        except ZaloBotRetryable as error:
            if error.code == IDLE_POLL:
                return []
            raise
        if isinstance(result, list):
            return [update for update in result if isinstance(update, dict)]
        return [result] if isinstance(result, dict) and result else []

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        if not 1 <= len(text) <= MAX_TEXT:
            raise ValueError(f"a Zalo message holds 1-{MAX_TEXT} characters, not {len(text)}")
        result = await self.call("sendMessage", {"chat_id": chat_id, "text": text})
        return result if isinstance(result, dict) else {}

    async def send_photo(self, chat_id: str, photo_url: str, caption: str = "") -> dict[str, Any]:
        params = {"chat_id": chat_id, "photo": photo_url} | ({"caption": caption} if caption else {})
        result = await self.call("sendPhoto", params)
        return result if isinstance(result, dict) else {}

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        result = await self.call("getWebhookInfo")
        return result if isinstance(result, dict) else {}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- transport -------------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Call `method`, waiting out rate limits and backing off on other retryable failures."""
        attempt = 0
        while True:
            try:
                return await self._request(method, params or {}, REQUEST_TIMEOUT)
            except ZaloBotRetryable as error:
                attempt += 1
                if attempt > self.max_retries:
                    raise
                if isinstance(error, ZaloBotRateLimited):
                    delay = error.retry_after
                else:
                    backoff = min(self.retry_max_delay, self.retry_base_delay * 2 ** (attempt - 1))
                    delay = backoff * random.uniform(0.5, 1.0)
                log.warning("zalo bot %s, retry %d/%d in %.2fs", error, attempt, self.max_retries, delay)
                await asyncio.sleep(delay)

    async def _request(self, method: str, params: dict[str, Any], limit_seconds: float) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = f"{self._base}/bot{self._token}/{method}"
        try:
            async with self._session.post(
                url, json=params, timeout=aiohttp.ClientTimeout(total=limit_seconds)
            ) as response:
                status, raw = response.status, await response.read()
        except TimeoutError:
            raise ZaloBotRetryable(method, 0, "timed out") from None
        except aiohttp.ClientError as error:
            # `from None`: aiohttp's own message may carry the URL, and so the token.
            raise ZaloBotRetryable(method, 0, type(error).__name__) from None
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise classify(method, status if status >= 400 else 502, "answer is not JSON")
        if body.get("ok") is True and status < 400:
            return body.get("result")
        code = body.get("error_code")
        code = code if isinstance(code, int) and code >= 400 else max(status, 400)
        description = self._scrub(str(body.get("description") or ""))
        parameters = body.get("parameters")
        # Assumed: a 429 carries Telegram's `parameters.retry_after`; 1 s when it does not.
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        refusal = classify(method, code, description, float(retry_after) if retry_after else None)
        if isinstance(refusal, ZaloBotRateLimited):
            self.throttled()
        raise refusal

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")
