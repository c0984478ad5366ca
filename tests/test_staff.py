"""Staff commands through the engine: access, invites, sessions, review, outcome, search."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.clock import FrozenClock
from bot.dialog.types import DOCX_TYPE
from bot.notify import Outbox
from storage.models import AuditEntry, Event, EventEndpoint, SignUp
from tests.conftest import ADMIN_ID, World
from tests.flows import consent, officer_for, register
from tests.support import TEXT_ONLY, ChatUser
from tests.test_outbox import RecordingChannel


async def citizens_registered(app: App) -> list[ChatUser]:
    """Three citizens: a complaint at Tân Bình, a denunciation at Tân Bình, one at Bình Chánh."""
    users = [ChatUser(app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    await consent(users[0])
    await register(users[0])
    await consent(users[1])
    await register(users[1], case_type="denunciation", name="trần thị bình")
    await consent(users[2])
    await register(users[2], endpoint="binh chanh", name="lê văn cường")
    return users


@pytest.mark.parametrize(
    "command",
    [
        "/sessions",
        "/session 1",
        "/newsession",
        "/review",
        "/find an",
        "/outcome TCD-2026-000001",
        "/export 1",
        "/stats",
        "/invite",
        "/staff",
    ],
)
async def test_citizens_may_use_no_staff_command(staff_app: App, world: World, command: str) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="77")
    await consent(citizen)
    await citizen.say(command)
    assert "không có quyền dùng chức năng này" in citizen.text
    assert "DANH MỤC CHÍNH" in citizen.prompt.text


async def test_officers_may_not_use_admin_commands(staff_app: App, world: World, admin: ChatUser) -> None:
    officer = await officer_for(staff_app, admin, "500", scope="P-TANBINH")
    for command in ("/newsession", "/invite", "/staff"):
        await officer.say(command)
        assert "không có quyền" in officer.text, command
        assert "CÁN BỘ (cán bộ tiếp công dân)" in officer.prompt.text
    await officer.say("/sessions")
    assert "CÁC BUỔI TIẾP, HỘI NGHỊ, PHIÊN GIẢI TRÌNH SẮP TỚI" in officer.text
    async with staff_app.sessions() as db:
        actions = [e.action for e in await db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert "staff.invite" in actions and "staff.join" in actions


async def test_invites_are_single_use_and_expire(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await admin.say("/invite")
    await admin.say("không có nơi này")
    assert "Không có điểm cầu: không có nơi này" in admin.text
    await admin.say("P-TANBINH, Xã Bình Chánh")
    await admin.press("Không")
    assert "Phạm vi: Phường Tân Bình, Xã Bình Chánh" in admin.text
    code = admin.text.split("Mã mời: ")[1].split()[0]
    first, second = ChatUser(staff_app.dialog, user_id="501"), ChatUser(staff_app.dialog, user_id="502")
    await first.say("/join")
    assert "Cách dùng: /join" in first.text
    await first.say("/join WXYZ-2345")
    assert "Mã mời không đúng" in first.text
    await first.say(f"/join {code.lower()}")
    assert "đã được thêm làm cán bộ" in first.text
    await second.say(f"/join {code}")
    assert "đã được sử dụng" in second.text

    await admin.say("/invite")
    await admin.press("Tất cả điểm cầu")
    await admin.press("Không")
    late_code = admin.text.split("Mã mời: ")[1].split()[0]
    clock.advance(timedelta(hours=72))
    await second.say(f"/join {late_code}")
    assert "đã hết hạn" in second.text


async def test_admins_list_and_revoke_staff(staff_app: App, world: World, admin: ChatUser) -> None:
    officer = await officer_for(staff_app, admin, "503", scope=None)
    await admin.say("/staff")
    assert "test:503 — cán bộ tiếp công dân" in admin.text and "Phạm vi: Tất cả điểm cầu" in admin.text
    await admin.press("Thu hồi quyền: test:503")
    await admin.press("Có, thu hồi")
    assert "Đã thu hồi quyền" in admin.text
    await officer.say("/sessions")
    assert "không có quyền" in officer.text


async def test_new_session_with_every_bad_input(staff_app: App, world: World, admin: ChatUser) -> None:
    await admin.say("/newsession")
    await admin.press("Tiếp công dân")
    await admin.say("TC")
    assert "từ 3 đến 300 ký tự" in admin.text
    await admin.say("Tiếp công dân tháng 2/2027")
    await admin.say("Thường trực HĐND tỉnh")
    for wrong, message in (
        ("ngày mai", "Ngày không hợp lệ"),
        ("31/02/2027", "Ngày không hợp lệ"),
        ("20/11/2026", "Thời điểm này đã qua"),
    ):
        await admin.say(wrong)
        assert message in admin.text, wrong
    await admin.say("15/02/2027")
    for wrong in ("25:00", "8 giờ", "08:61"):
        await admin.say(wrong)
        assert "Giờ không hợp lệ" in admin.text, wrong
    await admin.say("08:30")
    await admin.say("Phường Tân Bình, X-KHONGCO")
    assert "Không có điểm cầu: X-KHONGCO" in admin.text
    await admin.say("tân bình; X-BINHCHANH")
    for wrong in ("0", "-5", "ba mươi"):
        await admin.say(wrong)
        assert "số nguyên dương" in admin.text, wrong
    await admin.say("25")
    await admin.press("Chưa có")
    assert "XIN KIỂM TRA LẠI" in admin.text
    assert "Thời gian: Thứ Hai, 15/02/2027 08:30" in admin.text
    assert "Hạn nhận nội dung: Thứ Tư, 10/02/2027 08:30" in admin.text
    assert "Điểm cầu (2): Phường Tân Bình, Xã Bình Chánh" in admin.text
    assert admin.labels == ["✅ Lưu buổi tiếp", "Hủy, không lưu"]  # a session is saved, not sent
    await admin.press("Lưu buổi tiếp")
    assert "Đã tạo buổi tiếp #3" in admin.text
    async with staff_app.sessions() as db:
        session = await db.get(Event, 3)
        assert session is not None and session.title == "Tiếp công dân tháng 2/2027"
        capacities = await db.scalars(select(EventEndpoint.capacity).where(EventEndpoint.session_id == 3))
        assert sorted(capacities) == [25, 25]
    # Citizens now see it.
    citizen = ChatUser(staff_app.dialog, user_id="88")
    await consent(citizen)
    await citizen.press("sessions")
    assert "Tiếp công dân tháng 2/2027" in citizen.text


async def test_scoped_officer_sees_only_their_endpoints_and_no_denouncer(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await citizens_registered(staff_app)
    officer = await officer_for(staff_app, admin, "504", scope="P-TANBINH")
    await officer.say(f"/session {world.first_id}")
    assert "Phường Tân Bình" in officer.text and "Xã Bình Chánh" not in officer.text
    assert "Nguyễn Văn An" in officer.text
    assert "T*** T** B***" in officer.text and "Trần Thị Bình" not in officer.text
    await officer.say("/find cuong")
    assert "Không tìm thấy" in officer.text  # Bình Chánh is outside the scope
    await officer.say("/find binh")
    assert "Không tìm thấy" in officer.text  # a denouncer is not found by name without the right
    await officer.say("/find TCD-2026-000002")
    assert "T*** T** B***" in officer.text
    await officer.say("/find " + "nguyễn " * 2000)  # pasted by mistake: not echoed back
    assert "Cách dùng: /find" in officer.text and len(officer.text) < 1000
    await officer.say("/session 99")
    assert "Không có buổi tiếp số 99" in officer.text
    await officer.say("/session abc")
    assert "Cách dùng: /session" in officer.text
    async with staff_app.sessions() as db:
        views = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "denouncer.view")
        )
    assert views == 0

    await admin.say(f"/session {world.first_id}")
    assert "Trần Thị Bình" in admin.text and "Lê Văn Cường" in admin.text
    async with staff_app.sessions() as db:
        views = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "denouncer.view")
        )
    assert views == 1  # the admin's view of the denouncer is on record


async def test_review_decisions_reach_the_citizen(staff_app: App, world: World, admin: ChatUser) -> None:
    users = await citizens_registered(staff_app)
    officer = await officer_for(staff_app, admin, "505", scope="P-TANBINH")
    await officer.say("/review")
    assert "ĐĂNG KÝ TCD-2026-000001" in officer.text and "Nguyễn Văn An" in officer.text
    await officer.press("Tiếp nhận")
    assert "TCD-2026-000001: Thụ lý" in officer.text or "TCD-2026-000001:" in officer.text
    assert "ĐĂNG KÝ TCD-2026-000002" in officer.text and "T*** T** B***" in officer.text
    await officer.press("Sửa phân loại")
    await officer.press("Kiến nghị")  # as a petition the denouncer's name would show: not without the right
    assert "Đây là đơn tố cáo" in officer.text and "Trần" not in officer.text
    await officer.press("Môi trường")
    assert "Đã sửa phân loại" in officer.text and "Tố cáo — Môi trường" in officer.text
    await officer.press("Chuyển cơ quan")
    await officer.press("Thanh tra tỉnh")
    await officer.say("Đề nghị Thanh tra tỉnh xem xét theo thẩm quyền.")
    assert "Không còn đăng ký mới" in officer.text  # Bình Chánh's is not theirs

    await admin.say("/review")
    assert "ĐĂNG KÝ TCD-2026-000003" in admin.text
    await admin.press("Trả lại")
    await admin.say("ngắn")
    assert "từ 10 đến 2000 ký tự" in admin.text
    await admin.say("Vụ việc thuộc thẩm quyền của UBND xã Bình Chánh; xin liên hệ bộ phận một cửa.")
    async with staff_app.sessions() as db:
        routes = {r.code: (r.case.route, r.case.forwarded_to) for r in await db.scalars(select(SignUp))}
    assert routes == {
        "TCD-2026-000001": ("accept", ""),
        "TCD-2026-000002": ("forward", "Thanh tra tỉnh"),
        "TCD-2026-000003": ("return", ""),
    }
    channel = RecordingChannel()
    assert (
        await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
        == 3
    )
    sent = dict(channel.sent)
    assert "đã được tiếp nhận cho buổi tiếp công dân" in sent["1"]
    assert "đã được chuyển đến Thanh tra tỉnh" in sent["2"] and "Trần" not in sent["2"]
    assert "thuộc thẩm quyền của UBND xã Bình Chánh" in sent["3"]
    assert users  # all three were told


async def test_outcome_is_recorded_and_told(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await citizens_registered(staff_app)
    await admin.say("/outcome")
    assert "Cách dùng: /outcome" in admin.text
    await admin.say("/outcome TCD-2026-000099")
    assert "Không tìm thấy" in admin.text
    await admin.say("/outcome tcd-2026-000001")  # the session has not taken place yet
    assert "chưa diễn ra: kết quả giải quyết chỉ ghi được sau khi buổi tiếp bắt đầu" in admin.text
    assert "CÁN BỘ (quản trị)" in admin.prompt.text
    clock.set(world.first_start + timedelta(hours=2))
    await admin.say("/outcome tcd-2026-000001")
    await admin.say("UBND phường đã chi trả tiền bồi thường ngày 20/12/2026; theo dõi tiếp.")
    assert "Đã ghi kết quả cho đăng ký TCD-2026-000001" in admin.text
    channel = RecordingChannel()
    await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
    assert any("Kết quả giải quyết đăng ký TCD-2026-000001" in text for _, text in channel.sent)


async def test_a_mistyped_command_gets_the_command_list(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/sesions")
    assert "chưa hiểu lệnh này" in admin.text and "CÁN BỘ (quản trị)" in admin.text
    await admin.say("/sessions")
    await admin.say("lung tung")
    assert "chưa hiểu lệnh này" in admin.text and "/newevent" in admin.text
    await admin.say("/huy")
    assert "CÁN BỘ (quản trị)" in admin.text


async def test_export_sends_the_three_documents_masked_by_right(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await citizens_registered(staff_app)
    officer = await officer_for(staff_app, admin, "506", scope="P-TANBINH")
    await officer.say("/export")
    assert "Cách dùng: /export" in officer.text
    await officer.say(f"/export {world.first_id}")
    documents = [reply.document for reply in officer.last if reply.document is not None]
    assert [d.filename for d in documents] == [
        "so-tiep-cong-dan-2026-12-07.xlsx",
        "so-tiep-cong-dan-2026-12-07.docx",
        "so-tiep-cong-dan-2026-12-07.csv",
    ]
    assert "Số đăng ký: 2; thông tin người tố cáo được che: 1" in officer.text
    sheet_text = documents[2].content.decode("utf-8-sig")
    assert "Nguyễn Văn An" in sheet_text and "Trần Thị Bình" not in sheet_text
    assert "Lê Văn Cường" not in sheet_text  # Bình Chánh is outside the officer's scope

    await admin.say(f"/export {world.first_id}")
    admin_csv = next(r.document for r in admin.last if r.document and r.document.filename.endswith(".csv"))
    assert "Trần Thị Bình" in admin_csv.content.decode("utf-8-sig")
    async with staff_app.sessions() as db:
        views = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "denouncer.view")
        )
    assert views == 1
    async with staff_app.sessions() as db:
        exports = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "session.export")
        )
    assert exports == 2


async def test_export_in_a_chat_that_takes_no_files_says_where_to_get_them(
    staff_app: App, world: World
) -> None:
    await citizens_registered(staff_app)
    zalo_bot = ChatUser(staff_app.dialog, user_id=ADMIN_ID, capabilities=TEXT_ONLY)  # text only
    await zalo_bot.say(f"/export {world.first_id}")
    assert "không nhận được tệp" in zalo_bot.text and "/export trên Telegram" in zalo_bot.text
    assert all(reply.document is None for reply in zalo_bot.last)
    async with staff_app.sessions() as db:
        exported = await db.scalar(select(func.count()).where(AuditEntry.action == "session.export"))
    assert exported == 0  # nothing left the office


async def test_export_sends_only_the_formats_the_chat_can_carry(staff_app: App, world: World) -> None:
    await citizens_registered(staff_app)
    word_only = replace(TEXT_ONLY, document_types=frozenset({DOCX_TYPE}), max_document_bytes=5 * 1024 * 1024)
    zalo_oa = ChatUser(staff_app.dialog, user_id=ADMIN_ID, capabilities=word_only)
    await zalo_oa.say(f"/export {world.first_id}")
    documents = [reply.document for reply in zalo_oa.last if reply.document is not None]
    assert [d.filename for d in documents] == ["so-tiep-cong-dan-2026-12-07.docx"]
    assert "Gửi kèm: DOCX." in zalo_oa.text

    zalo_oa.capabilities = replace(word_only, max_document_bytes=1000)  # less than any Word file
    await zalo_oa.say(f"/export {world.first_id}")
    assert "quá lớn" in zalo_oa.text and all(reply.document is None for reply in zalo_oa.last)
    async with staff_app.sessions() as db:
        exports = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "session.export")))
    assert [entry.details["formats"] for entry in exports] == [["docx"]]  # the refused one left nothing


async def test_stats(staff_app: App, world: World, admin: ChatUser) -> None:
    await citizens_registered(staff_app)
    await admin.say("/stats")
    assert "3" in admin.text and "Phường Tân Bình" in admin.text and "Tố cáo" in admin.text
    await admin.say("/stats 01/01/2027 31/12/2027")
    assert "Phường Tân Bình" not in admin.text  # those sessions are in December 2026
    for wrong in ("/stats hôm qua", "/stats 31/12/2027 01/01/2027", "/stats 01/01/2027"):
        await admin.say(wrong)
        assert "Cách dùng: /stats" in admin.text, wrong


async def test_a_denouncers_documents_go_only_to_those_allowed(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await citizens_registered(staff_app)
    async with staff_app.sessions() as db, db.begin():
        denunciation = await db.scalar(select(SignUp).where(SignUp.code == "TCD-2026-000002"))
        assert denunciation is not None
        denunciation.case.attachments = [
            {
                "kind": "document",
                "file_id": "f-1",
                "name": "to-cao.pdf",
                "mime_type": "application/pdf",
                "size": 1,
            }
        ]
    officer = await officer_for(staff_app, admin, "507", scope="P-TANBINH")
    await officer.say("/review")
    await officer.press("Để sau")  # the complaint; the denunciation comes next
    assert "ĐĂNG KÝ TCD-2026-000002" in officer.text
    assert "1 tệp (chỉ người được phép" in officer.text and officer.prompt.files == ()
    await admin.say("/review")
    await admin.press("Để sau")
    assert "to-cao.pdf" in admin.text and [f.file_id for f in admin.prompt.files] == ["f-1"]
