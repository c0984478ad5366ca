"""/broadcast and /broadcasts: preview, once per recipient, 403s, stop, restart, the done report."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import retention
from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.dialog.types import Reply
from bot.notify import Outbox, ResultBook
from storage import broadcasts
from storage.models import Broadcast, Citizen, Notification
from tests.conftest import ADMIN_ID, World
from tests.flows import consent, register
from tests.support import ChatUser
from tests.test_outbox import RecordingChannel


async def three_registrants(app: App) -> None:
    for n, endpoint in ((1, "tan binh"), (2, "tan binh"), (3, "binh chanh")):
        user = ChatUser(app.dialog, user_id=str(n))
        await consent(user)
        await register(user, endpoint=endpoint)
    bystander = ChatUser(app.dialog, user_id="4")
    await consent(bystander)  # consented, registered for nothing


async def start_broadcast(admin: ChatUser, audience: str, target: str | None, text: str) -> None:
    await admin.say("/broadcast")
    await admin.press(audience)
    if target is not None:
        if target.startswith("#"):
            await admin.press(target)
        else:
            await admin.say(target)
    await admin.say(text)


async def test_preview_then_each_recipient_once(staff_app: App, world: World, admin: ChatUser) -> None:
    await three_registrants(staff_app)
    await start_broadcast(
        admin, "một buổi tiếp", f"#{world.first_id} ", "Buổi tiếp ngày 07/12 chuyển sang hội trường B."
    )
    assert "Số người nhận: 3" in admin.text and "hội trường B" in admin.text
    assert "Thời gian gửi ước tính: 0 phút 1 giây" in admin.text
    await admin.press("Gửi")
    assert "Đợt thông báo #1 đang gửi tới 3 người" in admin.text
    channel = RecordingChannel()
    outbox = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel})
    assert await outbox.send_due() == 3
    assert (
        await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
        == 1
    )
    counts = Counter(user for user, _ in channel.sent)
    assert counts == {"1": 1, "2": 1, "3": 1, ADMIN_ID: 1}  # once each; the admin gets the report
    assert "THÔNG BÁO CỦA VĂN PHÒNG" in dict(channel.sent)["1"]
    assert "Đợt thông báo #1 đã gửi xong: 3/3 thành công" in dict(channel.sent)[ADMIN_ID]
    await admin.say("/broadcasts")
    assert "#1 (đã xong): đã gửi 3/3, lỗi 0, không liên lạc được 0, còn lại 0" in admin.text


async def test_a_broadcast_still_counts_what_it_sent_once_sent_notices_are_deleted(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await three_registrants(staff_app)
    await start_broadcast(admin, "Tất cả", None, "Lịch tiếp công dân năm 2027 đã được công bố.")
    await admin.press("Gửi")
    channel = RecordingChannel()
    for _ in range(2):  # the notices, then the report
        await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
    clock.set(clock.now() + timedelta(days=staff_app.settings.handled_keep_days + 1))
    await retention.sweep(staff_app)
    async with staff_app.sessions() as db:
        assert list(await db.scalars(select(Notification))) == []  # all sent, all deleted
    await admin.say("/broadcasts")
    assert "#1 (đã xong): đã gửi 4/4, lỗi 0" in admin.text


async def test_audiences(staff_app: App, world: World, admin: ChatUser) -> None:
    await three_registrants(staff_app)
    await start_broadcast(admin, "tại một điểm cầu", "Xã Bình Chánh", "Điểm cầu Bình Chánh đổi phòng họp.")
    assert "Số người nhận: 1" in admin.text
    await admin.press("Hủy, không gửi")
    await start_broadcast(admin, "Tất cả", None, "Lịch tiếp công dân năm 2027 đã được công bố.")
    assert "Số người nhận: 4" in admin.text  # everyone who consented, registered or not


async def test_blocked_recipients_and_stopping(staff_app: App, world: World, admin: ChatUser) -> None:
    await three_registrants(staff_app)
    async with staff_app.sessions() as db, db.begin():
        blocked = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "2"))
        assert blocked is not None
        blocked.unreachable = True
    await start_broadcast(admin, "Tất cả", None, "Thông báo thứ nhất gửi tất cả.")
    assert "Số người nhận: 3" in admin.text  # the unreachable one is left out
    await admin.press("Gửi")
    await admin.say("/broadcasts")
    await admin.press("Dừng đợt #1")
    assert "Đã dừng đợt #1; 3 tin chưa gửi sẽ không được gửi" in admin.text
    channel = RecordingChannel()
    assert (
        await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
        == 0
    )
    async with staff_app.sessions() as db:
        broadcast = await db.get(Broadcast, 1)
    assert broadcast is not None and broadcast.state == "cancelled"


async def test_a_restart_in_the_middle_sends_the_rest_once(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await three_registrants(staff_app)
    await start_broadcast(admin, "Tất cả", None, "Thông báo gửi khi máy chủ khởi động lại.")
    await admin.press("Gửi")
    channel = RecordingChannel()
    first = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel})
    # The process claims the batch, sends to one recipient and dies.
    claimed = await first._claim()
    results = ResultBook(staff_app.sessions, staff_app.clock)
    await results.add(claimed[0], await first._send(claimed[0]))
    await results.flush()
    restarted = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel})
    assert await restarted.send_due() == 0  # the dead sender's claim holds until its lease lapses
    clock.advance(restarted.lease + timedelta(seconds=1))
    assert await restarted.send_due() == 3
    await restarted.send_due()
    counts = Counter(user for user, text in channel.sent if "THÔNG BÁO CỦA VĂN PHÒNG" in text)
    assert counts == {"1": 1, "2": 1, "3": 1, "4": 1}


@dataclass
class StallingChannel(RecordingChannel):
    """Sends to the first `until` recipients, then hangs like a dead connection."""

    until: int = 2
    stalled: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        if len(self.sent) >= self.until:
            self.stalled.set()
            await asyncio.Event().wait()
        await super().send(user_id, replies)


async def test_a_sender_stopped_mid_broadcast_keeps_what_it_sent(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await three_registrants(staff_app)
    await start_broadcast(admin, "Tất cả", None, "Thông báo khi dừng giữa chừng.")
    await admin.press("Gửi")
    stalling = StallingChannel()
    outbox = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": stalling})
    # One batch: once its sends have begun the claimer only waits on the queue, so the
    # cancel below never lands in the middle of a database call.
    sending = asyncio.create_task(outbox.send_due())
    await asyncio.wait_for(stalling.stalled.wait(), timeout=10)
    sending.cancel()  # the process is told to stop (SIGTERM): results in hand are written
    with pytest.raises(asyncio.CancelledError):
        await sending
    async with staff_app.sessions() as db:
        states = Counter(await db.scalars(select(Notification.state).where(Notification.kind == "broadcast")))
    assert states == {"sent": 2, "sending": 2}
    # A restarted sender takes the two cut off, once their lease lapses, and nothing else.
    clock.advance(outbox.lease + timedelta(seconds=1))
    channel = RecordingChannel()
    await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).drain()
    resent = Counter(user for user, text in channel.sent if "dừng giữa chừng" in text)
    first = Counter(user for user, text in stalling.sent if "dừng giữa chừng" in text)
    assert sum(resent.values()) == 2 and not set(resent) & set(first)
    assert first + resent == {"1": 1, "2": 1, "3": 1, "4": 1}


async def test_two_senders_on_one_database_never_send_a_row_twice(
    staff_app: App, world: World, admin: ChatUser, database_url: str
) -> None:
    """Two sender processes (two engines) draining one broadcast concurrently."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite: one sender per database by design (a single process)")
    await three_registrants(staff_app)
    for n in range(5, 25):  # 20 more citizens who consented
        user = ChatUser(staff_app.dialog, user_id=str(n))
        await consent(user)
    await start_broadcast(admin, "Tất cả", None, "Thông báo thử gửi song song từ hai tiến trình.")
    await admin.press("Gửi")

    class SlowChannel(RecordingChannel):
        async def send(self, user_id: str, replies: list[Reply]) -> None:
            await asyncio.sleep(0.01)  # a real round trip, so the two senders overlap
            await super().send(user_id, replies)

    channel = SlowChannel()
    other = build_app(staff_app.settings, staff_app.clock)  # a second process: its own engine and pool
    try:
        senders = [
            Outbox(app.sessions, app.settings, app.clock, {"test": channel}) for app in (staff_app, other)
        ]
        for _ in range(3):
            await asyncio.gather(*(sender.send_due() for sender in senders))
    finally:
        await other.close()
    counts = Counter(user for user, text in channel.sent if "THÔNG BÁO CỦA VĂN PHÒNG" in text)
    assert len(counts) == 24 and set(counts.values()) == {1}


