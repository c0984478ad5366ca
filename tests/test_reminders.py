"""Reminders a day and two hours before, to the minute, once, and never for an old time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.app import App
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage.models import Notification, ReceptionSession
from tests.conftest import World
from tests.flows import consent, register
from tests.support import ChatUser
from tests.test_outbox import RecordingChannel


def outbox(app: App, channel: RecordingChannel) -> Outbox:
    return Outbox(app.sessions, app.settings, app.clock, {"test": channel})


async def test_a_day_and_two_hours_before_to_the_minute_and_once(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    channel = RecordingChannel()
    start = world.first_start  # Monday 07/12/2026 08:00
    for moment, expected in (
        (start - timedelta(hours=24, minutes=1), 0),
        (start - timedelta(hours=24), 1),
        (start - timedelta(hours=23), 0),  # not again
        (start - timedelta(hours=2, minutes=1), 0),
        (start - timedelta(hours=2), 1),
    ):
        clock.set(moment)
        assert await outbox(app, channel).send_due() == expected, moment
    day, soon = (text for _, text in channel.sent)
    assert "ngày mai Ông/Bà có buổi tiếp công dân" in day and "Thứ Hai, 07/12/2026 08:00" in day
    assert "UBND phường Tân Bình" in day and "https://meet.example/tcd" in day
    assert "sắp bắt đầu lúc Thứ Hai, 07/12/2026 08:00" in soon
    # A restarted process (a new sender) sends nothing more.
    clock.set(start - timedelta(minutes=30))
    assert await outbox(app, RecordingChannel()).send_due() == 0


async def test_a_late_start_of_the_sender_sends_only_the_reminder_that_still_fits(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    channel = RecordingChannel()
    clock.set(world.first_start - timedelta(hours=1))  # the process was down for a day
    assert await outbox(app, channel).send_due() == 1
    assert "sắp bắt đầu" in channel.sent[0][1]


async def test_no_reminder_after_cancelling(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    await chat.press("mine")
    await chat.press("r:")
    await chat.press("cancel")
    await chat.press("yes")
    clock.set(world.first_start - timedelta(hours=24))
    assert await outbox(app, RecordingChannel()).send_due() == 0


async def test_a_moved_session_is_reminded_at_its_new_time_only(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    channel = RecordingChannel()
    old_start, new_start = world.first_start, world.first_start + timedelta(days=3)
    clock.set(old_start - timedelta(hours=24))
    async with app.sessions() as db, db.begin():
        from storage import reminders

        # Queued for the old time, then the session moves before it is sent.
        await reminders.queue_due(db, now=clock.now(), hours_before=(24, 2))
        await db.execute(
            update(ReceptionSession).where(ReceptionSession.id == world.first_id).values(starts_at=new_start)
        )
    assert await outbox(app, channel).send_due() == 0
    async with app.sessions() as db:
        states = list(await db.scalars(select(Notification.state).where(Notification.kind == "reminder")))
    assert states == ["withdrawn"]
    clock.set(new_start - timedelta(hours=24))
    assert await outbox(app, channel).send_due() == 1
    assert "Thứ Năm, 10/12/2026 08:00" in channel.sent[0][1]
