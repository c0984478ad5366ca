"""A fake Telegram Bot API server speaking real HTTP on localhost.

It validates every call against the machine-readable Bot API spec
(`tests/fakes/telegram_spec/bot-api-spec.json`, a vendored copy): the method exists, required fields are
present, types match (recursively, for keyboards and commands), text is 1–4096
characters, callback_data is 1–64 bytes. A violating call gets the 400 Telegram
would give and is recorded; tests fail on any violation. It serves getUpdates
(long polling) from a queue, keeps sent messages and their keyboards, and can
inject 429 (with retry_after), 403 (blocked) and 5xx answers. Edits are refused as Telegram
refuses them, in its words: a message it does not have in that chat ("message to edit not
found"), one sent with a reply keyboard or ReplyKeyboardRemove ("message can't be edited"), a
file's text ("there is no text in the message to edit"), an edit that changes nothing
("message is not modified: ..."), any edit in a chat that blocked the bot (403). `shown`
keeps, in order, each message as the user saw it appear: sent, or edited into new text.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.local_http import serve_locally, wait_until

SPEC_PATH = Path(__file__).resolve().parent / "telegram_spec" / "bot-api-spec.json"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Tiếp dân", "username": "tiepdan_test_bot"}
TOKEN = "123456:TEST-token_for-the-fake-server"
COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
# Telegram's words, exactly: an edit that changes nothing is refused.
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


def decoded(value: Any) -> Any:
    """An object field: JSON text in a form, already an object in a JSON body."""
    return json.loads(value) if isinstance(value, str) else value


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200
    content_type: str = ""  # how the request came: JSON, a form, or multipart with files
    at: float = field(default_factory=time.monotonic)  # when it arrived


@dataclass
class Injected:
    status: int
    description: str
    retry_after: int | None = None
    html: bool = False
    performed: bool = False  # the call takes effect, then its answer is lost (a gateway's 502)


@dataclass
class SentMessage:
    message_id: int
    chat_id: int
    text: str
    reply_markup: dict[str, Any] | None
    document: str | None = None


@dataclass
class Shown:
    """A message as it appeared in the chat: a copy as it was then, and the text the user read
    anew (all of it when sent; what an edit put after the text already there)."""

    message: SentMessage
    new_text: str


class Validator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.methods = {name.lower(): method for name, method in spec["methods"].items()}
        self.types = spec["types"]

    def check_call(self, method: str, params: dict[str, Any], *, form: bool = True) -> list[str]:
        """`form`: the call came as a form (every field text); else as JSON, typed."""
        spec = self.methods.get(method.lower())
        if spec is None:
            return [f"unknown method {method}"]
        problems: list[str] = []
        fields = {f["name"]: f for f in spec.get("fields", [])}
        for name in params:
            if name not in fields:
                problems.append(f"{method}: unknown field {name}")
        for name, spec_field in fields.items():
            if name not in params:
                if spec_field["required"]:
                    problems.append(f"{method}: required field {name} missing")
                continue
            problems += self.check_value(f"{method}.{name}", params[name], spec_field["types"], form=form)
        if method.lower() in ("sendmessage", "editmessagetext"):
            text = params.get("text", "")
            if not 1 <= len(str(text)) <= 4096:
                problems.append(f"{method}: text length {len(str(text))} outside 1-4096")
        return problems

    def check_value(self, where: str, value: Any, types: list[str], form: bool = False) -> list[str]:
        """`form`: top-level form fields arrive as strings; objects as JSON text."""
        attempts = [self._check_one(where, value, type_name, form) for type_name in types]
        if any(not problems for problems in attempts):
            return []
        return min(attempts, key=len)

    def _check_one(self, where: str, value: Any, type_name: str, form: bool) -> list[str]:
        if type_name.startswith("Array of "):
            if form and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    return [f"{where}: not JSON"]
            if not isinstance(value, list):
                return [f"{where}: expected {type_name}"]
            inner = type_name[len("Array of ") :]
            return [
                p
                for i, item in enumerate(value)
                for p in self._check_one(f"{where}[{i}]", item, inner, False)
            ]
        if type_name == "Integer":
            if form and isinstance(value, str):
                return [] if re.fullmatch(r"-?\d+", value) else [f"{where}: expected Integer, got {value!r}"]
            return (
                []
                if isinstance(value, int) and not isinstance(value, bool)
                else [f"{where}: expected Integer"]
            )
        if type_name == "Float":
            if form and isinstance(value, str):
                try:
                    float(value)
                    return []
                except ValueError:
                    return [f"{where}: expected Float"]
            return (
                []
                if isinstance(value, int | float) and not isinstance(value, bool)
                else [f"{where}: expected Float"]
            )
        if type_name == "Boolean":
            if form and isinstance(value, str):
                return [] if value in ("true", "false", "True", "False") else [f"{where}: expected Boolean"]
            return [] if isinstance(value, bool) else [f"{where}: expected Boolean"]
        if type_name == "String":
            return [] if isinstance(value, str) else [f"{where}: expected String"]
        if type_name == "InputFile":
            return [] if isinstance(value, FileUpload) else [f"{where}: expected an uploaded file"]
        spec_type = self.types.get(type_name)
        if spec_type is None:
            return [f"{where}: unknown type {type_name}"]
        if form and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return [f"{where}: {type_name} is not JSON"]
        if "subtypes" in spec_type:
            return self.check_value(where, value, spec_type["subtypes"])
        if not isinstance(value, dict):
            return [f"{where}: expected {type_name} object"]
        fields = {f["name"]: f for f in spec_type.get("fields", [])}
        problems = [f"{where}: unknown field {name} of {type_name}" for name in value if name not in fields]
        for name, spec_field in fields.items():
            if name not in value:
                if spec_field["required"]:
                    problems.append(f"{where}: {type_name}.{name} missing")
                continue
            problems += self.check_value(f"{where}.{name}", value[name], spec_field["types"])
        if type_name == "InlineKeyboardButton" and "callback_data" in value:
            size = len(str(value["callback_data"]).encode())
            if not 1 <= size <= 64:
                problems.append(f"{where}: callback_data is {size} bytes, outside 1-64")
        if type_name == "BotCommand":
            if not COMMAND_NAME.match(str(value.get("command", ""))):
                problems.append(f"{where}: bad command name {value.get('command')!r}")
            if not 1 <= len(str(value.get("description", ""))) <= 256:
                problems.append(f"{where}: command description length outside 1-256")
        return problems


def user(user_id: int, language_code: str = "vi") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Công dân", "language_code": language_code}


_message_ids = itertools.count(1_000_000)  # citizens' messages; the bot's start at 1000


def message_update(
    user_id: int, text: str | None = None, language_code: str = "vi", **extra: Any
) -> dict[str, Any]:
    """A private-chat message from a citizen, without update_id (the server numbers updates)."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": "Công dân"},
        "from": user(user_id, language_code),
        **extra,
    }
    if text is not None:
        message["text"] = text
    return {"message": message}


