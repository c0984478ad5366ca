"""The Zalo Bot API pilot end to end: the real runner over HTTP against the fake Bot API."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bot.app import App
from bot.channels.zalo.bot_api import ZaloBotApi, ZaloBotError, ZaloBotUnauthorized
from bot.channels.zalo.bot_channel import CHANNEL, event_id_of
from bot.channels.zalo.bot_runner import WEBHOOK_PATH, Backoff, ZaloBotRunner
from bot.clock import FrozenClock
from bot.dialog.types import RecipientUnreachable, Reply
from bot.notify import Outbox
from bot.settings import Settings
from storage import inbound
from storage.models import Citizen, InboundUpdate, SignUp, SignUpStatus
from storage.text import fold
from tests.conftest import World
from tests.fakes.zalo_bot_api import TOKEN, FakeZaloBot, SentMessage, sticker_update, text_update
from tests.flows import ID_NUMBER, SUMMARY
from tests.support import counted

FAST = Backoff(first=0.05, factor=1.5, cap=0.2)
NUMBERED = re.compile(r"^\s*(\d+)\. (.+)$")
SECRET = "s3cret-for-the-zalo-webhook-0123456789"


class Finished:
    """Told by the runner when an event is done (replies sent); drivers wait on it."""

    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}

    def expect(self, event_id: str) -> asyncio.Event:
        return self.events.setdefault(event_id, asyncio.Event())

    def __call__(self, event_id: str) -> None:
        self.expect(event_id).set()

    async def wait(self, update: dict[str, Any], within: float = 15.0) -> None:
        await asyncio.wait_for(self.expect(event_id_of(update)).wait(), timeout=within)


def make_runner(app: App, fake: FakeZaloBot, token: str = TOKEN) -> tuple[ZaloBotRunner, Finished]:
    finished = Finished()
    api = ZaloBotApi(token, fake.base_url, retry_base_delay=0.01)
    return ZaloBotRunner(app, api=api, backoff=FAST, on_finished=finished), finished


@dataclass
class ZaloUser:
    """A citizen in the Zalo app: types text, reads what the bot sent them."""

    fake: FakeZaloBot
    finished: Finished
    user_id: str
    seen: int = 0
    last: list[SentMessage] = field(default_factory=list)

    async def deliver(self, update: dict[str, Any]) -> list[SentMessage]:
        self.fake.push(update)
        return await self.read_after(update)

    async def read_after(self, update: dict[str, Any]) -> list[SentMessage]:
        await self.finished.wait(update)
        mine = self.fake.sent_to(self.user_id)
        self.last, self.seen = mine[self.seen :], len(mine)
        return self.last

    async def say(self, text: str) -> list[SentMessage]:
        return await self.deliver(text_update(self.user_id, text))

    async def choose(self, label: str) -> list[SentMessage]:
        """Type the number of the first option whose label contains `label`."""
        return await self.say(str(self.number_of(label)))

    def number_of(self, label: str) -> int:
        options = [match.groups() for line in self.text.splitlines() if (match := NUMBERED.match(line))]
        for number, option in options:
            if fold(label) in fold(option):
                return int(number)
        raise AssertionError(f"no option {label!r} in {options}")

    @property
    def text(self) -> str:
        return "\n".join(message.text for message in self.last)


@pytest.fixture
async def fake() -> AsyncIterator[FakeZaloBot]:
    server = FakeZaloBot()
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], server.violations  # strict: any bad request fails the test


@dataclass
class Polling:
    runner: ZaloBotRunner
    finished: Finished
    task: asyncio.Task[None]

    def user(self, fake: FakeZaloBot, user_id: str) -> ZaloUser:
        return ZaloUser(fake, self.finished, user_id)


@pytest.fixture
async def polling(app: App, fake: FakeZaloBot) -> AsyncIterator[Polling]:
    app.settings.zalo_bot_polling_timeout = 1
    runner, finished = make_runner(app, fake)
    task = asyncio.create_task(runner.run_polling())
    await fake.wait_until(lambda: fake.calls_of("getUpdates"))
    yield Polling(runner, finished, task)
    await runner.stop()
    await asyncio.wait_for(task, timeout=10)


async def consent(user: ZaloUser) -> None:
    await user.say("/start")
    assert "  1. Tiếng Việt\n  2. English" in user.text
    await user.choose("Tiếng Việt")
    await user.choose("Tôi đồng ý")
    assert "DANH MỤC CHÍNH" in user.text


async def fill_until_review(user: ZaloUser, summary: str = SUMMARY) -> None:
    await user.choose("Đăng ký tiếp công dân")
    await user.say("tan binh")
    await user.choose("Phường Tân Bình")
    await user.choose("07/12/2026")
    await user.say("Nguyễn Văn An")
    await user.say("0912 345 678")
    await user.say(ID_NUMBER)
    await user.say("12 Lý Thường Kiệt, phường Tân Bình")
    await user.choose("Khiếu nại")
    await user.choose("Đất đai")
    await user.say(summary)
    await user.choose("Xong")
    await user.choose("Chưa có cơ quan nào")
    await user.choose("Chỉ mình tôi")


# --- polling ---------------------------------------------------------------------------


async def test_a_citizen_registers_by_typing_numbers(
    app: App, world: World, fake: FakeZaloBot, polling: Polling
) -> None:
    user = polling.user(fake, "e4ea2cd5189df1c3a88c")
    await consent(user)
    await fill_until_review(user)
    await user.choose("Xác nhận")
    assert "ĐĂNG KÝ THÀNH CÔNG" in user.text and "TCD-2026-000001" in user.text

    async with app.sessions() as db:
        registration = await db.scalar(select(SignUp))
        citizen = await db.scalar(select(Citizen))
    assert registration is not None and registration.status == SignUpStatus.CONFIRMED
    assert registration.case.phone == "+84912345678"
    assert citizen is not None and (citizen.channel, citizen.channel_user_id) == (CHANNEL, user.user_id)
    assert fake.calls_of("deleteWebhook"), "polling starts by removing any webhook"


async def test_a_reply_over_2000_characters_is_split_on_line_ends(
    app: App, world: World, fake: FakeZaloBot, polling: Polling
) -> None:
    user = polling.user(fake, "u-long")
    await consent(user)
    paragraph = "Gia đình tôi bị thu hồi đất nhưng chưa được bồi thường theo quyết định số 12/QĐ."
    summary = "\n".join(f"{n}. {paragraph}" for n in range(1, 31))  # about 2,600 characters
    await fill_until_review(user, summary)
    assert len(user.last) >= 2, "the review screen holds the whole summary: more than one message"
    assert all(len(message.text) <= 2000 for message in user.last)
    assert user.text.count(paragraph) == 30  # nothing lost, no line cut in two
    await user.choose("Xác nhận")
    assert "ĐĂNG KÝ THÀNH CÔNG" in user.text


async def test_an_idle_poll_answered_408_is_not_an_error(
    app: App, world: World, fake: FakeZaloBot, polling: Polling, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await fake.wait_until(lambda: fake.idle_polls >= 2, within=5)
    user = polling.user(fake, "u-idle")
    await user.say("/start")
    assert "Tiếng Việt" in user.text
    assert not polling.task.done()
    assert not [record for record in caplog.records if record.name.startswith("bot.channels.zalo")]


async def test_a_replayed_update_is_handled_once(
    app: App, world: World, fake: FakeZaloBot, polling: Polling
) -> None:
    user = polling.user(fake, "u-replay")
    await consent(user)
    choice = text_update(user.user_id, str(user.number_of("Đăng ký tiếp công dân")))
    await user.deliver(choice)
    assert "điểm cầu" in user.text.lower()
    fake.replay(choice)  # "1" again would pick the first endpoint if it were handled twice
    await user.say("tan binh")  # fetched after the replay, which is stored once and not handled
    assert len(user.last) == 1 and "Phường Tân Bình" in user.text


async def test_server_errors_and_rate_limits_are_waited_out(
    app: App, world: World, fake: FakeZaloBot, polling: Polling, caplog: pytest.LogCaptureFixture
) -> None:
    fake.inject("getUpdates", 502, times=2)
    fake.inject("sendMessage", 429)
    fake.inject("sendMessage", 500)
    user = polling.user(fake, "u-errors")
    await user.say("/start")
    assert "Tiếng Việt" in user.text
    statuses = [call.status for call in fake.calls_of("sendMessage")]
    assert statuses[:3] == [429, 500, 200]
    assert counted(app, "tiepdan_rate_limited_total", channel="zalo_bot") == 1  # shown at /metrics
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_other_events_and_group_chats(
    app: App, world: World, fake: FakeZaloBot, polling: Polling
) -> None:
    user = polling.user(fake, "u-sticker")
    await consent(user)
    await user.deliver(sticker_update(user.user_id))
    assert "DANH MỤC CHÍNH" in user.text  # a sticker is answered, and the menu asked again
    assert "chọn một mục trong danh mục" in user.text and "không nhận tệp" not in user.text  # no file
    group = text_update("u-group", "/start", chat_type="GROUP")
    fake.push(group)
    await polling.finished.wait(group)
    assert fake.sent_to("u-group") == []
    async with app.sessions() as db:
        assert await inbound.unhandled(db, CHANNEL) == []


async def test_an_update_with_a_malformed_field_is_answered_and_marked_handled(
    app: App, world: World, fake: FakeZaloBot, polling: Polling
) -> None:
    user = polling.user(fake, "u-malformed")
    await consent(user)
    update = text_update(user.user_id, "/menu")
    update["message"]["chat"] = None
    await user.deliver(update)
    assert "DANH MỤC CHÍNH" in user.text
    async with app.sessions() as db:
        assert await inbound.unhandled(db, CHANNEL) == []  # nothing left to fail at every start


async def test_a_photo_is_told_that_this_chat_takes_no_files_at_all(
    app: App, world: World, fake: FakeZaloBot, polling: Polling
) -> None:
    user = polling.user(fake, "u-photo")
    await consent(user)
    photo = text_update(user.user_id, "")
    photo["event_name"] = "message.image.received"
    del photo["message"]["text"]
    photo["message"] |= {"photo_url": "https://zalo.example/p.jpg", "caption": "đơn"}
    await user.deliver(photo)
    # No attachments step is ever asked on this channel: it is not promised.
    assert "Tệp đính kèm" not in user.text and "không nhận tệp" in user.text
    assert "DANH MỤC CHÍNH" in user.text


async def test_a_blocked_citizen_is_marked_unreachable(
    app: App, world: World, fake: FakeZaloBot, polling: Polling
) -> None:
    user = polling.user(fake, "u-blocked")
    await user.say("/start")
    fake.blocked.add(user.user_id)
    with pytest.raises(RecipientUnreachable):
        await polling.runner.channel.send(user.user_id, [Reply("Nhắc lịch")])
    async with app.sessions() as db:
        citizen = await db.scalar(select(Citizen).where(Citizen.channel_user_id == user.user_id))
    assert citizen is not None and citizen.unreachable


async def test_outbox_reminders_go_out_as_text(
    app: App, world: World, fake: FakeZaloBot, polling: Polling, clock: FrozenClock
) -> None:
    user = polling.user(fake, "u-reminded")
    await consent(user)
    await fill_until_review(user)
    await user.choose("Xác nhận")
    channel = polling.runner.channel
    outbox = Outbox(app.sessions, app.settings, app.clock, {channel.name: channel})
    clock.set(world.first_start - timedelta(hours=20))
    assert await outbox.send_due() == 1
    [reminder] = fake.sent_to(user.user_id)[user.seen :]
    assert "TCD-2026-000001" in reminder.text


async def test_a_wrong_token_stops_polling_without_showing_it(app: App, fake: FakeZaloBot) -> None:
    wrong = "1459232241454765289:not-the-right-secret"
    runner, _ = make_runner(app, fake, token=wrong)
    with pytest.raises(ZaloBotUnauthorized) as raised:
        await asyncio.wait_for(runner.run_polling(), timeout=10)
    assert "not-the-right-secret" not in str(raised.value) and "not-the-right-secret" not in repr(runner.api)
    await runner.stop()


async def test_a_message_over_the_limit_is_refused_before_sending(fake: FakeZaloBot) -> None:
    api = ZaloBotApi(TOKEN, fake.base_url)
    try:
        with pytest.raises(ValueError, match="1-2000"):
            await api.send_message("u1", "x" * 2001)
        await api.send_message("u1", "x" * 2000)
    finally:
        await api.close()
    assert [len(message.text) for message in fake.messages] == [2000]


# --- webhook ---------------------------------------------------------------------------


@dataclass
class Webhook:
    runner: ZaloBotRunner
    finished: Finished
    url: str


@pytest.fixture
async def webhook(app: App, fake: FakeZaloBot) -> AsyncIterator[Webhook]:
    app.settings.zalo_bot_webhook_url = "https://tiepdan.example.gov.vn"
    app.settings.zalo_bot_webhook_secret = SECRET
    runner, finished = make_runner(app, fake)
    application = web.Application()
    runner.add_routes(application)
    server = TestServer(application)
    await server.start_server()
    await runner.start_webhook()
    yield Webhook(runner, finished, str(server.make_url(WEBHOOK_PATH)))
    await runner.stop()
    await server.close()


async def stored_updates(app: App) -> int:
    async with app.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(InboundUpdate)) or 0)


async def test_webhook_checks_the_secret_and_handles_a_duplicate_once(
    app: App, world: World, fake: FakeZaloBot, webhook: Webhook
) -> None:
    assert fake.webhook == {"url": f"https://tiepdan.example.gov.vn{WEBHOOK_PATH}", "secret_token": SECRET}
    start = text_update("u-hook", "/start")
    assert await fake.post_to_webhook(webhook.url, start, secret="wrong-secret") == (
        401,
        {"ok": False, "error": "unauthorized"},
    )
    assert await stored_updates(app) == 0

    assert (await fake.post_to_webhook(webhook.url, start))[0] == 200
    await webhook.finished.wait(start)
    assert len(fake.sent_to("u-hook")) == 1
    # Delivered again, in the envelope some deliveries use: acknowledged, not answered twice.
    assert (await fake.post_to_webhook(webhook.url, {"ok": True, "result": start}))[0] == 200
    await webhook.runner.inbound.wait_idle()
    assert len(fake.sent_to("u-hook")) == 1
    assert (await fake.post_to_webhook(webhook.url, {"not": "an update"}))[0] == 400


async def test_webhook_resumes_updates_stored_before_a_crash(
    app: App, world: World, fake: FakeZaloBot, webhook: Webhook
) -> None:
    update = text_update("u-crash", "/start")
    async with app.sessions() as db, db.begin():  # stored and acknowledged, then the process died
        await inbound.store(db, CHANNEL, event_id_of(update), update, app.clock.now())
    await webhook.runner.start_webhook()
    await webhook.finished.wait(update)
    assert "Tiếng Việt" in fake.sent_to("u-crash")[0].text


# --- settings --------------------------------------------------------------------------


def test_the_zalo_bot_is_off_by_default() -> None:
    settings = Settings(_env_file=None)
    assert settings.zalo_bot_token == ""
    assert settings.zalo_bot_api_base == "https://bot-api.zaloplatforms.com"
    assert settings.zalo_bot_webhook_url == "" and settings.zalo_bot_polling_timeout == 30


def test_client_errors_never_carry_the_token() -> None:
    error = ZaloBotError("sendMessage", 400, "bad")
    assert str(error) == "sendMessage: 400 bad"
    with pytest.raises(ValueError, match="ZALO_BOT_TOKEN"):
        ZaloBotApi("")


POSTGRES = "postgresql+asyncpg://tiepdan@db-host/tiepdan"


@pytest.mark.parametrize(
    ("values", "refused"),
    [
        ({"zalo_bot_token": "1:change-me"}, "ZALO_BOT_TOKEN"),
        ({"zalo_bot_webhook_url": "https://tiepdan.example.gov.vn"}, "ZALO_BOT_WEBHOOK_SECRET"),
    ],
)
def test_production_refuses_example_or_missing_zalo_bot_secrets(values: dict[str, Any], refused: str) -> None:
    settings = Settings(_env_file=None, environment="production", database_url=POSTGRES, **values)
    with pytest.raises(ValueError, match=refused):
        settings.check_production_secrets()
