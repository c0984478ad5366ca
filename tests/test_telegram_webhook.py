"""Telegram by webhook: the secret, storing before answering, duplicates, recovery."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, text

from bot.app import App
from bot.channels.telegram.runner import SECRET_HEADER, WEBHOOK_PATH, TelegramBot
from storage import inbound
from storage.models import InboundUpdate
from tests.conftest import World
from tests.fakes.local_http import serve_locally
from tests.fakes.telegram_api import FakeTelegram
from tests.support import counted
from tests.telegram_harness import make_telegram_bot

SECRET = "a-long-webhook-secret-0123456789"


@pytest.fixture
async def webhook(app: App, fake: FakeTelegram) -> AsyncIterator[tuple[TelegramBot, str]]:
    app.settings.telegram_webhook_secret = SECRET
    app.settings.telegram_webhook_url = "https://tiepdan.example.gov.vn"
    app.settings.web_host, app.settings.web_port = "127.0.0.1", 0
    telegram = make_telegram_bot(app, fake)
    runner, base_url = await serve_locally(telegram.webhook_app())
    yield telegram, base_url
    await telegram.stop()
    await runner.cleanup()


async def post(url: str, payload: dict[str, Any], secret: str | None = SECRET) -> int:
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + WEBHOOK_PATH, json=payload, headers=headers) as r,
    ):
        return r.status


async def stored(app: App) -> int:
    async with app.sessions() as db:
        return await db.scalar(select(func.count()).select_from(InboundUpdate)) or 0


async def test_wrong_or_missing_secret_is_refused(
    app: App, fake: FakeTelegram, webhook: tuple[TelegramBot, str]
) -> None:
    _, url = webhook
    update = fake.message_update(601, "/start")
    assert await post(url, update, secret="wrong") == 401
    assert await post(url, update, secret=None) == 401
    assert await stored(app) == 0 and fake.sent_to(601) == []


async def test_an_update_is_stored_answered_and_handled_once(
    app: App, world: World, fake: FakeTelegram, webhook: tuple[TelegramBot, str]
) -> None:
    telegram, url = webhook
    update = fake.message_update(602, "/start")
    assert await post(url, update) == 200
    assert await stored(app) == 1  # in the database before the 200 came back
    await fake.wait_until(lambda: fake.sent_to(602))
    assert "Xin chào" in fake.sent_to(602)[0].text
    assert await post(url, update) == 200  # Telegram retries: same update_id
    await telegram.stop()  # waits for anything still being handled
    assert len(fake.sent_to(602)) == 1 and await stored(app) == 1


async def test_not_json_or_not_an_update_is_a_400(
    app: App, fake: FakeTelegram, webhook: tuple[TelegramBot, str]
) -> None:
    _, url = webhook
    async with aiohttp.ClientSession() as http:
        async with http.post(url + WEBHOOK_PATH, data=b"{nope", headers={SECRET_HEADER: SECRET}) as r:
            assert r.status == 400
        async with http.get(url + "/healthz") as r:
            assert r.status == 200 and (await r.json()) == {"ok": True}
    assert await post(url, {"no_update_id": True}) == 400


async def test_an_update_stored_before_a_crash_is_handled_on_restart(
    app: App, world: World, fake: FakeTelegram
) -> None:
    # The previous process stored the update and answered 200, then died.
    update = fake.message_update(603, "/start")
    async with app.sessions() as db, db.begin():
        await inbound.store(db, "telegram", str(update["update_id"]), update, app.clock.now())
    restarted = make_telegram_bot(app, fake)
    assert await restarted.resume_unhandled() == 1
    assert "Xin chào" in fake.sent_to(603)[0].text
    assert await restarted.resume_unhandled() == 0
    await restarted.stop()


async def test_start_webhook_registers_url_secret_and_commands(app: App, fake: FakeTelegram) -> None:
    app.settings.telegram_webhook_secret = SECRET
    app.settings.telegram_webhook_url = "https://tiepdan.example.gov.vn"
    app.settings.web_host, app.settings.web_port = "127.0.0.1", 0
    telegram = make_telegram_bot(app, fake)
    runner = await telegram.start_webhook()
    try:
        assert fake.webhook["url"] == "https://tiepdan.example.gov.vn/telegram/webhook"
        assert fake.webhook["secret_token"] == SECRET
        assert set(fake.commands) == {"vi", "en", ""}
    finally:
        await runner.cleanup()
        await telegram.stop()


async def test_one_update_failing_on_restart_does_not_stop_the_others(
    app: App, world: World, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    # Two updates stored by a process that died; the first one's answer is refused.
    first, second = fake.message_update(604, "/start"), fake.message_update(605, "/start")
    async with app.sessions() as db, db.begin():
        for update in (first, second):
            await inbound.store(db, "telegram", str(update["update_id"]), update, app.clock.now())
    fake.inject("sendMessage", 400, "Bad Request: chat not found")
    restarted = make_telegram_bot(app, fake)
    try:
        assert await restarted.resume_unhandled() == 2  # no exception: the webhook still starts
        # Two citizens' updates are resumed side by side: either may meet the refusal.
        answered = [update for update in (first, second) if fake.sent_to(update["message"]["chat"]["id"])]
        [failed] = [update for update in (first, second) if update not in answered]
        assert len(answered) == 1 and "Xin chào" in fake.sent_to(answered[0]["message"]["chat"]["id"])[0].text
        assert f"telegram update {failed['update_id']} failed" in caplog.text
    finally:
        await restarted.stop()


async def test_a_handled_update_keeps_no_personal_data(
    app: App, world: World, fake: FakeTelegram, webhook: tuple[TelegramBot, str]
) -> None:
    """The payload is kept only until the update is handled: it carries the sender's name and
    what they typed (a CCCD number, a phone), which "delete my data" and retention never reach."""
    telegram, url = webhook
    assert await post(url, fake.message_update(604, "/start")) == 200
    assert await post(url, fake.message_update(604, "079203001234")) == 200
    await telegram.stop()
    async with app.sessions() as db:
        rows = list(await db.scalars(select(InboundUpdate)))
    assert len(rows) == 2 and all(row.handled_at is not None for row in rows)
    assert [row.payload for row in rows] == [{}, {}]


# An update of a kind this aiogram does not know, carrying a name and a phone number.
FUTURE_KIND = {
    "future_thing": {"from": {"id": 2001, "first_name": "PIIFutureName"}, "text": "PIIFUTURE 0911222444"}
}
PERSONAL = ("PIIFutureName", "PIIFUTURE", "0911222444")


def assert_unknown_kind_kept_quiet(
    caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder, update_id: int
) -> None:
    """Logged by its id and kind, its content in no log line and no warning."""
    said = caplog.text + "\n".join(str(warning.message) for warning in recwarn)
    assert not [word for word in PERSONAL if word in said], said
    assert f"telegram update {update_id} of kind future_thing not handled" in caplog.text


async def test_an_update_of_an_unknown_kind_is_marked_handled_without_its_content(
    app: App,
    fake: FakeTelegram,
    webhook: tuple[TelegramBot, str],
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
) -> None:
    caplog.set_level(logging.DEBUG)
    telegram, url = webhook
    assert await post(url, {"update_id": 9001, **FUTURE_KIND}) == 200
    await telegram.stop()
    assert_unknown_kind_kept_quiet(caplog, recwarn, 9001)
    async with app.sessions() as db:
        [row] = list(await db.scalars(select(InboundUpdate)))
    assert row.handled_at is not None and row.payload == {}


@contextlib.asynccontextmanager
async def updates_cannot_be_stored(app: App) -> AsyncIterator[None]:
    """The database refuses to store updates (its table renamed away), then takes them again."""
    async with app.sessions() as db, db.begin():
        await db.execute(text("ALTER TABLE inbound_updates RENAME TO inbound_updates_away"))
    try:
        yield
    finally:
        async with app.sessions() as db, db.begin():
            await db.execute(text("ALTER TABLE inbound_updates_away RENAME TO inbound_updates"))


async def test_an_update_the_database_cannot_take_is_a_503_in_one_line(
    app: App,
    world: World,
    fake: FakeTelegram,
    webhook: tuple[TelegramBot, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Telegram delivers it again: nothing acknowledged is lost, and the log says what
    failed in one line, without the update's text or a traceback."""
    _, url = webhook
    update = fake.message_update(606, "/start Nguyễn Văn Riêng")
    caplog.set_level(logging.INFO)
    async with updates_cannot_be_stored(app):
        assert await post(url, update) == 503
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("telegram webhook: an update could not be stored (")
    assert not any(r.exc_info for r in caplog.records) and "Riêng" not in caplog.text
    assert await post(url, update) == 200  # delivered again: stored and answered
    await fake.wait_until(lambda: fake.sent_to(606))
    assert counted(app, "tiepdan_updates_total", channel="telegram", outcome="unstored") == 1  # /metrics