def callback_update(user_id: int, message: dict[str, Any], data: str) -> dict[str, Any]:
    """A button press on `message` (as the Bot API returned it), without update_id."""
    return {
        "callback_query": {
            "id": f"cb-{time.monotonic_ns()}",
            "from": user(user_id),
            "message": message,
            "chat_instance": "ci",
            "data": data,
        }
    }


@dataclass
class FileUpload:
    filename: str
    size: int


@dataclass
class FakeTelegram:
    """Start with `await fake.start()`; point the bot at `fake.base_url`."""

    strict: bool = True
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    shown: list[Shown] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    webhook: dict[str, Any] = field(default_factory=dict)
    # What getWebhookInfo reports besides the URL: updates waiting, the last failed delivery.
    webhook_pending: int = 0
    webhook_last_error: tuple[int, str] | None = None  # (unix time, Telegram's words)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    chat_commands: dict[tuple[int, str], list[dict[str, Any]]] = field(default_factory=dict)

    per_second_limit: float | None = None  # like Telegram's ~30 msg/s per bot: 429 above it
    delay: float = 0.0  # seconds before each answer: a real round trip

    def __post_init__(self) -> None:
        self.validator = Validator(load_spec())
        self._updates: list[dict[str, Any]] = []
        self._redelivered: list[dict[str, Any]] = []  # sent again whatever the offset
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._changed = asyncio.Event()
        self._injected: dict[str, list[Injected]] = {}
        self._runner: web.AppRunner | None = None
        self._recent_sends: collections.deque[float] = collections.deque()
        self.base_url = ""
        self.offline = False

    # --- server --------------------------------------------------------------------

    async def start(self) -> str:
        return await self.start_on(0)

    async def start_on(self, port: int) -> str:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_post("/control/updates", self._control_push)
        app.router.add_get("/control/violations", self._control_violations)
        app.router.add_get("/control/stats", self._control_stats)
        app.router.add_get("/control/keyboard/{chat_id}", self._control_keyboard)
        app.router.add_get("/control/chat/{chat_id}", self._control_chat)
        self._runner, self.base_url = await serve_locally(app, port)
        return self.base_url

    async def stop(self) -> None:
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _control_push(self, request: web.Request) -> web.Response:
        """For a driver in another process: queue an update, get its update_id."""
        update = self._push(await request.json())
        return web.json_response({"update_id": update["update_id"]})

    async def _control_violations(self, request: web.Request) -> web.Response:
        return web.json_response(self.violations)

    async def _control_stats(self, request: web.Request) -> web.Response:
        """For a benchmark: answers by status, and messages per chat."""
        statuses = collections.Counter(str(call.status) for call in self.calls_of("sendMessage"))
        per_chat = collections.Counter(message.chat_id for message in self.messages)
        return web.json_response(
            {
                "statuses": statuses,
                "duplicates": sum(1 for n in per_chat.values() if n > 1),
                "chats": len(per_chat),
            }
        )

    async def _control_chat(self, request: web.Request) -> web.Response:
        """For a driver in another process, to explain a conversation gone astray: the calls
        made for one chat, in order, with their status and text."""
        chat_id = str(request.match_info["chat_id"])
        calls = [
            {
                "method": call.method,
                "status": call.status,
                "text": str(call.params.get("text", "")),
                "reply_markup": call.params.get("reply_markup"),
            }
            for call in self.calls
            if str(call.params.get("chat_id", "")) == chat_id
        ]
        return web.json_response(calls)

    async def _control_keyboard(self, request: web.Request) -> web.Response:
        """For a driver in another process: the last message with an inline keyboard in a chat,
        as the Bot API returned it (what a client shows the buttons of), or null."""
        chat_id = int(request.match_info["chat_id"])
        for message in reversed(self.messages):
            if (
                message.chat_id == chat_id
                and message.reply_markup
                and "inline_keyboard" in message.reply_markup
            ):
                return web.json_response(self._message_json(message))
        return web.json_response(None)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            body = await request.json()
            return dict(body) if isinstance(body, dict) else {}
        params: dict[str, Any] = {}
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.filename:  # type: ignore[union-attr]
                    content = await part.read()  # type: ignore[union-attr]
                    params[part.name] = FileUpload(part.filename, len(content))  # type: ignore[union-attr]
                else:
                    params[part.name] = await part.text()  # type: ignore[union-attr]
            # A file may come as its own part named in the field ("attach://<part>"), as
            # aiogram uploads every file and Telegram takes it.
            for name, value in list(params.items()):
                if isinstance(value, str) and value.startswith("attach://"):
                    part_name = value.removeprefix("attach://")
                    if isinstance(params.get(part_name), FileUpload):
                        params[name] = params.pop(part_name)
            return params
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != TOKEN:
            return self._error(401, "Unauthorized")
        params = await self._params(request)
        call = Call(method, params, content_type=request.content_type)
        self.calls.append(call)
        # Counted on arrival, as a server does; answered after the round trip either way.
        over_limit = bool(self.per_second_limit) and method.lower() == "sendmessage" and self._over_limit()
        if self.delay:
            await asyncio.sleep(self.delay)
        if over_limit:
            call.status = 429
            return self._error(429, "Too Many Requests: retry after 1", retry_after=1)
        if self.offline and method.lower() == "getupdates":
            call.status = 502
            return web.Response(status=502, text="<html>502 Bad Gateway</html>", content_type="text/html")
        as_form = call.content_type != "application/json"
        injected = self._injected.get(method.lower())
        if injected:
            failure = injected.pop(0)
            if failure.performed and not self.validator.check_call(method, params, form=as_form):
                handler = getattr(self, f"_m_{method.lower()}", None)
                if handler is not None:
                    await handler(params, call)
                    self._changed.set()
            call.status = failure.status
            if failure.html:
                return web.Response(status=failure.status, text="<html>oops</html>", content_type="text/html")
            return self._error(failure.status, failure.description, failure.retry_after)
        problems = self.validator.check_call(method, params, form=as_form)
        if problems:
            self.violations += problems
            call.status = 400
            return self._error(400, "Bad Request: " + "; ".join(problems))
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            return self._ok(True)
        response: web.Response = await handler(params, call)
        self._changed.set()
        return response

    def _over_limit(self) -> bool:
        now = time.monotonic()
        while self._recent_sends and now - self._recent_sends[0] >= 1.0:
            self._recent_sends.popleft()
        if self.per_second_limit is not None and len(self._recent_sends) >= self.per_second_limit:
            return True
        self._recent_sends.append(now)
        return False

    def _ok(self, result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    def _error(self, status: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    # --- methods -------------------------------------------------------------------

    async def _m_getme(self, params: dict[str, Any], call: Call) -> web.Response:
        return self._ok(BOT_USER)

    async def _m_deletewebhook(self, params: dict[str, Any], call: Call) -> web.Response:
        self.webhook = {}
        return self._ok(True)

    async def _m_getwebhookinfo(self, params: dict[str, Any], call: Call) -> web.Response:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": self.webhook_pending,
        }
        if self.webhook_last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.webhook_last_error
        return self._ok(info)

    async def _m_setwebhook(self, params: dict[str, Any], call: Call) -> web.Response:
        self.webhook = params
        return self._ok(True)

    async def _m_setmycommands(self, params: dict[str, Any], call: Call) -> web.Response:
        language, commands = str(params.get("language_code", "")), decoded(params["commands"])
        scope = decoded(params.get("scope"))
        if scope and scope.get("type") == "chat":
            self.chat_commands[(int(scope["chat_id"]), language)] = commands
        else:
            self.commands[language] = commands
        return self._ok(True)

    async def _m_deletemycommands(self, params: dict[str, Any], call: Call) -> web.Response:
        """The chat (or the language) falls back to the wider scope's commands."""
        language = str(params.get("language_code", ""))
        scope = decoded(params.get("scope"))
        if scope and scope.get("type") == "chat":
            self.chat_commands.pop((int(scope["chat_id"]), language), None)
        else:
            self.commands.pop(language, None)
        return self._ok(True)

    async def _m_answercallbackquery(self, params: dict[str, Any], call: Call) -> web.Response:
        return self._ok(True)

    async def _m_getupdates(self, params: dict[str, Any], call: Call) -> web.Response:
        if self.webhook:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset", 0) or 0)
        timeout = float(params.get("timeout", 0) or 0)
        deadline = time.monotonic() + timeout
        while True:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            if self._redelivered:
                again, self._redelivered = self._redelivered, []
                return self._ok(again)
            if self._updates or time.monotonic() >= deadline:
                return self._ok(self._updates[:100])
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=max(0.0, deadline - time.monotonic()))

    def _chat_id(self, params: dict[str, Any]) -> int:
        return int(params["chat_id"])

    async def _m_sendmessage(self, params: dict[str, Any], call: Call) -> web.Response:
        chat_id = self._chat_id(params)
        if chat_id in self.blocked:
            call.status = 403
            return self._error(403, "Forbidden: bot was blocked by the user")
        markup = decoded(params.get("reply_markup"))
        message = SentMessage(next(self._message_ids), chat_id, params["text"], markup)
        self.messages.append(message)
        self.shown.append(Shown(copy.deepcopy(message), message.text))
        return self._ok(self._message_json(message))

    async def _m_sendphoto(self, params: dict[str, Any], call: Call) -> web.Response:
        params = dict(params, document=params["photo"])
        return await self._m_senddocument(params, call)

    async def _m_senddocument(self, params: dict[str, Any], call: Call) -> web.Response:
        chat_id = self._chat_id(params)
        if chat_id in self.blocked:
            call.status = 403
            return self._error(403, "Forbidden: bot was blocked by the user")
        upload = params["document"]
        name = upload.filename if isinstance(upload, FileUpload) else str(upload)
        message = SentMessage(next(self._message_ids), chat_id, "", None, document=name)
        self.messages.append(message)
        self.shown.append(Shown(copy.deepcopy(message), ""))
        result = self._message_json(message) | {
            "document": {"file_id": f"doc-{message.message_id}", "file_unique_id": "u", "file_name": name}
        }
        return self._ok(result)

    async def _m_editmessagereplymarkup(self, params: dict[str, Any], call: Call) -> web.Response:
        message, refused = self._editable(params, call)
        if message is None:
            return refused
        markup = decoded(params.get("reply_markup"))
        if markup == message.reply_markup:
            call.status = 400
            return self._error(400, NOT_MODIFIED)
        message.reply_markup = markup
        return self._ok(self._message_json(message))

    async def _m_editmessagetext(self, params: dict[str, Any], call: Call) -> web.Response:
        message, refused = self._editable(params, call)
        if message is None:
            return refused
        if message.document is not None:
            call.status = 400
            return self._error(400, "Bad Request: there is no text in the message to edit")
        if not params.get("text"):
            call.status = 400
            return self._error(400, "Bad Request: message text is empty")
        markup = decoded(params.get("reply_markup"))
        if params["text"] == message.text and markup == message.reply_markup:
            call.status = 400
            return self._error(400, NOT_MODIFIED)
        before, message.text, message.reply_markup = message.text, params["text"], markup
        added = message.text.removeprefix(before).lstrip("\n")  # all of it, if not added to before
        self.shown.append(Shown(copy.deepcopy(message), added))
        return self._ok(self._message_json(message))

    def _editable(self, params: dict[str, Any], call: Call) -> tuple[SentMessage | None, web.Response]:
        """The bot's message to edit, or the refusal Telegram gives: a chat that blocked the bot,
        no such message in the chat, or one sent with a reply keyboard or ReplyKeyboardRemove
        (only messages with an inline keyboard or none can be edited). Inline messages
        (`inline_message_id`) are not the bot's kind: the chat and message must be named."""
        if "chat_id" not in params or "message_id" not in params:
            call.status = 400
            return None, self._error(400, "Bad Request: message identifier is not specified")
        if self._chat_id(params) in self.blocked:
            call.status = 403
            return None, self._error(403, "Forbidden: bot was blocked by the user")
        message = self.message(int(params["message_id"]))
        if message is None or message.chat_id != self._chat_id(params):
            call.status = 400
            return None, self._error(400, "Bad Request: message to edit not found")
        if message.reply_markup is not None and "inline_keyboard" not in message.reply_markup:
            call.status = 400
            return None, self._error(400, "Bad Request: message can't be edited")
        return message, self._ok(True)

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private", "first_name": "Công dân"},
            "from": BOT_USER,
        }
        if message.text:
            result["text"] = message.text
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = message.reply_markup
        return result

    # --- what tests do ---------------------------------------------------------------

    def inject(
        self,
        method: str,
        status: int,
        description: str = "",
        retry_after: int | None = None,
        times: int = 1,
        html: bool = False,
        performed: bool = False,
    ) -> None:
        description = description or {
            429: "Too Many Requests: retry after 1",
            403: "Forbidden: bot was blocked by the user",
        }.get(status, "Internal Server Error")
        self._injected.setdefault(method.lower(), []).extend(
            Injected(status, description, retry_after, html, performed) for _ in range(times)
        )

    def redeliver(self, update: dict[str, Any]) -> None:
        """Deliver an update a second time, as Telegram may after a lost confirmation."""
        self._redelivered.append(update)
        self._new_update.set()

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates, numbering it as Telegram does."""
        update = {"update_id": next(self._update_ids), **update}
        self._updates.append(update)
        self._new_update.set()
        return update

    def push_update(self, **fields: Any) -> dict[str, Any]:
        """Queue an update of any kind, even one no Bot API version has (yet)."""
        return self._push(fields)

    def message_update(
        self, user_id: int, text: str | None = None, language_code: str = "vi", **extra: Any
    ) -> dict[str, Any]:
        """A message update, not queued (for posting to a webhook)."""
        return {"update_id": next(self._update_ids), **message_update(user_id, text, language_code, **extra)}

    def push_message(
        self, user_id: int, text: str | None = None, language_code: str = "vi", **extra: Any
    ) -> dict[str, Any]:
        return self._push(message_update(user_id, text, language_code, **extra))

    def push_contact(self, user_id: int, phone: str, owner: int | None = None) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": "Công dân", "user_id": owner or user_id}
        return self.push_message(user_id, contact=contact)

    def push_document(self, user_id: int, name: str, mime_type: str, size: int) -> dict[str, Any]:
        document = {
            "file_id": f"file-{name}",
            "file_unique_id": f"u-{name}",
            "file_name": name,
            "mime_type": mime_type,
            "file_size": size,
        }
        return self.push_message(user_id, document=document)

    def push_callback(self, user_id: int, message: SentMessage, data: str) -> dict[str, Any]:
        return self._push(callback_update(user_id, self._message_json(message), data))

    def push_member(self, user_id: int, status: str) -> dict[str, Any]:
        old = "member" if status == "kicked" else "kicked"
        member = lambda s: {"status": s, "user": BOT_USER} | ({"until_date": 0} if s == "kicked" else {})  # noqa: E731
        return self._push(
            {
                "my_chat_member": {
                    "chat": {"id": user_id, "type": "private", "first_name": "Công dân"},
                    "from": user(user_id),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(status),
                }
            }
        )

    def message(self, message_id: int) -> SentMessage | None:
        return next((m for m in self.messages if m.message_id == message_id), None)

    def keyboard_of(self, chat_id: int) -> SentMessage | None:
        """The message that last appeared in the chat (sent, or edited) with inline buttons now."""
        for shown in reversed(self.shown):
            message = self.message(shown.message.message_id)
            markup = message.reply_markup if message is not None and message.chat_id == chat_id else None
            if markup and "inline_keyboard" in markup:
                return message
        return None

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.messages if m.chat_id == chat_id]

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    async def wait_until(self, condition: Any, within: float = 10.0) -> None:
        """Wait for `condition()` to hold (checked after every call the bot makes)."""
        await wait_until(condition, self._changed, within, lambda: [m.text[:60] for m in self.messages[-5:]])


async def serve(
    port: int, per_second_limit: float | None = None, delay: float = 0.0, first_update_id: int = 1
) -> None:
    """Run standalone (a benchmark puts the fake in its own process, as the real API is).
    Two bots on one database need update ids apart (`first_update_id`), as two bots have."""
    fake = FakeTelegram(per_second_limit=per_second_limit, delay=delay)
    fake._update_ids = itertools.count(first_update_id)
    await fake.start_on(port)
    print(f"PORT {fake.base_url.rsplit(':', 1)[1]}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="fake Telegram Bot API server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--per-second-limit", type=float, default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--first-update-id", type=int, default=1)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.per_second_limit, args.delay, args.first_update_id))
