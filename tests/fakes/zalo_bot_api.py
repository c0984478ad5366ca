"""A fake Zalo Bot API server speaking real HTTP on localhost.

It behaves as the official docs (bot.zaloplatforms.com/docs) describe: `POST
/bot<TOKEN>/<method>` with a JSON body; getUpdates long-polls and returns one update
as `result`, or HTTP 408 "Request timeout" when nothing came within its `timeout`;
sendMessage takes 1-2000 characters; getUpdates is refused while a webhook is set;
setWebhook needs an HTTPS url and an 8-256 character secret, which it sends back in
`X-Bot-Api-Secret-Token` when it posts updates to the bot. Where the docs are silent
it answers as Telegram would (401 for a wrong token, 403 for a blocked user, 429
with `parameters.retry_after`).

Strict: a call that breaks these rules gets the error the real API would give and is
recorded in `violations`; the fixture fails the test that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.local_http import serve_locally, wait_until

TOKEN = "1459232241454765289:FAKE-zalo-bot-token"
BOT_INFO = {"id": "1459232241454765289", "account_name": "bot.tiepdan", "account_type": "BASIC"}
MAX_TEXT = 2000

# method -> (required params, optional params); every param is a String in the docs.
METHODS: dict[str, tuple[set[str], set[str]]] = {
    "getme": (set(), set()),
    "getupdates": (set(), {"timeout"}),
    "sendmessage": ({"chat_id", "text"}, set()),
    "sendphoto": ({"chat_id", "photo"}, {"caption"}),
    "sendsticker": ({"chat_id", "sticker"}, set()),
    "sendchataction": ({"chat_id", "action"}, set()),
    "setwebhook": ({"url", "secret_token"}, set()),
    "deletewebhook": (set(), set()),
    "getwebhookinfo": (set(), set()),
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200


@dataclass
class SentMessage:
    message_id: str
    chat_id: str
    text: str


def new_message_id() -> str:
    return secrets.token_hex(10)  # like "16f6366b3f02645a3d15"


def text_update(user_id: str, text: str, chat_type: str = "PRIVATE") -> dict[str, Any]:
    """A citizen's text message, as getUpdates and the webhook carry it."""
    return {
        "event_name": "message.text.received",
        "message": {
            "message_id": new_message_id(),
            "date": int(time.time() * 1000),
            "chat": {"id": user_id, "chat_type": chat_type},
            "from": {"id": user_id, "display_name": "Công dân", "is_bot": False},
            "text": text,
        },
    }


def sticker_update(user_id: str) -> dict[str, Any]:
    update = text_update(user_id, "")
    update["event_name"] = "message.sticker.received"
    del update["message"]["text"]
    update["message"]["sticker"] = "0e078a2fb66a5f34067b"
    return update


