"""/undelivered: notices that did not reach the citizen, listed for staff to call, in scope."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.app import App
from bot.dialog.types import Reply, WindowClosed
from bot.notify import Outbox
from storage.models import AuditEntry, Notification
from tests.conftest import World
from tests.flows import officer_for
from tests.support import ChatUser
from tests.test_outbox import RecordingChannel, fill_endpoint_and_promote


@dataclass
class ClosedWindowChannel(RecordingChannel):
    async def send(self, user_id: str, replies: list[Reply]) -> None:
        raise WindowClosed(user_id)


async def one_undelivered(app: App) -> Notification:
    await fill_endpoint_and_promote(app)  # a promotion notice for citizen 3 at Tân Bình
    assert (
        await Outbox(app.sessions, app.settings, app.clock, {"test": ClosedWindowChannel()}).send_due() == 0
    )
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification).where(Notification.kind == "waitlist_promoted"))
    assert notice is not None and notice.state == "undeliverable"
    return notice


async def test_staff_see_undelivered_notices_in_scope_and_mark_them_contacted(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    notice = await one_undelivered(staff_app)
    elsewhere = await officer_for(staff_app, admin, "7001", "X-BINHCHANH")
    await elsewhere.say("/undelivered")
    assert "Không có thông báo nào chưa đến được công dân" in elsewhere.text
    here = await officer_for(staff_app, admin, "7002", "P-TANBINH")
    await here.say("/undelivered")
    assert "Báo có chỗ (từ danh sách chờ)" in here.text
    assert "TCD-2026-000003" in here.text and "quá 7 ngày kể từ lần cuối công dân nhắn tin" in here.text
    await here.press(f"done:{notice.id}")
    assert "Đã ghi nhận" in here.text
    assert "Không có thông báo nào" in here.text  # the list again, now empty
    async with staff_app.sessions() as db:
        marked = await db.get(Notification, notice.id)
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "notice.contacted"))
    assert marked is not None and marked.state == "contacted"
    assert entry is not None and entry.actor == "test:7002" and entry.target_id == str(notice.id)


async def test_a_citizen_cannot_list_undelivered_notices(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await one_undelivered(staff_app)
    citizen = ChatUser(staff_app.dialog, user_id="42")
    await citizen.say("/undelivered")
    assert "không có quyền dùng chức năng này" in citizen.text
    assert "TCD-2026-000003" not in citizen.text


async def test_a_citizen_who_blocked_the_bot_is_listed_for_news_of_their_case(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await fill_endpoint_and_promote(staff_app)
    blocked = Outbox(
        staff_app.sessions, staff_app.settings, staff_app.clock, {"test": RecordingChannel(blocked=True)}
    )
    assert await blocked.send_due() == 0
    await admin.say("/undelivered")
    assert "Báo có chỗ (từ danh sách chờ)" in admin.text and "công dân đã chặn" in admin.text
    assert "TCD-2026-000003" in admin.text
