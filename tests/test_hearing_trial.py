"""Defects found by using the explanation hearings as their users do (the trial of issue 13),
each pinned by a test that failed before its fix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.app import App, build_app
from bot.channels.telegram.runner import TelegramBot
from bot.clock import FrozenClock
from tests.conftest import local, make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram_harness import make_telegram_bot
from tests.test_hearing_reports import ADMIN_TG, CONSOLE_ADMIN, DELEGATE, a_hearing, tick


@pytest.fixture
async def hearing_app(database_url: str, clock: FrozenClock) -> AsyncIterator[App]:
    settings = make_settings(database_url, admins=f"telegram:{ADMIN_TG},test:{CONSOLE_ADMIN}")
    settings.telegram_polling_timeout = 1
    app = build_app(settings, clock)
    yield app
    await app.close()


@pytest.fixture
async def telegram(hearing_app: App, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    bot = make_telegram_bot(hearing_app, fake)
    task = asyncio.create_task(bot.run_polling())
    await fake.wait_until(lambda: fake.calls_of("getUpdates"))
    yield bot
    await bot.stop()
    await asyncio.wait_for(task, timeout=10)


async def test_a_hearing_gets_no_reception_deadline_list_nor_an_empty_session_warning(
    hearing_app: App, clock: FrozenClock, fake: FakeTelegram, telegram: TelegramBot
) -> None:
    """A hearing has no sign-ups and no case summaries: the reception's "summary deadline
    reached" list (a Sổ tiếp công dân file of 0 registrations) and its "nobody has registered"
    warning are not for it. Its connection test still reaches the officers."""
    await a_hearing(hearing_app)
    for at in (local(2026, 12, 14, 9, 0), local(2026, 12, 15, 9, 0), local(2026, 12, 19, 15, 0)):
        await tick(hearing_app, clock, telegram, at)
    sent = fake.sent_to(ADMIN_TG)
    texts = [message.text for message in sent if message.text]
    assert not [text for text in texts if "HẾT HẠN NHẬN NỘI DUNG" in text or "SUMMARY DEADLINE" in text]
    assert not [
        text for text in texts if "chưa có công dân nào đăng ký" in text or "no registrations" in text
    ]
    assert not [message.document for message in sent if message.document], "no reception register"


async def test_a_hearings_connection_test_names_a_hearing_not_a_reception_session(
    hearing_app: App, clock: FrozenClock, fake: FakeTelegram, telegram: TelegramBot
) -> None:
    """The officer (here the delegate who is also an officer) is told to test the line the day
    before a hearing, in the words of a hearing."""
    await a_hearing(hearing_app)
    await tick(hearing_app, clock, telegram, local(2026, 12, 19, 14, 0))
    told = [message.text for message in fake.sent_to(DELEGATE) if "🔌" in message.text]
    assert told, fake.sent_to(DELEGATE)
    assert "phiên giải trình" in told[0]
    assert "buổi tiếp công dân" not in told[0]
