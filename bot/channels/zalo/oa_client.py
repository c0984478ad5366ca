"""A small typed async client for the Zalo OA API v3, its OAuth token refresh and ZNS.

Zalo answers application errors with HTTP 200 and `{"error": <code>, "message": ...}`;
each code is turned into one of the typed errors below. Tokens travel only in headers
and form bodies and never appear in an error's text or a log line.

Taken from Zalo's documentation and third-party references (no sandbox exists), and
assumed where they disagree or are silent:
- the access token goes in the bare `access_token` header; the refresh sends the app
  secret in a `secret_key` header and answers `expires_in` as a string of seconds;
- a refused refresh answers HTTP 200 with a non-zero `error` (its code is not documented);
- -216 and -220 (OA) and -124 (ZNS) mean the access token is no longer valid;
- -230/-232 (no interaction for 7 days), -213 (not a follower) and -217 (invitations
  blocked) close the consultation window but leave ZNS by phone possible;
- -227 (banned or inactive for 45 days) means nobody can reach the user;
- -32 is the rate limit, reset every minute; 5xx, timeouts and -100 (ZNS) are transient;
- a file for a chat is uploaded first (`POST /v2.0/oa/upload/file`, multipart field `file`,
  PDF, DOC or DOCX up to 5 MB) and sent as an attachment `{"type": "file", "payload":
  {"token": ...}}` with the token the upload answers in `data.token`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

log = logging.getLogger(__name__)

CS_PATH = "/v3.0/oa/message/cs"
UPLOAD_FILE_PATH = "/v2.0/oa/upload/file"
REFRESH_PATH = "/v4/oa/access_token"
ZNS_PATH = "/message/template"
OA_INFO_PATH = "/v2.0/oa/getoa"

AUTH_CODES = {-216, -220, -124}
WINDOW_CODES = {-230, -232, -213, -217}
BLOCKED_CODES = {-227}
RETRYABLE_CODES = {-32, -100}
RATE_LIMIT_CODE = -32
RATE_LIMIT_RESET_SECONDS = 60.0
HTTP_TOO_MANY = "HTTP 429"


class ZaloError(Exception):
    """An error answered by Zalo (or on the way to it). `code` is Zalo's, 0 for HTTP-level."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"zalo error {code}: {message}")
        self.code = code
        self.message = message


class RetryableError(ZaloError):
    """5xx, timeouts, rate limits: the same request may succeed later."""

    @property
    def rate_limited(self) -> bool:
        return self.code == RATE_LIMIT_CODE

    @property
    def throttled(self) -> bool:
        """Refused for the rate: Zalo's -32, or an HTTP 429 (/metrics counts both)."""
        return self.rate_limited or self.message == HTTP_TOO_MANY


class PermanentError(ZaloError):
    """The request itself is wrong (or not allowed): sending it again will not help."""


class BlockedError(PermanentError):
    """Nobody can reach this user any more."""


class WindowClosedError(PermanentError):
    """No consultation message now: no interaction for 7 days, not a follower, or blocked invitations."""


class AuthError(ZaloError):
    """The access token is not valid (refresh it), or a refresh was refused."""


def error_for(code: int, message: str) -> ZaloError:
    if code in AUTH_CODES:
        return AuthError(code, message)
    if code in WINDOW_CODES:
        return WindowClosedError(code, message)
    if code in BLOCKED_CODES:
        return BlockedError(code, message)
    if code in RETRYABLE_CODES:
        return RetryableError(code, message)
    return PermanentError(code, message)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds

    def __repr__(self) -> str:  # never print the tokens
        return f"TokenPair(expires_in={self.expires_in})"


class TokenSource(Protocol):
    async def access_token(self) -> str: ...

    async def rejected(self, token: str) -> str:
        """`token` was refused (-216): a valid one, refreshed once whoever notices first."""
        ...


async def _post(
    http: aiohttp.ClientSession,
    url: str,
    *,
    headers: dict[str, str],
    json_body: dict[str, Any] | None = None,
    form: dict[str, str] | aiohttp.FormData | None = None,
    method: str = "POST",
) -> dict[str, Any]:
    """One request (a POST unless told); the parsed answer, or a typed error for anything
    but `error: 0`."""
    try:
        async with http.request(method, url, headers=headers, json=json_body, data=form) as response:
            if response.status >= 500 or response.status == 429:
                raise RetryableError(
                    0, HTTP_TOO_MANY if response.status == 429 else f"HTTP {response.status}"
                )
            if response.status >= 400:
                raise PermanentError(0, f"HTTP {response.status}")
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError) as error:
        raise RetryableError(0, type(error).__name__) from None
    except ValueError:
        raise RetryableError(0, "answer is not JSON") from None
    if not isinstance(answer, dict):
        raise RetryableError(0, "answer is not a JSON object")
    code = int(answer.get("error", 0) or 0)
    if code:
        raise error_for(code, str(answer.get("message") or answer.get("error_name") or "")[:200])
    return answer


