"""A voter-contact round's notices to staff, to the minute (injected clock): the materials
deadline, the attendance per endpoint when sign-ups close, the connection test at
CONNECTION_TEST_TIME the day before each endpoint meets, the reminder a day before the compile
deadline while petitions are unclassified, and the compiled report (Word and Excel) to the
admins at the deadline — the minute before nothing, at the minute once, never twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, time

import pytest
from sqlalchemy import update

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage.models import AnswerLevel, Event, EventStatus, Submission
from tests.conftest import ADMIN_ID, World, local, make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram_harness import make_telegram_bot
from tests.test_outbox import RecordingChannel
from tests.test_petition_report import OFFICER_ALL, OFFICER_TANBINH, add_officer, voter_round

OFFICER_BINHCHANH = "702"


@pytest.fixture
async def round_app(database_url: str, clock: FrozenClock) -> AsyncIterator[App]:
    """ADMINS=test:9000, and the connection test at 15:00 (the other plan's time)."""
    app = build_app(
        make_settings(database_url, admins=f"test:{ADMIN_ID}", connection_test_time="15:00"), clock
    )
    yield app
    await app.close()


async def tick(app: App, channel: RecordingChannel) -> int:
    return await Outbox(app.sessions, app.settings, app.clock, {"test": channel}).send_due()


def files_to(channel: RecordingChannel, user_id: str) -> list[str]:
    return [name for user, name in channel.documents if user == user_id]


def to(channel: RecordingChannel, user_id: str, words: str) -> list[str]:
    return [text for user, text in channel.sent if user == user_id and words in text]


async def at(app: App, clock: FrozenClock, channel: RecordingChannel, moment: datetime) -> None:
    clock.set(moment)
    await tick(app, channel)


async def test_a_rounds_notices_go_each_at_its_minute_once(round_app: App, clock: FrozenClock) -> None:
    found = await voter_round(round_app)
    await add_officer(round_app, OFFICER_TANBINH, [found.endpoint_ids["P-TANBINH"]])
    await add_officer(round_app, OFFICER_BINHCHANH, [found.endpoint_ids["X-BINHCHANH"]])
    channel = RecordingChannel()

    # Materials: 5 days before the first meeting (03/12 08:00), as the kind's policy says.
    await at(round_app, clock, channel, local(2026, 11, 28, 7, 59))
    assert to(channel, ADMIN_ID, "Đến hạn gửi tài liệu") == []
    await at(round_app, clock, channel, local(2026, 11, 28, 8, 0))
    await at(round_app, clock, channel, local(2026, 11, 28, 8, 1))
    [materials] = to(channel, ADMIN_ID, "Đến hạn gửi tài liệu")
    assert f"#{found.event_id}" in materials and "Thứ Năm, 03/12/2026 08:00" in materials

    # Attendance: when sign-ups close at an endpoint, the day before it meets.
    await at(round_app, clock, channel, local(2026, 12, 2, 7, 59))
    assert to(channel, ADMIN_ID, "SỐ CỬ TRI ĐĂNG KÝ DỰ") == []
    await at(round_app, clock, channel, local(2026, 12, 2, 8, 0))
    [tanbinh] = to(channel, ADMIN_ID, "SỐ CỬ TRI ĐĂNG KÝ DỰ")
    assert "Phường Tân Bình: 2/30 cử tri (1 lượt đăng ký, 0 chờ)" in tanbinh
    assert "Bình Chánh" not in tanbinh and "Tổng cộng: 2 cử tri." in tanbinh

    # The connection test: at CONNECTION_TEST_TIME (15:00 here) the day before, to the
    # officers of the endpoints that meet the next day.
    await at(round_app, clock, channel, local(2026, 12, 2, 14, 59))
    assert to(channel, OFFICER_TANBINH, "kiểm tra đường truyền") == []
    await at(round_app, clock, channel, local(2026, 12, 2, 15, 0))
    [check] = to(channel, OFFICER_TANBINH, "kiểm tra đường truyền")
    assert "hội nghị tiếp xúc cử tri" in check and "Phường Tân Bình" in check
    assert "https://meet.example/txct" in check
    assert to(channel, OFFICER_BINHCHANH, "kiểm tra đường truyền") == []

    await at(round_app, clock, channel, local(2026, 12, 3, 14, 0))
    [_, binhchanh] = to(channel, ADMIN_ID, "SỐ CỬ TRI ĐĂNG KÝ DỰ")
    assert "Xã Bình Chánh: 1/30 cử tri (1 lượt đăng ký, 1 chờ)" in binhchanh
    await at(round_app, clock, channel, local(2026, 12, 3, 15, 0))
    [check] = to(channel, OFFICER_BINHCHANH, "kiểm tra đường truyền")
    assert "Xã Bình Chánh" in check and "Thứ Sáu, 04/12/2026 14:00" in check
    assert len(to(channel, OFFICER_TANBINH, "kiểm tra đường truyền")) == 1

    # The compile deadline: 5 days after the last meeting (04/12 14:00). A day before, the
    # admins are reminded of the petition not classified yet.
    await at(round_app, clock, channel, local(2026, 12, 8, 13, 59))
    assert to(channel, ADMIN_ID, "chưa được phân loại") == []
    await at(round_app, clock, channel, local(2026, 12, 8, 14, 0))
    await at(round_app, clock, channel, local(2026, 12, 8, 18, 0))
    [unclassified] = to(channel, ADMIN_ID, "chưa được phân loại")
    assert (
        "còn 1 kiến nghị chưa được phân loại" in unclassified and "Thứ Tư, 09/12/2026 14:00" in unclassified
    )

    await at(round_app, clock, channel, local(2026, 12, 9, 13, 59))
    assert files_to(channel, ADMIN_ID) == []
    await at(round_app, clock, channel, local(2026, 12, 9, 14, 0))
    stem = f"bao-cao-tong-hop-kien-nghi-cu-tri-{found.event_id}-2026-12-03"
    assert files_to(channel, ADMIN_ID) == [f"{stem}.docx", f"{stem}.xlsx"]
    [report] = to(channel, ADMIN_ID, "ĐẾN HẠN TỔNG HỢP KIẾN NGHỊ CỬ TRI")
    assert "3 kiến nghị của 5 lượt cử tri" in report
    await at(round_app, clock, channel, local(2026, 12, 9, 14, 1))
    await at(round_app, clock, channel, local(2026, 12, 10, 9, 0))
    assert len(files_to(channel, ADMIN_ID)) == 2  # never twice
    assert len(to(channel, ADMIN_ID, "SỐ CỬ TRI ĐĂNG KÝ DỰ")) == 2
    assert len(to(channel, ADMIN_ID, "Đến hạn gửi tài liệu")) == 1


async def test_the_deadlines_set_on_the_round_and_no_reminder_once_all_are_classified(
    round_app: App, clock: FrozenClock
) -> None:
    found = await voter_round(round_app)
    async with round_app.sessions() as db, db.begin():
        await db.execute(
            update(Event)
            .where(Event.id == found.event_id)
            .values(compile_deadline=local(2026, 12, 7, 17, 0), materials_deadline=local(2026, 11, 30, 9, 30))
        )
        await db.execute(
            update(Submission)
            .where(Submission.id == found.petition_ids["written"])
            .values(level=AnswerLevel.COMMUNE, field="agriculture", reviewed_at=local(2026, 11, 27, 9, 0))
        )
    channel = RecordingChannel()
    await at(round_app, clock, channel, local(2026, 11, 28, 8, 0))  # the default is not used
    await at(round_app, clock, channel, local(2026, 11, 30, 9, 29))
    assert to(channel, ADMIN_ID, "Đến hạn gửi tài liệu") == []
    await at(round_app, clock, channel, local(2026, 11, 30, 9, 30))
    assert len(to(channel, ADMIN_ID, "Đến hạn gửi tài liệu")) == 1

    await at(round_app, clock, channel, local(2026, 12, 6, 17, 0))
    assert to(channel, ADMIN_ID, "chưa được phân loại") == []  # everything is classified
    await at(round_app, clock, channel, local(2026, 12, 7, 16, 59))
    assert files_to(channel, ADMIN_ID) == []
    await at(round_app, clock, channel, local(2026, 12, 7, 17, 0))
    assert [name.rsplit(".", 1)[1] for name in files_to(channel, ADMIN_ID)] == ["docx", "xlsx"]


async def test_a_cancelled_round_sends_nothing(round_app: App, clock: FrozenClock) -> None:
    found = await voter_round(round_app)
    await add_officer(round_app, OFFICER_ALL, None)
    async with round_app.sessions() as db, db.begin():
        await db.execute(update(Event).where(Event.id == found.event_id).values(status=EventStatus.CANCELLED))
    channel = RecordingChannel()
    for moment in (
        local(2026, 11, 28, 8),
        local(2026, 12, 2, 15),
        local(2026, 12, 8, 14),
        local(2026, 12, 9, 14),
    ):
        await at(round_app, clock, channel, moment)
    assert [user for user, _ in channel.sent if user in (ADMIN_ID, OFFICER_ALL)] == []


async def test_the_connection_test_time_applies_to_reception_sessions_too(
    round_app: App, world: World, clock: FrozenClock
) -> None:
    await add_officer(round_app, OFFICER_ALL, None)
    channel = RecordingChannel()
    await at(round_app, clock, channel, local(2026, 12, 6, 14, 59))  # the first session: 07/12 08:00
    assert to(channel, OFFICER_ALL, "kiểm tra đường truyền") == []
    await at(round_app, clock, channel, local(2026, 12, 6, 15, 0))
    [check] = to(channel, OFFICER_ALL, "kiểm tra đường truyền")
    assert "buổi tiếp công dân" in check


async def test_the_compiled_report_reaches_a_telegram_admin_as_two_files(
    staff_app: App, fake: FakeTelegram, clock: FrozenClock
) -> None:
    staff_app.settings.admins = "telegram:777"
    staff_app.settings.__dict__.pop("admin_keys", None)  # the cached parse of ADMINS, if made
    found = await voter_round(staff_app)
    telegram = make_telegram_bot(staff_app, fake)
    try:
        outbox = Outbox(staff_app.sessions, staff_app.settings, clock, {"telegram": telegram.outbox_channel})
        clock.set(local(2026, 12, 9, 13, 59))
        await outbox.send_due()
        assert [m.document for m in fake.sent_to(777) if m.document] == []
        clock.set(local(2026, 12, 9, 14, 0))
        await outbox.send_due()
        stem = f"bao-cao-tong-hop-kien-nghi-cu-tri-{found.event_id}-2026-12-03"
        assert [m.document for m in fake.sent_to(777) if m.document] == [f"{stem}.docx", f"{stem}.xlsx"]
        assert [c.status for c in fake.calls_of("sendDocument")] == [200, 200]
        assert any("ĐẾN HẠN TỔNG HỢP KIẾN NGHỊ CỬ TRI" in m.text for m in fake.sent_to(777))
        clock.set(local(2026, 12, 9, 14, 5))
        await outbox.send_due()
        assert len(fake.calls_of("sendDocument")) == 2
    finally:
        await telegram.stop()
        await asyncio.sleep(0)


@pytest.mark.parametrize("value", ["14", "25:00", "14:60", "2pm", "14:0"])
def test_a_connection_test_time_that_is_no_time_of_day_stops_the_start(value: str) -> None:
    with pytest.raises(ValueError, match="CONNECTION_TEST_TIME"):
        make_settings("sqlite+aiosqlite:///x.db", connection_test_time=value)


def test_the_connection_test_time_reads_as_a_time_of_day() -> None:
    assert make_settings("sqlite+aiosqlite:///x.db").connection_test_at == time(14, 0)
    assert make_settings("sqlite+aiosqlite:///x.db", connection_test_time="15:30").connection_test_at == time(
        15, 30
    )
