"""Explanation hearings (phiên giải trình), their roles and their setting up: agency liaisons
and delegates invited and joined, what a liaison may (not) reach, /newevent of kind hearing
through the console and the fake Telegram server, a hearing plan file, /sessions and /session
showing a hearing, and a hearing moved or cancelled with everyone concerned told."""

from __future__ import annotations

from bot.app import App
from storage import hearings
from storage.event_kinds import Timing
from tests.conftest import World, local
from tests.support import ChatUser

START = local(2026, 12, 15, 8, 0)
TITLE = "Phiên giải trình về cấp giấy chứng nhận quyền sử dụng đất"
HOST = "Thường trực HĐND tỉnh"
TOPICS = ("Cấp giấy chứng nhận quyền sử dụng đất", "Ứng dụng công nghệ thông tin trong cải cách hành chính")
AGENCY_A, AGENCY_B = "Sở Tài nguyên và Môi trường", "UBND xã Bình Chánh"


async def made_hearing(admin: ChatUser) -> int:
    """/newevent of kind hearing, typed as an admin would, the defaults taken."""
    await admin.say("/newevent")
    await admin.press("Phiên giải trình")
    assert "Tên phiên giải trình" in admin.prompt.text
    await admin.say(TITLE)
    assert "chủ trì phiên giải trình" in admin.prompt.text
    await admin.say(HOST)
    await admin.say("15/12/2026 08:00")
    await admin.say("P-TANBINH, X-BINHCHANH")
    await admin.say("https://meet.example/pgt")
    assert "nội dung giải trình" in admin.prompt.text
    await admin.say(TOPICS[0])
    await admin.say(TOPICS[1])
    await admin.press("Xong")
    await admin.say(f"{AGENCY_A}: 1, 2\n{AGENCY_B}: 2")
    await admin.press("Xong")
    assert "Mặc định 7 ngày trước phiên: Thứ Ba, 08/12/2026 08:00" in admin.prompt.text
    await admin.press("default")
    assert "Mặc định 3 ngày trước phiên: Thứ Bảy, 12/12/2026 08:00" in admin.prompt.text
    await admin.press("default")
    assert "XIN KIỂM TRA LẠI" in admin.prompt.text
    await admin.press("Lưu phiên giải trình")
    assert "Đã tạo phiên giải trình #" in admin.text
    return int(admin.text.split("#")[1].split(":")[0])


async def test_newevent_makes_a_hearing_with_its_topics_agencies_and_deadlines(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    hearing_id = await made_hearing(admin)
    async with staff_app.sessions() as db:
        info = await hearings.hearing_info(db, hearing_id, Timing())
    assert info is not None
    assert info.title == TITLE and info.host == HOST and info.starts_at == START
    assert [t.title for t in info.topics] == list(TOPICS)
    assert [(a.name, len(a.topic_ids)) for a in info.agencies] == [(AGENCY_A, 2), (AGENCY_B, 1)]
    assert info.topics_of(info.agencies[1].agency_id)[0].title == TOPICS[1]
    assert info.report_deadline == local(2026, 12, 8, 8, 0)
    assert info.questions_deadline == local(2026, 12, 12, 8, 0)
    assert not info.filed and info.questions == 0 and info.speakers == 0


async def test_sessions_and_session_show_a_hearing(staff_app: App, world: World, admin: ChatUser) -> None:
    hearing_id = await made_hearing(admin)
    await admin.say("/sessions")
    assert f"#{hearing_id} {TITLE}" in admin.text
    assert "Loại: Phiên giải trình" in admin.text
    assert "Cơ quan đã gửi báo cáo: 0/2" in admin.text
    assert "Hạn gửi báo cáo: Thứ Ba, 08/12/2026 08:00" in admin.text
    await admin.say(f"/session {hearing_id}")
    text = admin.text
    assert f"PHIÊN GIẢI TRÌNH #{hearing_id}" in text and "Chủ trì: Thường trực HĐND tỉnh" in text
    assert f"1. {TOPICS[0]}\n2. {TOPICS[1]}" in text
    assert f"• {AGENCY_A} — nội dung 1, 2: chưa gửi báo cáo" in text
    assert f"• {AGENCY_B} — nội dung 2: chưa gửi báo cáo" in text
    assert "Hạn nhận câu hỏi của công dân: Thứ Bảy, 12/12/2026 08:00" in text
    assert "Câu hỏi của công dân: 0" in text and "Đại biểu đăng ký phát biểu: 0" in text
    assert "Điểm cầu (2): Phường Tân Bình, Xã Bình Chánh" in text