async def refresh_tokens(
    http: aiohttp.ClientSession, oauth_base: str, app_id: str, app_secret: str, refresh_token: str
) -> TokenPair:
    """Trade the (single-use) refresh token for a new pair. A refusal is an AuthError."""
    try:
        answer = await _post(
            http,
            oauth_base.rstrip("/") + REFRESH_PATH,
            headers={"secret_key": app_secret},
            form={"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"},
        )
    except PermanentError as error:
        raise AuthError(error.code, error.message) from None
    try:
        return TokenPair(str(answer["access_token"]), str(answer["refresh_token"]), int(answer["expires_in"]))
    except (KeyError, ValueError, TypeError):
        raise AuthError(0, "the token answer lacks access_token, refresh_token or expires_in") from None


async def oa_info(http: aiohttp.ClientSession, api_base: str, access_token: str) -> dict[str, Any]:
    """The OA's profile (`data`: oa_id, name, ...): a read that tells whether Zalo accepts
    `access_token` (an AuthError if not)."""
    answer = await _post(
        http, api_base.rstrip("/") + OA_INFO_PATH, headers={"access_token": access_token}, method="GET"
    )
    data = answer.get("data")
    return data if isinstance(data, dict) else {}


class OAClient:
    """Consultation messages and ZNS templates, with the access token from `tokens`.

    Transient failures are retried with backoff; a refused token is refreshed once and
    the request sent again.
    """

    def __init__(
        self,
        tokens: TokenSource,
        api_base: str,
        zns_base: str,
        *,
        max_retries: int = 3,
        retry_base_delay: float = 0.5,
        timeout: float = 15.0,
    ) -> None:
        self.tokens = tokens
        self.api_base = api_base.rstrip("/")
        self.zns_base = zns_base.rstrip("/")
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.timeout = timeout
        self._http: aiohttp.ClientSession | None = None
        self.throttled: Callable[[], None] = lambda: None  # told of every refusal for the rate (/metrics)

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def send_cs(self, user_id: str, message: dict[str, Any]) -> str:
        """A consultation message (text, buttons or a template); returns its message id."""
        body = {"recipient": {"user_id": user_id}, "message": message}
        answer = await self._call(self.api_base + CS_PATH, body)
        return str((answer.get("data") or {}).get("message_id", ""))

    async def upload_file(self, filename: str, content: bytes, mime_type: str) -> str:
        """Upload a PDF, DOC or DOCX (at most 5 MB) for a chat; returns the token to send it by."""

        def form() -> aiohttp.FormData:  # built again for each try: a sent form cannot be reused
            data = aiohttp.FormData()
            data.add_field("file", content, filename=filename, content_type=mime_type)
            return data

        answer = await self._call(self.api_base + UPLOAD_FILE_PATH, form=form)
        token = (answer.get("data") or {}).get("token")
        if not token:
            raise PermanentError(0, "the upload answer has no file token")
        return str(token)

    async def send_zns(
        self, phone: str, template_id: str, template_data: dict[str, Any], tracking_id: str
    ) -> str:
        """A ZNS template by phone (`84…`, or E.164 `+84…`); returns Zalo's msg_id.
        `tracking_id` is ours (the outbox dedupe key): Zalo echoes it in delivery receipts."""
        body = {
            "phone": phone.removeprefix("+"),
            "template_id": template_id,
            "template_data": template_data,
            "tracking_id": tracking_id,
        }
        answer = await self._call(self.zns_base + ZNS_PATH, body)
        return str((answer.get("data") or {}).get("msg_id", ""))

    async def _call(
        self,
        url: str,
        body: dict[str, Any] | None = None,
        *,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> dict[str, Any]:
        token = await self.tokens.access_token()
        refreshed = False
        attempt = 0
        while True:
            try:
                headers = {"access_token": token}
                return await _post(self.http, url, headers=headers, json_body=body, form=form and form())
            except AuthError:
                if refreshed:
                    raise
                token, refreshed = await self.tokens.rejected(token), True
            except RetryableError as error:
                if error.throttled:
                    self.throttled()
                attempt += 1
                if attempt > self.max_retries:
                    raise
                delay = min(30.0, self.retry_base_delay * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                log.warning(
                    "zalo %s failed (%s), retry %d/%d in %.2fs",
                    url.rsplit("/", 1)[-1],
                    error,
                    attempt,
                    self.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
