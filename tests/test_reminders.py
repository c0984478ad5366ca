"""Reminders a day and two hours before, to the minute, once, and never for an old time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select, update

from bot.app import App
from bot.clock import FrozenClock
from bot.dialog.types import DOCX_TYPE, Reply
from bot.i18n import Translator
from bot.notify import Outbox, reminder_message
from storage.models import Event, Notification, SignUp
from tests.conftest import World, local
from tests.flows import consent, register
from tests.support import TEXT_ONLY, ChatUser
from tests.test_outbox import RecordingChannel


async def only_code(app: App) -> str:
    async with app.sessions() as db:
        (code,) = await db.scalars(select(SignUp.code))
    return code


def outbox(app: App, channel: RecordingChannel) -> Outbox:
    return Outbox(app.sessions, app.settings, app.clock, {"test": channel})


async def test_a_day_and_two_hours_before_to_the_minute_and_once(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    code = await only_code(app)
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
    assert [name for _, name in channel.documents] == [f"{code}.ics"]  # with the first one only
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
        await db.execute(update(Event).where(Event.id == world.first_id).values(starts_at=new_start))
    assert await outbox(app, channel).send_due() == 0
    async with app.sessions() as db:
        states = list(await db.scalars(select(Notification.state).where(Notification.kind == "reminder")))
    assert states == ["withdrawn"]
    clock.set(new_start - timedelta(hours=24))
    assert await outbox(app, channel).send_due() == 1
    assert "Thứ Năm, 10/12/2026 08:00" in channel.sent[0][1]


async def test_the_first_reminder_carries_the_session_as_a_calendar_event(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    code = await only_code(app)
    channel = CalendarChannel()
    clock.set(world.first_start - timedelta(hours=24))
    assert await outbox(app, channel).send_due() == 1
    (event,) = Calendar.from_ical(channel.calendars[0]).walk("VEVENT")
    assert event["UID"] == f"{code}@tiepdan"
    assert event.decoded("DTSTART") == world.first_start
    assert event.decoded("DURATION") == timedelta(hours=4)
    assert "UBND phường Tân Bình" in event["LOCATION"]
    assert code in event["DESCRIPTION"] and "https://meet.example/tcd" in event["DESCRIPTION"]
    assert event["URL"] == "https://meet.example/tcd"


async def test_no_calendar_file_when_turned_off(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    app.settings.reminder_calendar = False
    await consent(chat)
    await register(chat)
    channel = RecordingChannel()
    clock.set(world.first_start - timedelta(hours=24))
    assert await outbox(app, channel).send_due() == 1
    assert channel.documents == []


async def test_no_calendar_file_to_a_chat_that_cannot_take_it(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    word_only = replace(TEXT_ONLY, document_types=frozenset({DOCX_TYPE}), max_document_bytes=5 * 1024 * 1024)
    channel = RecordingChannel(capabilities=word_only)  # Zalo OA: Word and PDF files only
    clock.set(world.first_start - timedelta(hours=24))
    assert await outbox(app, channel).send_due() == 1
    assert channel.documents == [] and "ngày mai Ông/Bà có buổi tiếp công dân" in channel.sent[0][1]


@dataclass
class CalendarChannel(RecordingChannel):
    calendars: list[bytes] = field(default_factory=list)

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        await super().send(user_id, replies)
        self.calendars.extend(r.document.content for r in replies if r.document is not None)


async def test_the_first_reminder_says_tomorrow_only_when_the_session_is_tomorrow(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    """The sender was down from Saturday evening; it starts again at 01:00 on Monday, seven
    hours before the 08:00 session: the day's reminder must not say "tomorrow"."""
    await consent(chat)
    await register(chat)
    channel = RecordingChannel()
    clock.set(world.first_start - timedelta(hours=7))  # Monday 07/12/2026 01:00 in Vietnam
    assert await outbox(app, channel).send_due() == 1
    [(_, text)] = channel.sent
    assert "ngày mai" not in text
    assert "hôm nay Ông/Bà có buổi tiếp công dân" in text and "Thứ Hai, 07/12/2026 08:00" in text


def test_the_first_reminder_names_the_day_in_vietnam_time() -> None:
    t = Translator("vi", ZoneInfo("Asia/Ho_Chi_Minh"))
    at_half_past_midnight = local(2026, 12, 17, 0, 30)  # 16/12 17:30 in UTC
    assert reminder_message(24, at_half_past_midnight, at_half_past_midnight - timedelta(hours=24), t) == (
        "notice.reminder_day"
    )
    assert reminder_message(48, at_half_past_midnight, at_half_past_midnight - timedelta(hours=48), t) == (
        "notice.reminder_ahead"  # REMINDER_HOURS=48: not "tomorrow"
    )
    late = local(2026, 12, 17, 0, 5)  # after a restart, the same night
    assert reminder_message(24, at_half_past_midnight, late, t) == "notice.reminder_today"
    soon = local(2026, 12, 16, 22, 30)
    assert reminder_message(2, at_half_past_midnight, soon, t) == "notice.reminder_soon"