@dataclass
class FakeZaloBot:
    """Start with `await fake.start()`; point the bot at `fake.base_url`."""

    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    webhook: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._queue: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._injected: dict[str, list[int]] = {}
        self._message_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.idle_polls = 0  # getUpdates answered 408

    # --- server ----------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner, self.base_url = await serve_locally(app)
        return self.base_url

    async def stop(self) -> None:
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != TOKEN:
            return self._error(401, "Unauthorized")
        try:
            params = await request.json() if request.can_read_body else {}
        except ValueError:
            params = None
        call = Call(method, params if isinstance(params, dict) else {})
        self.calls.append(call)
        problems = self._check(method, request.method, params)
        if problems:
            self.violations += problems
            call.status = 400
            return self._error(400, "; ".join(problems))
        injected = self._injected.get(method.lower())
        if injected:
            call.status = injected.pop(0)
            return self._error(call.status, "Too Many Requests" if call.status == 429 else "Internal error")
        response: web.Response = await getattr(self, f"_m_{method.lower()}")(call.params, call)
        self._changed.set()
        return response

    def _check(self, method: str, http_method: str, params: Any) -> list[str]:
        spec = METHODS.get(method.lower())
        if spec is None:
            return [f"unknown method {method}"]
        if http_method != "POST":
            return [f"{method}: the docs use POST, got {http_method}"]
        if not isinstance(params, dict):
            return [f"{method}: body is not a JSON object"]
        required, optional = spec
        problems = [f"{method}: {name} missing" for name in sorted(required - params.keys())]
        problems += [
            f"{method}: unknown parameter {name}" for name in sorted(params.keys() - required - optional)
        ]
        problems += [
            f"{method}: {name} must be a String" for name, v in params.items() if not isinstance(v, str)
        ]
        text = params.get("text")
        if method.lower() == "sendmessage" and isinstance(text, str) and not 1 <= len(text) <= MAX_TEXT:
            problems.append(f"{method}: text must be 1-{MAX_TEXT} characters, got {len(text)}")
        if method.lower() == "setwebhook":
            if not str(params.get("url", "")).startswith("https://"):
                problems.append("setWebhook: url must be HTTPS")
            if not 8 <= len(str(params.get("secret_token", ""))) <= 256:
                problems.append("setWebhook: secret_token must be 8-256 characters")
        if method.lower() == "getupdates" and self.webhook:
            problems.append("getUpdates: not available while a webhook is set (call deleteWebhook)")
        return problems

    def _ok(self, result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    def _error(self, status: int, description: str) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if status == 429:
            body["parameters"] = {"retry_after": 1}
        return web.json_response(body, status=status)

    # --- methods -----------------------------------------------------------------------

    async def _m_getme(self, params: dict[str, Any], call: Call) -> web.Response:
        return self._ok(BOT_INFO)

    async def _m_getupdates(self, params: dict[str, Any], call: Call) -> web.Response:
        deadline = time.monotonic() + float(params.get("timeout", "30"))
        while not self._queue:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.idle_polls += 1
                call.status = 408
                return self._error(408, "Request timeout")
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=remaining)
        return self._ok(self._queue.pop(0))  # one update per call, as the docs show

    async def _m_sendmessage(self, params: dict[str, Any], call: Call) -> web.Response:
        chat_id = params["chat_id"]
        if chat_id in self.blocked:
            call.status = 403
            return self._error(403, "Forbidden: the user has blocked the bot")
        message = SentMessage(f"out-{next(self._message_ids)}", chat_id, params["text"])
        self.messages.append(message)
        return self._ok({"message_id": message.message_id, "date": int(time.time() * 1000)})

    async def _m_sendchataction(self, params: dict[str, Any], call: Call) -> web.Response:
        return web.json_response({"ok": True})

    async def _m_sendphoto(self, params: dict[str, Any], call: Call) -> web.Response:
        return self._ok({"message_id": f"out-{next(self._message_ids)}", "date": int(time.time() * 1000)})

    _m_sendsticker = _m_sendphoto

    async def _m_setwebhook(self, params: dict[str, Any], call: Call) -> web.Response:
        self.webhook = {"url": params["url"], "secret_token": params["secret_token"]}
        return self._ok({"url": params["url"], "updated_at": int(time.time() * 1000)})

    async def _m_deletewebhook(self, params: dict[str, Any], call: Call) -> web.Response:
        self.webhook = {}
        return self._ok({"url": "", "updated_at": int(time.time() * 1000)})

    async def _m_getwebhookinfo(self, params: dict[str, Any], call: Call) -> web.Response:
        return self._ok({"url": self.webhook.get("url", ""), "updated_at": int(time.time() * 1000)})

    # --- what tests do -----------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates."""
        self._queue.append(update)
        self._new_update.set()
        return update

    def replay(self, update: dict[str, Any]) -> dict[str, Any]:
        """Deliver an update again, unchanged, as the server may after a lost acknowledgement."""
        return self.push(json.loads(json.dumps(update)))

    def inject(self, method: str, status: int, times: int = 1) -> None:
        """The next `times` calls of `method` fail with `status` (5xx, 429)."""
        self._injected.setdefault(method.lower(), []).extend([status] * times)

    async def post_to_webhook(
        self, url: str, update: dict[str, Any], secret: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST an update to the bot as Zalo does; `secret` overrides the registered one."""
        secret = self.webhook.get("secret_token", "") if secret is None else secret
        headers = {"X-Bot-Api-Secret-Token": secret}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=update, headers=headers) as answer,
        ):
            return answer.status, await answer.json()

    def sent_to(self, chat_id: str) -> list[SentMessage]:
        return [message for message in self.messages if message.chat_id == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    async def wait_until(self, condition: Any, within: float = 10.0) -> None:
        """Wait for `condition()` to hold (checked after every call the bot makes)."""
        await wait_until(condition, self._changed, within, lambda: [m.text[:60] for m in self.messages[-5:]])
