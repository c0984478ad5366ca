"""/reschedule and /cancelsession: the notice window, the override, and every citizen told."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage.models import AuditEntry, Event, EventStatus, SignUp, SignUpStatus
from tests.conftest import ADMIN_ID, World
from tests.flows import consent, officer_for, register
from tests.support import ChatUser
from tests.test_outbox import RecordingChannel


async def registered(app: App) -> tuple[ChatUser, ChatUser]:
    """One confirmed citizen (Vietnamese) and one on the waitlist (English) at Tân Bình."""
    users = [ChatUser(app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    await consent(users[0])
    await register(users[0])
    await consent(users[1])
    await register(users[1])
    await consent(users[2], language="English")
    await register(users[2])  # Tân Bình has 2 seats: waitlisted
    return users[0], users[2]


async def told(app: App) -> dict[str, str]:
    """What the citizens were sent (staff notices such as the deadline export left out)."""
    channel = RecordingChannel()
    await Outbox(app.sessions, app.settings, app.clock, {"test": channel}).send_due()
    return {user: text for user, text in channel.sent if user != ADMIN_ID}


async def test_reschedule_outside_the_window(staff_app: App, world: World, admin: ChatUser) -> None:
    await registered(staff_app)
    await admin.say("/reschedule")
    assert "Cách dùng: /reschedule" in admin.text
    await admin.say(f"/reschedule {world.first_id}")
    assert "Thời gian hiện tại: Thứ Hai, 07/12/2026 08:00" in admin.text
    await admin.say("14/12/2026")
    await admin.say("09:00")
    await admin.say("Lãnh đạo bận họp đột xuất")
    assert "⚠️" not in admin.text and "Số công dân sẽ được báo: 3" in admin.text
    await admin.press("Xác nhận")
    assert "Đã dời buổi tiếp" in admin.text
    messages = await told(staff_app)
    assert len(messages) == 3  # confirmed and waitlisted alike
    assert (
        "từ Thứ Hai, 07/12/2026 08:00" in messages["1"] and "sang Thứ Hai, 14/12/2026 09:00" in messages["1"]
    )
    assert "Lãnh đạo bận họp đột xuất" in messages["1"]
    assert "Hạn gửi, sửa nội dung mới: Thứ Tư, 09/12/2026 09:00" in messages["1"]
    assert "SESSION MOVED" in messages["3"] and "Monday, 14/12/2026 09:00" in messages["3"]
    async with staff_app.sessions() as db:
        session = await db.get(Event, world.first_id)
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.reschedule"))
    assert session is not None and session.status == EventStatus.RESCHEDULED
    assert entry is not None and entry.details["short_notice_override"] is False


async def test_reschedule_inside_the_window_needs_the_override(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await registered(staff_app)
    clock.set(world.first_start - timedelta(days=3))  # 3 days ahead: inside the 5-day window
    await admin.say(f"/reschedule {world.first_id}")
    await admin.say("08/12/2026")
    await admin.say("08:00")
    await admin.say("Mất điện tại hội trường")
    assert "⚠️ Thông báo thay đổi phải gửi trước ít nhất 5 ngày" in admin.text
    assert "Xác nhận dù thời hạn thông báo ngắn" in admin.labels
    await admin.press("Không, giữ nguyên")
    assert "Đã hủy thao tác" in admin.text
    async with staff_app.sessions() as db:
        session = await db.get(Event, world.first_id)
    assert session is not None and session.starts_at == world.first_start  # nothing changed

    await admin.say(f"/reschedule {world.first_id}")
    await admin.say("08/12/2026")
    await admin.say("08:00")
    await admin.say("Mất điện tại hội trường")
    await admin.press("Xác nhận dù thời hạn thông báo ngắn")
    assert len(await told(staff_app)) == 3
    async with staff_app.sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.reschedule"))
    assert entry is not None and entry.details["short_notice_override"] is True
    assert entry.details["reason"] == "Mất điện tại hội trường"


async def test_cancel_a_session(staff_app: App, world: World, admin: ChatUser, clock: FrozenClock) -> None:
    await registered(staff_app)
    await admin.say(f"/cancelsession {world.first_id}")
    await admin.say("ok")
    assert "từ 3 đến 500 ký tự" in admin.text
    await admin.say("Thay đổi kế hoạch công tác của Thường trực HĐND")
    await admin.press("Xác nhận")
    assert "Đã hủy buổi tiếp" in admin.text
    messages = await told(staff_app)
    assert "HỦY BUỔI TIẾP CÔNG DÂN" in messages["1"] and "Thay đổi kế hoạch công tác" in messages["1"]
    assert "SESSION CANCELLED" in messages["3"]
    async with staff_app.sessions() as db:
        statuses = {r.status for r in await db.scalars(select(SignUp))}
    assert statuses == {SignUpStatus.CANCELLED}
    # No reminder for a cancelled session, and it can be neither moved nor cancelled again.
    clock.set(world.first_start - timedelta(hours=24))
    assert await told(staff_app) == {}
    await admin.say(f"/cancelsession {world.first_id}")
    assert "không thể thay đổi" in admin.text


async def test_officers_cannot_move_sessions(staff_app: App, world: World, admin: ChatUser) -> None:
    officer = await officer_for(staff_app, admin, "700", scope=None)
    for command in (f"/reschedule {world.first_id}", f"/cancelsession {world.first_id}"):
        await officer.say(command)
        assert "không có quyền" in officer.text
