"""What the citizen is told matches what is true: a held seat under review, the decision and
whether to come, what applies after a short-notice move; no outcome before the session; no
festive emoji from a state office."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.app import App
from bot.clock import FrozenClock
from bot.notify import Outbox
from tests.conftest import ADMIN_ID, World
from tests.flows import consent, register
from tests.support import ChatUser
from tests.test_locales import load_catalog
from tests.test_outbox import RecordingChannel


async def sent_to_citizens(app: App) -> dict[str, str]:
    channel = RecordingChannel()
    await Outbox(app.sessions, app.settings, app.clock, {"test": channel}).send_due()
    return {user: text for user, text in channel.sent if user != ADMIN_ID}


async def test_a_seat_is_held_under_review_until_the_decision(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await register(citizen)
    assert "ĐÃ GIỮ CHỖ, ĐANG CHỜ XEM XÉT" in citizen.text and "xác nhận" not in citizen.text.lower()
    assert "Ông/Bà có cần đến điểm cầu hay không" in citizen.text
    await citizen.press("mine")
    assert "Đã giữ chỗ, đang chờ xem xét" in citizen.prompt.options[0].label

    await admin.say("/review")
    await admin.press("Trả lại")
    await admin.say("Vụ việc thuộc thẩm quyền của UBND phường Tân Bình; xin liên hệ bộ phận một cửa.")
    told = await sent_to_citizens(staff_app)
    assert "không cần đến buổi tiếp lúc Thứ Hai, 07/12/2026 08:00" in told["1"]
    await citizen.press("menu")
    await citizen.press("mine")
    assert "Đã trả lại kèm hướng dẫn, không cần đến" in citizen.prompt.options[0].label
    clock.set(world.first_start - timedelta(hours=24))  # told not to come: not reminded to come
    assert await sent_to_citizens(staff_app) == {}


async def test_an_accepted_case_is_told_to_come(staff_app: App, world: World, admin: ChatUser) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await register(citizen)
    await admin.say("/review")
    await admin.press("Tiếp nhận")
    assert "Xin Ông/Bà đến điểm cầu đúng giờ" in (await sent_to_citizens(staff_app))["1"]
    await citizen.press("mine")
    assert "Đã tiếp nhận, mời đến dự" in citizen.prompt.options[0].label


async def test_a_short_notice_move_tells_no_deadline_that_has_passed(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await register(citizen)
    clock.set(world.first_start - timedelta(days=7))  # 30/11: the new deadline, 5 days before 03/12, is gone
    await admin.say(f"/reschedule {world.first_id}")
    await admin.say("03/12/2026 08:00")
    await admin.say("Lãnh đạo bận họp đột xuất")
    await admin.press("Xác nhận dù thời hạn thông báo ngắn")
    told = (await sent_to_citizens(staff_app))["1"]
    assert "sang Thứ Năm, 03/12/2026 08:00" in told
    assert "Hạn gửi, sửa nội dung mới" not in told and "28/11/2026" not in told
    assert "thời hạn gửi, sửa nội dung đã qua" in told and "không sửa được nữa" in told


async def test_no_outcome_before_the_session(staff_app: App, world: World, admin: ChatUser) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await register(citizen)
    await admin.say("/outcome TCD-2026-000001")
    assert "chưa diễn ra" in admin.text and "gõ kết quả giải quyết" not in admin.prompt.text
    assert await sent_to_citizens(staff_app) == {}


FESTIVE = re.compile("[\U0001f389\U0001f38a\U0001f973\U0001f388\U0001f381\u2728\U0001f386\U0001f387]")


def test_no_festive_emoji_in_the_office_notices() -> None:
    for locale in ("vi", "en"):
        festive = {key: text for key, text in load_catalog(locale).items() if FESTIVE.search(text)}
        assert festive == {}, locale


async def test_a_promoted_registration_is_told_it_is_still_under_review(staff_app: App, world: World) -> None:
    users = [ChatUser(staff_app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    for user in users:  # Tân Bình has two seats: the third waits
        await consent(user)
        await register(user)
    await users[0].press("mine")
    await users[0].press("r:")
    await users[0].press("cancel")
    await users[0].press("yes")
    promoted = (await sent_to_citizens(staff_app))["3"]
    assert "ĐÃ CÓ CHỖ CHO ÔNG/BÀ" in promoted and "🎉" not in promoted and "xác nhận" not in promoted
    assert "Nội dung đang chờ cán bộ xem xét" in promoted
