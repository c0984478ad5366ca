"""Staff workflows end to end, where two people act on the same thing or time passes between
a prompt and its answer: decisions stand once, the denouncer stays hidden, schedule changes
are checked again when confirmed, and what citizens are told matches what happened."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage import broadcasts
from storage.models import (
    AuditEntry,
    CaseType,
    Citizen,
    Event,
    EventStatus,
    Notification,
    SignUp,
)
from tests.conftest import ADMIN_ID, World, make_settings
from tests.flows import at_the_phone_step, consent, officer_for, register, registered_citizen
from tests.support import ChatUser
from tests.test_outbox import RecordingChannel

SECOND_ADMIN = "9001"


@pytest.fixture
async def two_admins_app(database_url: str, clock: FrozenClock) -> AsyncIterator[App]:
    app = build_app(make_settings(database_url, admins=f"test:{ADMIN_ID},test:{SECOND_ADMIN}"), clock)
    yield app
    await app.close()


async def sent_to_citizens(app: App) -> list[tuple[str, str]]:
    channel = RecordingChannel()
    await Outbox(app.sessions, app.settings, app.clock, {"test": channel}).send_due()
    return [(user, text) for user, text in channel.sent if user not in (ADMIN_ID, SECOND_ADMIN)]


async def route_notices(app: App) -> list[str]:
    async with app.sessions() as db:
        return list(
            await db.scalars(
                select(Notification.kind).where(Notification.kind.like("route_%")).order_by(Notification.id)
            )
        )


# --- /review ------------------------------------------------------------------------


async def test_a_decision_stands_once_when_two_officers_have_the_same_card(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await registered_citizen(staff_app)
    officer = await officer_for(staff_app, admin, "500", scope="P-TANBINH")
    await officer.say("/review")
    await admin.say("/review")
    assert "ĐĂNG KÝ TCD-2026-000001" in officer.text and "ĐĂNG KÝ TCD-2026-000001" in admin.text
    assert "Sửa phân loại" in officer.labels  # a button, not the step's whole instruction

    await officer.press("Trả lại")
    await officer.say("Xin liên hệ bộ phận một cửa của UBND phường.")
    assert "TCD-2026-000001: Trả lại và hướng dẫn\nXin liên hệ bộ phận một cửa của UBND phường.\n" in (
        officer.text
    )
    await admin.press("Tiếp nhận")  # the card was open before the officer decided
    assert "đã được cán bộ khác xử lý trước" in admin.text and "Trả lại và hướng dẫn" in admin.text
    assert "không được ghi nhận" in admin.text

    async with staff_app.sessions() as db:
        registration = await db.scalar(select(SignUp))
    assert registration is not None and registration.case.route == "return"
    assert await route_notices(staff_app) == ["route_return"]  # the citizen is not told two things
    sent = await sent_to_citizens(staff_app)
    assert len(sent) == 1 and "Xin liên hệ bộ phận một cửa" in sent[0][1]


async def test_forwarding_is_refused_before_the_note_when_someone_decided_first(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await registered_citizen(staff_app)
    officer = await officer_for(staff_app, admin, "500", scope=None)
    await officer.say("/review")
    await admin.say("/review")
    await admin.press("Tiếp nhận")
    await officer.press("Chuyển cơ quan")  # no agency list, no note typed in vain
    assert "đã được cán bộ khác xử lý trước" in officer.text and "Thụ lý" in officer.text
    assert "Không còn đăng ký mới" in officer.text
    assert await route_notices(staff_app) == ["route_accept"]


async def test_no_decision_on_a_registration_the_citizen_cancelled(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    citizen = await registered_citizen(staff_app)
    await admin.say("/review")
    await citizen.press("mine")
    await citizen.press("r:")
    await citizen.press("cancel")
    await citizen.press("yes")
    assert "Đã hủy đăng ký TCD-2026-000001" in citizen.text

    await admin.press("Tiếp nhận")
    assert "Công dân đã hủy đăng ký TCD-2026-000001" in admin.text
    async with staff_app.sessions() as db:
        registration = await db.scalar(select(SignUp))
    assert registration is not None and registration.case.route is None
    assert await route_notices(staff_app) == []  # no "come on time" for a cancelled registration


async def test_an_officer_without_the_right_cannot_unmask_a_denouncer_by_reclassifying(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await registered_citizen(staff_app, case_type="denunciation", name="trần thị bình")
    officer = await officer_for(staff_app, admin, "500", scope="P-TANBINH")
    await officer.say("/review")
    assert "T*** T** B***" in officer.text
    await officer.press("Sửa phân loại")
    await officer.press("Khiếu nại")
    assert "Đây là đơn tố cáo" in officer.text and "Trần Thị Bình" not in officer.text
    await officer.say("/find trần thị bình")
    assert "Không tìm thấy" in officer.text
    async with staff_app.sessions() as db:
        registration = await db.scalar(select(SignUp))
    assert registration is not None and registration.case.case_type == CaseType.DENUNCIATION

    await admin.say("/review")  # an admin sees denouncers: may correct the kind of case
    await admin.press("Sửa phân loại")
    await admin.press("Khiếu nại")
    assert "Đã sửa phân loại" in admin.text and "Khiếu nại — Đất đai" in admin.text


async def test_accepting_a_waitlisted_registration_does_not_tell_them_to_come(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    users = [ChatUser(staff_app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    for user, language in zip(users, ("Tiếng Việt", "Tiếng Việt", "English"), strict=True):
        await consent(user, language=language)
        await register(user)  # Tân Bình has 2 seats: the third waits
    await admin.say("/review")
    await admin.press("Tiếp nhận")
    await admin.press("Tiếp nhận")
    assert "(Trong danh sách chờ)" in admin.text
    await admin.press("Tiếp nhận")
    sent = dict(await sent_to_citizens(staff_app))
    assert "Xin Ông/Bà đến điểm cầu đúng giờ" in sent["1"]
    assert "still on the waiting list" in sent["3"] and "come to the endpoint on time" not in sent["3"]


# --- /reschedule and /cancelsession -------------------------------------------------


async def test_moving_a_session_to_the_time_it_already_has_is_refused(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await registered_citizen(staff_app)
    await admin.say(f"/reschedule {world.first_id}")
    await admin.say("07/12/2026")
    await admin.say("08:00")
    assert "đã được định vào đúng Thứ Hai, 07/12/2026 08:00" in admin.text
    assert "Ngày mới (ngày/tháng/năm" in admin.prompt.text
    await admin.say("14/12/2026")
    await admin.say("08:00")
    assert "Lý do thay đổi" in admin.prompt.text
    async with staff_app.sessions() as db:
        moved = await db.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "session_moved")
        )
    assert moved == 0


async def test_a_confirmation_after_another_admin_cancelled_the_session_changes_nothing(
    two_admins_app: App, world: World, clock: FrozenClock
) -> None:
    first, second = (ChatUser(two_admins_app.dialog, user_id=key) for key in (ADMIN_ID, SECOND_ADMIN))
    citizen = ChatUser(two_admins_app.dialog, user_id="1")
    await consent(citizen)
    await register(citizen)
    await first.say(f"/reschedule {world.first_id}")
    await first.say("14/12/2026")
    await first.say("08:00")
    await first.say("Trùng lịch họp HĐND")
    assert "Số công dân sẽ được báo: 1" in first.text
    await second.say(f"/cancelsession {world.first_id}")
    await second.say("Thay đổi kế hoạch")
    await second.press("Xác nhận")
    assert "Đã hủy buổi tiếp" in second.text

    await first.press("Xác nhận")
    assert "đã hủy" in first.text and "không thể thay đổi" in first.text
    async with two_admins_app.sessions() as db:
        session = await db.get(Event, world.first_id)
        moved = await db.scalar(
            select(func.count()).select_from(Notification).where(Notification.kind == "session_moved")
        )
    assert session is not None and session.status == EventStatus.CANCELLED  # not revived
    assert session.starts_at == world.first_start and moved == 0


async def test_the_short_notice_override_is_asked_when_the_window_began_after_the_prompt(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await registered_citizen(staff_app)
    await admin.say(f"/cancelsession {world.first_id}")
    await admin.say("Thay đổi kế hoạch")
    assert "⚠️" not in admin.text and "Xác nhận" in admin.labels  # 14 days ahead: a plain confirmation
    clock.set(world.first_start - timedelta(days=4))  # the prompt stayed open; now inside the window
    await admin.press("Xác nhận")
    assert "⚠️ Thông báo thay đổi phải gửi trước ít nhất 5 ngày" in admin.text
    assert "Xác nhận dù thời hạn thông báo ngắn" in admin.labels
    async with staff_app.sessions() as db:
        session = await db.get(Event, world.first_id)
    assert session is not None and session.status == EventStatus.SCHEDULED  # not yet
    await admin.press("Xác nhận dù thời hạn thông báo ngắn")
    assert "Đã hủy buổi tiếp" in admin.text
    async with staff_app.sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.cancel"))
    assert entry is not None and entry.details["short_notice_override"] is True


async def test_the_cancellation_notice_says_which_session_and_when(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    users = [ChatUser(staff_app.dialog, user_id=str(n)) for n in (1, 2)]
    await consent(users[0])
    await register(users[0])
    await consent(users[1], language="English")
    await register(users[1])
    await admin.say(f"/cancelsession {world.first_id}")
    await admin.say("Thay đổi kế hoạch")
    assert "Không, giữ nguyên" in admin.labels  # not "Hủy", which reads as "cancel the session"
    await admin.press("Xác nhận")
    sent = dict(await sent_to_citizens(staff_app))
    assert "«Tiếp công dân tháng 12» lúc Thứ Hai, 07/12/2026 08:00 đã bị hủy" in sent["1"]
    assert "“Tiếp công dân tháng 12” on Monday, 07/12/2026 08:00 has been cancelled" in sent["2"]


# --- /newsession ----------------------------------------------------------------------


async def test_a_new_session_whose_deadline_has_passed_is_flagged(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/newsession")
    await admin.press("Tiếp công dân")
    await admin.say("Tiếp công dân đột xuất")
    await admin.say("Thường trực HĐND tỉnh")
    await admin.say("26/11/2026")  # three days ahead: the five-day deadline is behind us
    await admin.say("08:00")
    await admin.say("P-TANBINH")
    await admin.press("default")
    await admin.press("none")
    assert "hạn nhận nội dung đã qua, công dân sẽ không đăng ký được" in admin.text
    assert "XIN KIỂM TRA LẠI" in admin.text

    await admin.say("/newsession")
    await admin.press("Tiếp công dân")
    await admin.say("Tiếp công dân tháng 2")
    await admin.say("Thường trực HĐND tỉnh")
    await admin.say("08/02/2027")
    await admin.say("08:00")
    await admin.say("P-TANBINH")
    await admin.press("default")
    await admin.press("none")
    assert "hạn nhận nội dung đã qua" not in admin.text


async def test_a_new_session_needs_an_active_endpoint(staff_app: App, admin: ChatUser) -> None:
    await admin.say("/newsession")  # no endpoint imported yet
    await admin.press("Tiếp công dân")
    await admin.say("Tiếp công dân tháng 12")
    await admin.say("Thường trực HĐND tỉnh")
    await admin.say("07/12/2026")
    await admin.say("08:00")
    await admin.press("Tất cả điểm cầu")
    assert "Chưa có điểm cầu nào đang hoạt động" in admin.text
    assert "Các điểm cầu tham gia?" in admin.prompt.text


# --- /invite, /join -------------------------------------------------------------------


async def test_an_admin_does_not_use_up_an_invite(staff_app: App, world: World, admin: ChatUser) -> None:
    await admin.say("/invite")
    await admin.say("P-TANBINH")
    await admin.press("Không")
    code = admin.text.split("Mã mời: ")[1].split()[0]
    await admin.say(f"/join {code}")
    assert "Ông/Bà đã là quản trị" in admin.text and "CÁN BỘ (quản trị)" in admin.prompt.text
    await admin.say("/staff")
    assert f"test:{ADMIN_ID}" not in admin.text  # not listed as an officer to revoke
    officer = ChatUser(staff_app.dialog, user_id="500")
    await officer.say(f"/join {code}")
    assert "đã được thêm làm cán bộ" in officer.text and "Phường Tân Bình" in officer.text


async def test_an_officer_joining_again_is_told_the_scope_changed(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    officer = await officer_for(staff_app, admin, "500", scope="P-TANBINH")
    await admin.say("/invite")
    await admin.say("X-BINHCHANH")
    await admin.press("Không")
    code = admin.text.split("Mã mời: ")[1].split()[0]
    await officer.say(f"/join {code}")
    assert "đã được cập nhật theo mã mời mới. Phạm vi: Xã Bình Chánh" in officer.text


# --- /broadcasts ----------------------------------------------------------------------


async def test_stopping_a_broadcast_that_has_finished_says_so(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await admin.say("/broadcast")
    await admin.press("all")
    await admin.say("Thông báo thử nghiệm hệ thống.")
    await admin.press("send")
    await admin.say("/broadcasts")
    assert "Dừng đợt #1" in admin.labels
    await sent_to_citizens(staff_app)
    await sent_to_citizens(staff_app)  # the next tick marks it done
    await admin.press("Dừng đợt #1")
    assert "Đợt #1 không còn đang gửi (đã xong), nên không có gì để dừng." in admin.text


# --- privacy ------------------------------------------------------------------------


async def test_a_citizen_who_deleted_their_data_and_came_back_is_a_citizen_again(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    citizen = await registered_citizen(staff_app)
    await citizen.press("privacy")
    await citizen.press("delete")
    await citizen.press("yes")
    assert "Đã xóa dữ liệu cá nhân" in citizen.text
    await citizen.say("/start")
    await citizen.press("agree")
    await register(citizen, endpoint="binh chanh")
    assert "ĐĂNG KÝ THÀNH CÔNG" in citizen.text
    async with staff_app.sessions() as db:
        stored = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "1"))
        assert stored is not None and stored.anonymised_at is None  # the retention sweep sees them again
        reached = await broadcasts.recipients(db, "all", None, now=staff_app.clock.now())
    assert reached == [stored.id]  # and broadcasts reach them


async def test_a_name_that_fits_several_endpoints_is_called_ambiguous_not_unknown(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/invite")
    await admin.say("Phường, Tân Bình")
    assert "Có nhiều điểm cầu khớp với: Phường" in admin.text and "Không có điểm cầu" not in admin.text
    await admin.say("không có nơi này, Phường")
    assert "Không có điểm cầu: không có nơi này" in admin.text
    await admin.say("Phường Số 1, Tân Bình")
    await admin.press("Không")
    assert "Phạm vi: Phường Số 1, Phường Tân Bình" in admin.text


# --- leaving and joining ------------------------------------------------------------


async def test_a_revoked_officer_pressing_an_old_staff_button_is_led_to_the_privacy_notice(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await registered_citizen(staff_app)
    officer = await officer_for(staff_app, admin, "610", scope=None)  # joined without consenting
    await officer.say("/review")
    await admin.say("/staff")
    await admin.press("test:610")
    await admin.press("Có, thu hồi")
    await officer.press("stop")  # a button of the review prompt, from before
    assert "không có quyền" in officer.text and "DANH MỤC CHÍNH" not in officer.text
    assert "Tiếng Việt" in " ".join(officer.labels)  # the privacy notice comes first: language


async def test_a_wrong_invite_code_in_the_middle_of_a_registration_loses_nothing(
    app: App, world: World, chat: ChatUser
) -> None:
    await at_the_phone_step(chat)
    await chat.say("/join ABCD-EFGH")
    assert "Mã mời không đúng" in chat.text
    assert "số điện thoại" in chat.text  # the phone step again, the name kept
    await chat.say("0912 345 678")
    assert "số định danh cá nhân" in chat.text