async def test_a_broadcast_over_the_fake_bot_api_with_429_5xx_and_403(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    from bot.channels.telegram.channel import TelegramChannel
    from bot.channels.telegram.runner import make_bot
    from tests.fakes.telegram_api import TOKEN, FakeTelegram

    for user_id in range(801, 806):
        await consent(ChatUser(staff_app.dialog, user_id=str(user_id), channel="telegram"))
    await start_broadcast(admin, "Tất cả", None, "Thông báo thử qua Telegram.")
    await admin.press("Gửi")
    fake = FakeTelegram()
    await fake.start()
    bot = make_bot(TOKEN, fake.base_url, max_retries=3, retry_base_delay=0.01)
    try:
        fake.inject("sendMessage", 429, retry_after=1)
        fake.inject("sendMessage", 502)
        fake.blocked.add(803)
        channel = TelegramChannel(bot, staff_app.sessions, staff_app.clock)
        outbox = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"telegram": channel})
        assert await outbox.drain() == 4
    finally:
        await bot.session.close()
        await fake.stop()
    assert fake.violations == []
    delivered = Counter(m.chat_id for m in fake.messages)
    assert delivered == {801: 1, 802: 1, 804: 1, 805: 1}  # once each, despite the 429 and the 502
    # The 429 held every send back for its retry_after, not only the one that got it (one
    # send may have left before the 429 came back; unpaused, three or four would follow).
    sends = [call for call in fake.calls if call.method == "sendMessage"]
    (limited,) = [call for call in sends if call.status == 429]
    assert sum(limited.at < call.at < limited.at + 0.95 for call in sends) <= 1
    async with staff_app.sessions() as db:
        blocked = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "803"))
        broadcast = await db.get(Broadcast, 1)
        assert blocked is not None and blocked.unreachable
        assert broadcast is not None
        done = await broadcasts.progress(db, broadcast)
    assert (done.sent, done.unreachable, done.left) == (4, 1, 0)


async def test_a_broadcast_to_a_session_when_none_is_coming_goes_back_to_the_audience(
    staff_app: App, admin: ChatUser
) -> None:
    await admin.say("/broadcast")  # no session at all: nothing to choose from
    await admin.press("một buổi tiếp")
    assert "Chưa có buổi tiếp nào sắp tới" in admin.text
    assert "Gửi cho ai?" in admin.prompt.text and admin.labels
    await admin.press("Tất cả công dân")
    assert "Nội dung thông báo" in admin.prompt.text


async def test_an_audience_of_nobody_is_chosen_again_and_the_text_kept(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await three_registrants(staff_app)
    await start_broadcast(admin, "tại một điểm cầu", "Đặc khu Côn Đảo", "Điểm cầu Côn Đảo đổi phòng họp.")
    assert "Không có công dân nào" in admin.text and "Gửi cho ai?" in admin.prompt.text
    await admin.press("tại một điểm cầu")
    await admin.say("Xã Bình Chánh")
    assert "Số người nhận: 1" in admin.text and "Điểm cầu Côn Đảo đổi phòng họp." in admin.text
