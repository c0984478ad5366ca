"""Exactly one process ticks on PostgreSQL; the ticker drains the outbox."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.app import App, build_app
from bot.dialog.types import Reply
from bot.scheduler import Ticker
from storage.models import Notification
from tests.conftest import World
from tests.flows import consent, register
from tests.support import ChatUser
from tests.test_outbox import RecordingChannel, fill_endpoint_and_promote


async def test_one_ticker_holds_the_lock(app: App, database_url: str) -> None:
    other_app = build_app(app.settings, app.clock)  # a second process
    first, second = Ticker(app, {}), Ticker(other_app, {})
    try:
        assert await first.holds_lock()
        if database_url.startswith("sqlite"):
            return
        assert not await second.holds_lock()
        await first.stop()  # the first process ends: the other takes over
        assert await second.holds_lock()
    finally:
        await first.stop()
        await second.stop()
        await other_app.close()


async def test_the_scheduler_ticks_and_sends(app: App, world: World, clock: object) -> None:
    citizens = [ChatUser(app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    for citizen in citizens:
        await consent(citizen)
        await register(citizen)
    await citizens[0].press("mine")
    await citizens[0].press("r:")
    await citizens[0].press("cancel")
    await citizens[0].press("yes")  # promotes the third citizen: one notice due
    channel = RecordingChannel()
    app.settings.outbox_interval_seconds = 0.05
    ticker = Ticker(app, {"test": channel})
    ticker.start()
    try:
        for _ in range(100):
            if channel.sent:
                break
            await asyncio.sleep(0.05)
    finally:
        await ticker.stop()
    assert [user for user, _ in channel.sent] == ["3"]


@dataclass
class HeldChannel(RecordingChannel):
    """Sends only when the test lets it, like a slow network."""

    sending: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        self.sending.set()
        await self.release.wait()
        await super().send(user_id, replies)


async def test_a_stop_lets_the_tick_in_progress_finish_and_record(app: App, world: World) -> None:
    await fill_endpoint_and_promote(app)  # one notice due
    channel = HeldChannel()
    app.settings.outbox_interval_seconds = 0.05
    ticker = Ticker(app, {"test": channel})
    ticker.start()
    await asyncio.wait_for(channel.sending.wait(), timeout=10)
    stopping = asyncio.create_task(ticker.stop())
    await asyncio.sleep(0.2)
    assert not stopping.done()  # waiting for the send in progress, not cancelling it
    channel.release.set()
    await asyncio.wait_for(stopping, timeout=10)
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
    assert notice is not None and notice.state == "sent"  # recorded, not left "sending"
    assert [user for user, _ in channel.sent] == ["3"]
