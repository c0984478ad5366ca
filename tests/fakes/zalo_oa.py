"""Fake Zalo OA, OAuth and ZNS servers speaking real HTTP on localhost.

It behaves like Zalo where the bot depends on it: application errors come with HTTP 200
and `{"error": <code>}`; consultation messages (`POST /v3.0/oa/message/cs`) are checked
strictly (shape, 2,000 characters, at most 5 `oa.query.hide` buttons, one
`request_user_info` element) and allowed only to followers who interacted within 7 days
(-230) and did not block invitations (-217); an unknown or expired access token gets
-216; a refresh token works once (`POST /v4/oa/access_token`); ZNS sends
(`POST /message/template`) are recorded; `GET /v2.0/oa/getoa` answers the OA's profile; a
file is uploaded first (`POST /v2.0/oa/upload/file`: PDF, DOC or DOCX up to 5 MB) and sent
by its token. A body that
breaks the rules is recorded in `violations`, and tests fail on any.

It also plays Zalo's part on the other side: it builds user events, signs them
(`X-ZEvent-Signature: mac=sha256(app_id + body + timestamp + OA secret key)`) and posts
them to the bot's webhook.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.local_http import serve_locally

APP_ID = "3608465248940903967"
OA_ID = "388613280878808645"
OA_NAME = "Văn phòng Đoàn ĐBQH và HĐND tỉnh"
OA_SECRET_KEY = "fake-oa-secret-key-0123456789"
APP_SECRET = "fake-app-secret-9876543210"
WINDOW = timedelta(days=7)
PHONE = re.compile(r"^84[0-9]{9,10}$")
UPLOAD_TYPES = {"pdf", "doc", "docx"}
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


@dataclass
class SentCS:
    user_id: str
    message: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.message.get("text", ""))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        attachment = self.message.get("attachment") or {}
        return list((attachment.get("payload") or {}).get("buttons", []))

    @property
    def template_type(self) -> str:
        attachment = self.message.get("attachment") or {}
        return str((attachment.get("payload") or {}).get("template_type", ""))


@dataclass
class FakeZalo:
    """Start with `await fake.start()`; point the bot's three base URLs at `fake.base_url`."""

    clock: Callable[[], datetime]
    violations: list[str] = field(default_factory=list)
    sent: list[SentCS] = field(default_factory=list)
    zns: list[dict[str, Any]] = field(default_factory=list)
    refresh_calls: int = 0
    followers: set[str] = field(default_factory=set)
    blocked_invitations: set[str] = field(default_factory=set)
    banned: set[str] = field(default_factory=set)
    last_interaction: dict[str, datetime] = field(default_factory=dict)
    zns_templates: set[str] = field(default_factory=lambda: {"reschedule-tpl"})
    uploads: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # token -> (filename, content)

    def __post_init__(self) -> None:
        self._serial = itertools.count(1)
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.refused_refreshes = 0
        self.access_token, self.refresh_token = self.issue()
        self._injected: dict[str, list[int]] = {}  # path -> HTTP statuses to answer next
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- server ----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=2 * MAX_UPLOAD_BYTES)  # so an upload too big reaches the check
        app.router.add_post("/v3.0/oa/message/cs", self._cs)
        app.router.add_post("/v4/oa/access_token", self._oauth)
        app.router.add_post("/message/template", self._zns)
        app.router.add_post("/v2.0/oa/upload/file", self._upload_file)
        app.router.add_get("/v2.0/oa/getoa", self._getoa)
        self._runner, self.base_url = await serve_locally(app)
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def issue(self) -> tuple[str, str]:
        serial = next(self._serial)
        access, refresh = f"access-{serial:04d}-secretvalue", f"refresh-{serial:04d}-secretvalue"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (-216)."""
        self.access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        """The grant is gone: only an OA admin can give a new pair."""
        self.refresh_tokens.clear()

    def inject(self, path: str, status: int, times: int = 1) -> None:
        self._injected.setdefault(path, []).extend([status] * times)

    def _injected_status(self, request: web.Request) -> int | None:
        pending = self._injected.get(request.path)
        return pending.pop(0) if pending else None

    @staticmethod
    def _zalo_error(code: int, message: str) -> web.Response:
        return web.json_response({"error": code, "message": message})  # HTTP 200, like Zalo

    def _violation(self, problem: str) -> web.Response:
        self.violations.append(problem)
        return self._zalo_error(-201, problem)

    async def _getoa(self, request: web.Request) -> web.Response:
        """The OA's profile, for a valid access token."""
        if request.headers.get("access_token") not in self.access_tokens:
            return self._zalo_error(-216, "Access token is invalid")
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"oa_id": OA_ID, "name": OA_NAME}}
        )

    # --- consultation messages ---------------------------------------------------------

    async def _cs(self, request: web.Request) -> web.Response:
        if (status := self._injected_status(request)) is not None:
            return web.Response(status=status, text="<html>Bad Gateway</html>", content_type="text/html")
        if request.headers.get("access_token") not in self.access_tokens:
            return self._zalo_error(-216, "Access token is invalid")
        if "Authorization" in request.headers:
            return self._violation("cs: Authorization header sent; Zalo takes the bare access_token header")
        try:
            body = await request.json()
        except ValueError:
            return self._violation("cs: body is not JSON")
        problems = check_cs_body(body)
        token = (body.get("message", {}).get("attachment") or {}).get("payload", {}).get("token")
        if not problems and token is not None and token not in self.uploads:
            problems = [f"cs: file token {token!r} was never uploaded"]
        if problems:
            return self._violation("; ".join(problems))
        user_id = body["recipient"]["user_id"]
        if user_id in self.banned:
            return self._zalo_error(-227, "User is banned or has been inactive for more than 45 days")
        if user_id not in self.followers:
            return self._zalo_error(-213, "User has not followed OA")
        if user_id in self.blocked_invitations:
            return self._zalo_error(-217, "User has blocked invitation from OA")
        seen = self.last_interaction.get(user_id)
        if seen is None or self.clock() - seen > WINDOW:
            return self._zalo_error(-230, "User has not interacted with the OA in the past 7 days")
        self.sent.append(SentCS(user_id, body["message"]))
        message_id = f"m{len(self.sent):06d}"
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"message_id": message_id, "user_id": user_id}}
        )

    async def _upload_file(self, request: web.Request) -> web.Response:
        if (status := self._injected_status(request)) is not None:
            return web.Response(status=status, text="<html>Bad Gateway</html>", content_type="text/html")
        if request.headers.get("access_token") not in self.access_tokens:
            return self._zalo_error(-216, "Access token is invalid")
        if not request.content_type.startswith("multipart/"):
            return self._violation("upload: body is not multipart/form-data")
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField) or set(form) != {"file"}:
            return self._violation("upload: the form must hold one field, file")
        content = upload.file.read()
        if upload.filename.rsplit(".", 1)[-1].lower() not in UPLOAD_TYPES:
            return self._violation(f"upload: Zalo takes PDF, DOC and DOCX only, not {upload.filename}")
        if len(content) > MAX_UPLOAD_BYTES:
            return self._violation(f"upload: {len(content)} bytes, Zalo takes at most 5 MB")
        token = f"file-{len(self.uploads) + 1:04d}"
        self.uploads[token] = (upload.filename, content)
        return web.json_response({"error": 0, "message": "Success", "data": {"token": token}})

    # --- OAuth -------------------------------------------------------------------------

    async def _oauth(self, request: web.Request) -> web.Response:
        self.refresh_calls += 1
        if (status := self._injected_status(request)) is not None:
            return web.Response(status=status, text="oops")
        form = await request.post()
        if request.headers.get("secret_key") != APP_SECRET:
            return web.json_response({"error": -14004, "error_name": "Invalid secret key"})
        expected = {"refresh_token", "app_id", "grant_type"}
        if set(form) != expected or form.get("grant_type") != "refresh_token" or form["app_id"] != APP_ID:
            return self._violation(f"oauth: form fields {sorted(form)} are not {sorted(expected)}")
        if form["refresh_token"] not in self.refresh_tokens:
            self.refused_refreshes += 1
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token"})
        self.refresh_tokens.discard(str(form["refresh_token"]))  # single use
        self.access_token, self.refresh_token = self.issue()
        return web.json_response(
            {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": "90000"}
        )

    # --- ZNS ---------------------------------------------------------------------------

    async def _zns(self, request: web.Request) -> web.Response:
        if request.headers.get("access_token") not in self.access_tokens:
            return self._zalo_error(-124, "Access token invalid")
        body = await request.json()
        if set(body) != {"phone", "template_id", "template_data", "tracking_id"}:
            return self._violation(f"zns: fields {sorted(body)}")
        if not isinstance(body["template_data"], dict) or not str(body["tracking_id"]):
            return self._violation("zns: template_data must be an object and tracking_id set")
        if not PHONE.match(str(body["phone"])):
            return self._zalo_error(-108, "Phone number invalid")
        if body["template_id"] not in self.zns_templates:
            return self._zalo_error(-109, "Template ID invalid")
        self.zns.append(body)
        return web.json_response(
            {"error": 0, "message": "Success", "data": {"msg_id": f"z{len(self.zns):06d}", "sent_time": "0"}}
        )

    # --- what tests do -----------------------------------------------------------------

    def sent_to(self, user_id: str) -> list[SentCS]:
        return [sent for sent in self.sent if sent.user_id == user_id]

    def _envelope(self, name: str, user_id: str, **fields: Any) -> dict[str, Any]:
        if name in ("follow", "unfollow"):
            actors: dict[str, Any] = {"oa_id": OA_ID, "follower": {"id": user_id}, "source": "oa_profile"}
        elif name.startswith("oa_send_"):
            actors = {"sender": {"id": OA_ID}, "recipient": {"id": user_id}}
        else:
            actors = {"sender": {"id": user_id}, "recipient": {"id": OA_ID}}
        return {"app_id": APP_ID, "user_id_by_app": f"app-{user_id}", "event_name": name, **actors, **fields}

    def event(self, name: str, user_id: str, **fields: Any) -> dict[str, Any]:
        """A Zalo event as Zalo builds it; user events open the 7-day window as at Zalo."""
        event = self._envelope(name, user_id, **fields)
        event["timestamp"] = str(int(self.clock().timestamp() * 1000))
        if name == "follow":
            self.followers.add(user_id)
        elif name == "unfollow":
            self.followers.discard(user_id)
        if name == "follow" or name.startswith("user_"):
            self.last_interaction[user_id] = self.clock()
        return event

    def message_event(self, name: str, user_id: str, **message: Any) -> dict[str, Any]:
        msg_id = hashlib.sha256(f"{user_id}:{next(self._serial)}".encode()).hexdigest()[:20]
        return self.event(name, user_id, message={"msg_id": msg_id, **message})

    def text_event(self, user_id: str, text: str) -> dict[str, Any]:
        return self.message_event("user_send_text", user_id, text=text)

    def submit_info_event(self, user_id: str, name: str, phone: str) -> dict[str, Any]:
        info = {"name": name, "phone": phone, "address": "", "city": "", "district": ""}
        return self.event("user_submit_info", user_id, info=info)

    @staticmethod
    def sign(body: bytes, timestamp: str, app_id: str = APP_ID, secret: str = OA_SECRET_KEY) -> str:
        return (
            "mac=" + hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()
        )

    async def post(self, url: str, event: dict[str, Any], signature: str | None = "") -> int:
        """POST an event to the bot's webhook as Zalo does; `signature=""` signs it properly."""
        body = json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-ZEvent-Signature"] = signature or self.sign(body, str(event["timestamp"]))
        async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as response:
            return response.status


def check_cs_body(body: Any) -> list[str]:
    """What Zalo would refuse in a consultation message."""
    if not isinstance(body, dict) or set(body) != {"recipient", "message"}:
        return ["cs: body must be {recipient, message}"]
    problems: list[str] = []
    recipient, message = body["recipient"], body["message"]
    if not isinstance(recipient, dict) or set(recipient) != {"user_id"} or not str(recipient["user_id"]):
        problems.append("cs: recipient must be {user_id}")
    if not isinstance(message, dict) or not message or set(message) - {"text", "attachment"}:
        return [*problems, f"cs: message fields {message!r}"]
    if "text" in message and not (isinstance(message["text"], str) and 1 <= len(message["text"]) <= 2000):
        problems.append(f"cs: text length {len(str(message['text']))} outside 1-2000")
    attachment = message.get("attachment")
    if attachment is None:
        return problems
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    if isinstance(payload, dict) and attachment.get("type") == "file":
        if "text" in message or set(payload) != {"token"}:
            problems.append("cs: a file attachment takes a payload of {token} and no text")
        return problems
    if not isinstance(payload, dict) or attachment.get("type") != "template":
        return [*problems, "cs: attachment must be a template with a payload"]
    if payload.get("template_type") == "request_user_info":
        elements = payload.get("elements")
        if "text" in message or not isinstance(elements, list) or len(elements) != 1:
            return [*problems, "cs: request_user_info takes exactly one element and no text"]
        element = elements[0]
        if set(element) - {"title", "subtitle", "image_url"} or not 1 <= len(element.get("title", "")) <= 100:
            problems.append("cs: request_user_info element needs a title of 1-100 characters")
        if not 1 <= len(element.get("subtitle", "")) <= 500:
            problems.append("cs: request_user_info subtitle outside 1-500 characters")
        return problems
    buttons = payload.get("buttons")
    if "text" not in message or set(payload) != {"buttons"} or not isinstance(buttons, list):
        return [*problems, "cs: buttons need a text and a payload of {buttons}"]
    if not 1 <= len(buttons) <= 5:
        problems.append(f"cs: {len(buttons)} buttons, Zalo takes 1-5")
    for button in buttons:
        if set(button) != {"title", "type", "payload"} or button["type"] != "oa.query.hide":
            problems.append(f"cs: button {button!r} is not an oa.query.hide button")
        elif not 1 <= len(button["title"]) <= 100 or not 1 <= len(button["payload"]) <= 1000:
            problems.append(f"cs: button title 1-100 and payload 1-1000 characters: {button!r}")
    return problems
