"""Explanation hearings (phiên giải trình), their roles and their setting up: agency liaisons
and delegates invited and joined, what a liaison may (not) reach, /newevent of kind hearing
through the console and the fake Telegram server, a hearing plan file, /sessions and /session
showing a hearing, and a hearing moved or cancelled with everyone concerned told."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from storage import hearings, staff
from storage.event_kinds import Timing
from storage.identity import UserKey
from storage.models import (
    AuditEntry,
    CaseType,
    Citizen,
    Event,
    EventKind,
    StaffMember,
    StaffRole,
    Submission,
    SubmissionKind,
)
from storage.session_plan import SessionFileError, import_sessions, read_session_plan
from tests.conftest import ADMIN_ID, VN, World, local
from tests.fakes.telegram_api import FakeTelegram
from tests.flows import consent
from tests.support import ChatUser
from tests.telegram_harness import TelegramUser, make_telegram_bot
from tests.test_schedule_changes import told

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
    await admin.press("Đã nhập xong")
    await admin.say(f"{AGENCY_A}: 1, 2\n{AGENCY_B}: 2")
    await admin.press("Đã nhập xong")
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


# --- a hearing plan file -------------------------------------------------------------

HEARING_CSV = (
    "date,time,title,host,kind,endpoints,online_room,topics,agencies,report_deadline,questions_deadline\n"
    f"15/12/2026,08:00,{TITLE},{HOST},hearing,P-TANBINH;X-BINHCHANH,https://meet/pgt,"
    f'"{TOPICS[0]}; {TOPICS[1]}","{AGENCY_A}: 1, 2; {AGENCY_B}: 2",05/12/2026 17:00,\n'
)
HEARING_YAML = f"""\
events:
  - kind: hearing
    title: Phiên giải trình chuyên đề
    host: {HOST}
    date: 20/01/2027
    time: "14:00"
    endpoints: all
    topics: [Giải phóng mặt bằng, Nước sạch nông thôn]
    agencies:
      Sở Xây dựng: [2]
      {AGENCY_A}: [1]
    questions_deadline: 15/01/2027
"""


async def imported(app: App, path: Path) -> tuple[int, int]:
    plan = read_session_plan(path, VN, 30)
    async with app.sessions() as db, db.begin():
        result = await import_sessions(db, plan, now=app.clock.now(), lead_days=5, timing=app.settings.timing)
    return result.added, result.skipped


async def hearing_titled(app: App, title: str) -> hearings.HearingInfo:
    async with app.sessions() as db:
        event_id = await db.scalar(select(Event.id).where(Event.title == title))
        assert event_id is not None
        info = await hearings.hearing_info(db, event_id, app.settings.timing)
    assert info is not None
    return info


async def test_a_hearing_plan_is_imported_with_its_topics_agencies_and_deadlines(
    app: App, world: World, tmp_path: Path
) -> None:
    (tmp_path / "plan.csv").write_text(HEARING_CSV, encoding="utf-8")
    assert await imported(app, tmp_path / "plan.csv") == (1, 0)
    info = await hearing_titled(app, TITLE)
    assert info.host == HOST and info.starts_at == START and info.online_room == "https://meet/pgt"
    assert [t.title for t in info.topics] == list(TOPICS)
    assert [(a.name, [info.topic(i).position for i in a.topic_ids]) for a in info.agencies] == [  # type: ignore[union-attr]
        (AGENCY_A, [1, 2]),
        (AGENCY_B, [2]),
    ]
    assert info.report_deadline == local(2026, 12, 5, 17, 0)  # as written, to the minute
    assert info.questions_deadline == local(2026, 12, 12, 8, 0)  # the default: 3 days before
    assert await imported(app, tmp_path / "plan.csv") == (0, 1)  # imported again: skipped

    (tmp_path / "plan.yaml").write_text(HEARING_YAML, encoding="utf-8")
    assert await imported(app, tmp_path / "plan.yaml") == (1, 0)
    other = await hearing_titled(app, "Phiên giải trình chuyên đề")
    assert [(a.name, len(a.topic_ids)) for a in other.agencies] == [("Sở Xây dựng", 1), (AGENCY_A, 1)]
    assert other.report_deadline == local(2027, 1, 13, 14, 0)  # the default: 7 days before
    assert other.questions_deadline == local(2027, 1, 15, 23, 59)  # a date alone: its last minute
    async with app.sessions() as db:  # the agency named in both files is one agency
        assert [a.name for a in await hearings.list_agencies(db)].count(AGENCY_A) == 1


async def test_a_hearing_row_without_topics_or_with_a_wrong_topic_number_is_refused(
    app: App, world: World, tmp_path: Path
) -> None:
    text = (
        "date,time,title,kind,endpoints,topics,agencies,report_deadline\n"
        "15/12/2026,08:00,Phiên A,hearing,all,,Sở Xây dựng,\n"
        "16/12/2026,08:00,Phiên B,hearing,all,Một nội dung,Sở Xây dựng: 2,16/12/2026 09:00\n"
        "17/12/2026,08:00,Tiếp công dân,reception,all,Một nội dung,,\n"
    )
    (tmp_path / "bad.csv").write_text(text, encoding="utf-8")
    with pytest.raises(SessionFileError) as refused:
        await imported(app, tmp_path / "bad.csv")
    message = str(refused.value)
    assert "row 2: " in message and "topics missing" in message
    assert "row 3: " in message and "report_deadline is not before the hearing" in message
    assert "'Sở Xây dựng': topic numbers are 1 to 1" in message
    assert "row 4: topics is for hearings only" in message
    async with app.sessions() as db:
        assert await db.scalar(select(Event.id).where(Event.kind == EventKind.HEARING)) is None


async def test_a_hearing_whose_questions_deadline_has_passed_needs_force(
    app: App, world: World, tmp_path: Path
) -> None:
    """Now is 23/11 09:00: a hearing on 25/11 would take questions until 22/11 (3 days before),
    so no citizen could send one; /newevent warns, the import refuses unless forced."""
    text = (
        "date,time,title,kind,endpoints,topics,agencies\n"
        "25/12/2026,08:00,Phiên C,hearing,all,Một nội dung,Sở Y tế\n"
    )
    (tmp_path / "late.csv").write_text(text.replace("25/12/2026", "25/11/2026"), encoding="utf-8")
    with pytest.raises(SessionFileError) as refused:
        await imported(app, tmp_path / "late.csv")
    assert "row 2: its questions deadline has passed" in str(refused.value)
    plan = read_session_plan(tmp_path / "late.csv", VN, 30)
    async with app.sessions() as db, db.begin():
        forced = await import_sessions(
            db, plan, now=app.clock.now(), lead_days=5, timing=app.settings.timing, force=True
        )
    assert forced.added == 1
    (tmp_path / "later.csv").write_text(text, encoding="utf-8")  # a month later: taken
    assert await imported(app, tmp_path / "later.csv") == (1, 0)


# --- liaisons and delegates: invited, joined, listed; what a liaison may not reach ----------


def code_in(text: str) -> str:
    return text.split("Mã mời: ")[1].split()[0]


async def liaison_for(
    app: App, admin: ChatUser, user_id: str, agency: str, *, typed: bool = True
) -> ChatUser:
    """A liaison of `agency` (typed: added when new; else pressed among those listed) who joined."""
    await admin.say("/invite")
    await admin.press("Đầu mối cơ quan giải trình")
    if typed:
        await admin.say(agency)
    else:
        await admin.press(agency)
    assert f"Đầu mối của: {agency}" in admin.text
    liaison = ChatUser(app.dialog, user_id=user_id)
    await liaison.say(f"/join {code_in(admin.text)}")
    assert f"đầu mối của {agency}" in liaison.text
    return liaison


async def test_liaisons_and_delegates_are_invited_joined_listed_and_audited(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/invite")
    assert "Đầu mối cơ quan giải trình" in admin.labels and "Đại biểu HĐND" in admin.labels
    await admin.press("Đầu mối cơ quan giải trình")
    assert "Chưa có cơ quan nào" in admin.prompt.text
    await admin.say("Sở")
    assert "từ 3 đến 200 ký tự" in admin.text
    await admin.say("sở  tài nguyên và môi trường")  # the first spelling is the agency's name
    liaison = ChatUser(staff_app.dialog, user_id="601")
    await liaison.say(f"/join {code_in(admin.text)}")
    assert "đầu mối của sở tài nguyên và môi trường" in liaison.text
    assert "PHIÊN GIẢI TRÌNH — Ông/Bà là đầu mối của sở tài nguyên và môi trường" in liaison.prompt.text
    # A second liaison of the same agency: chosen from the list, not added twice.
    second = await liaison_for(staff_app, admin, "602", "sở tài nguyên và môi trường", typed=False)
    await second.say("/commands")
    assert "/commands" in second.text and "/sessions" not in second.text

    await admin.say("/invite")
    await admin.press("Đại biểu HĐND")
    assert "Vai trò: đại biểu HĐND" in admin.text
    delegate = ChatUser(staff_app.dialog, user_id="603")
    await delegate.say(f"/join {code_in(admin.text)}")
    assert "đại biểu HĐND, có thể đăng ký phát biểu" in delegate.text
    assert "Ông/Bà là đại biểu HĐND" in delegate.prompt.text

    await admin.say("/invite")
    await admin.press("Cán bộ, đồng thời là đại biểu HĐND")
    assert "đồng thời là đại biểu HĐND" in admin.prompt.text
    await admin.say("P-TANBINH")
    await admin.press("Không")
    assert "Phạm vi: Phường Tân Bình" in admin.text and "đồng thời là đại biểu HĐND" in admin.text
    officer = ChatUser(staff_app.dialog, user_id="604")
    await officer.say(f"/join {code_in(admin.text)}")
    assert "đã được thêm làm cán bộ" in officer.text and "Ông/Bà đồng thời là đại biểu HĐND." in officer.text
    await officer.say("/sessions")
    assert "CÁC BUỔI TIẾP, HỘI NGHỊ, PHIÊN GIẢI TRÌNH SẮP TỚI" in officer.text  # still an officer

    await admin.say("/staff")
    listed = admin.text
    assert "test:601 — đầu mối cơ quan giải trình\nCơ quan: sở tài nguyên và môi trường" in listed
    assert "test:603 — đại biểu HĐND" in listed
    assert "test:604 — cán bộ tiếp công dân" in listed and "Đại biểu HĐND: có" in listed

    async with staff_app.sessions() as db:
        rows = {m.user_id: m for m in await db.scalars(select(StaffMember))}
        assert rows["601"].role == StaffRole.LIAISON and rows["601"].agency_id == rows["602"].agency_id
        assert (
            rows["603"].role == StaffRole.LIAISON and rows["603"].agency_id is None and rows["603"].delegate
        )
        assert rows["604"].role == StaffRole.OFFICER and rows["604"].delegate
        assert len(await hearings.list_agencies(db)) == 1
        entries = list(await db.scalars(select(AuditEntry).where(AuditEntry.action.like("staff.%"))))
    invites = [e.details for e in entries if e.action == "staff.invite"]
    joins = [e.details for e in entries if e.action == "staff.join"]
    assert [d["invitee"] for d in invites] == ["liaison", "liaison", "delegate", "officer"]
    assert [(d["role"], d["delegate"]) for d in joins] == [
        ("liaison", False),
        ("liaison", False),
        ("liaison", True),
        ("officer", True),
    ]
    assert all(e.actor == f"test:{ADMIN_ID}" for e in entries if e.action == "staff.invite")


STAFF_COMMANDS = (
    "/sessions",
    "/session 1",
    "/review",
    "/find an",
    "/outcome TCD-2026-000001",
    "/petitions",
    "/export 1",
    "/report",
    "/stats",
    "/undelivered",
    "/newevent",
    "/reschedule 1",
    "/cancelsession 1",
    "/broadcast",
    "/broadcasts",
    "/invite",
    "/staff",
    "/endpoints",
)


@pytest.mark.parametrize("who", ["liaison", "delegate"])
async def test_a_liaison_or_a_delegate_reaches_no_staff_flow(
    staff_app: App, world: World, admin: ChatUser, who: str
) -> None:
    hearing_id = await made_hearing(admin)
    if who == "liaison":
        user = await liaison_for(staff_app, admin, "610", AGENCY_B)
        home = f"đầu mối của {AGENCY_B}"
    else:
        await admin.say("/invite")
        await admin.press("Đại biểu HĐND")
        user = ChatUser(staff_app.dialog, user_id="611")
        await user.say(f"/join {code_in(admin.text)}")
        home = "đại biểu HĐND"
    for command in (*STAFF_COMMANDS, f"/session {hearing_id}"):
        await user.say(command)
        assert "không có quyền dùng chức năng này" in user.text, command
        assert home in user.prompt.text and "CÁN BỘ" not in user.prompt.text, command
        assert TITLE not in user.text and "Tân Bình" not in user.text, command  # no staff data
    await user.say("/lenhkhongco")  # a command nobody has: their own list, not the staff's
    assert home in user.prompt.text and "/review" not in user.prompt.text
    await user.say("/huy")
    assert home in user.prompt.text
    # Their citizen side is still theirs.
    await user.say("/menu")
    assert "DANH MỤC CHÍNH" in user.prompt.text or "chính sách" in user.prompt.text.lower()


async def test_a_citizen_sees_no_hearing_data_of_the_staff(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    hearing_id = await made_hearing(admin)
    citizen = ChatUser(staff_app.dialog, user_id="77")
    await consent(citizen)
    for command in ("/sessions", f"/session {hearing_id}", "/invite", "/staff"):
        await citizen.say(command)
        assert "không có quyền" in citizen.text and AGENCY_A not in citizen.text, command
        assert "DANH MỤC CHÍNH" in citizen.prompt.text
    await citizen.say("/join WXYZ-2345")
    assert "Mã mời không đúng" in citizen.text


async def test_an_admin_becomes_a_delegate_only_with_a_delegates_invite(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/invite")
    await admin.press("Đầu mối cơ quan giải trình")
    await admin.say(AGENCY_A)
    await admin.say(f"/join {code_in(admin.text)}")
    assert "Ông/Bà đã là quản trị" in admin.text  # a liaison's invite would narrow an admin
    await admin.say("/invite")
    await admin.press("Đại biểu HĐND")
    await admin.say(f"/join {code_in(admin.text)}")
    assert "đại biểu HĐND" in admin.text
    await admin.say("/commands")
    assert "quản trị, đại biểu HĐND" in admin.text and "/newevent" in admin.text


# --- a hearing moved or cancelled: whom it concerns is told ----------------------------


async def concerned_by(app: App, admin: ChatUser, hearing_id: int) -> dict[str, str]:
    """A citizen with a question on it (user 77), a delegate registered to speak (user 620)
    and the liaison of an agency that must explain (user 621), with their hand-ins stored as
    the question and speaking flows store them; ids of the users by role."""
    citizen = ChatUser(app.dialog, user_id="77")
    await consent(citizen)
    await admin.say("/invite")
    await admin.press("Đại biểu HĐND")
    delegate = ChatUser(app.dialog, user_id="620")
    await delegate.say(f"/join {code_in(admin.text)}")
    await liaison_for(app, admin, "621", AGENCY_B)
    now = app.clock.now()
    async with app.sessions() as db, db.begin():
        info = await hearings.hearing_info(db, hearing_id, app.settings.timing)
        assert info is not None
        asker = await db.scalar(select(Citizen.id).where(Citizen.channel_user_id == "77"))
        speaker = await db.scalar(select(StaffMember.id).where(StaffMember.user_id == "620"))
        common = {"event_id": hearing_id, "case_type": CaseType.PETITION, "field": "", "created_at": now}
        db.add_all(
            [
                Submission(
                    kind=SubmissionKind.QUESTION,
                    citizen_id=asker,
                    topic_id=info.topics[0].id,
                    code="CHGT-2026-000001",
                    summary="Vì sao hồ sơ cấp giấy chứng nhận của tôi quá hạn ba tháng?",
                    updated_at=now,
                    **common,
                ),
                Submission(
                    kind=SubmissionKind.SPEECH,
                    staff_id=speaker,
                    agency_id=info.agencies[0].agency_id,
                    topic_id=info.topics[0].id,
                    summary="Đề nghị Sở cho biết số hồ sơ tồn đọng.",
                    position=1,
                    updated_at=now,
                    **common,
                ),
                Submission(
                    kind=SubmissionKind.REPORT,
                    staff_id=speaker,
                    agency_id=info.agencies[0].agency_id,
                    summary="",
                    attachments=[{"name": "bao-cao.pdf"}],
                    updated_at=now + timedelta(hours=2),
                    **common,
                ),
            ]
        )
    return {"question": "77", "speaker": "620", "liaison": "621"}


async def test_a_hearing_moved_tells_questioners_speakers_and_liaisons(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    hearing_id = await made_hearing(admin)
    users = await concerned_by(staff_app, admin, hearing_id)
    await admin.say(f"/session {hearing_id}")
    assert "Câu hỏi của công dân: 1" in admin.text and "Đại biểu đăng ký phát biểu: 1" in admin.text
    assert (
        f"• {AGENCY_A} — nội dung 1, 2: đã gửi báo cáo lúc Thứ Hai, 23/11/2026 09:00, thay lần cuối"
        in admin.text
    )
    assert "(đã gửi báo cáo 1/2)" in admin.text

    clock.advance(local(2026, 12, 10, 8, 0) - clock.now())  # 5 days before, to the minute: in time
    await admin.say(f"/reschedule {hearing_id}")
    await admin.say("22/12/2026 08:00")
    await admin.say("Trùng lịch kỳ họp chuyên đề")
    assert "⚠️" not in admin.text and "Xác nhận dù thời hạn thông báo ngắn" not in admin.labels
    await admin.press("Không, giữ nguyên")
    clock.advance(timedelta(minutes=1))  # a minute later the move needs the override
    await admin.say(f"/reschedule {hearing_id}")
    await admin.say("22/12/2026")
    await admin.say("08:00")
    await admin.say("Trùng lịch kỳ họp chuyên đề")
    assert "⚠️ Thông báo thay đổi phải gửi trước ít nhất 5 ngày" in admin.text
    assert "Số người sẽ được báo (công dân đã gửi câu hỏi" in admin.text and "): 3" in admin.text
    await admin.press("Xác nhận dù thời hạn thông báo ngắn")
    assert (
        f"Đã dời phiên giải trình #{hearing_id} sang Thứ Ba, 22/12/2026 08:00. Đã báo cho 3 người."
        in admin.text
    )
    async with staff_app.sessions() as db:
        info = await hearings.hearing_info(db, hearing_id, staff_app.settings.timing)
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.reschedule"))
    assert info is not None and info.starts_at == local(2026, 12, 22, 8, 0)
    assert info.report_deadline == local(2026, 12, 15, 8, 0)  # the defaults moved with it
    assert info.questions_deadline == local(2026, 12, 19, 8, 0)
    assert entry is not None and entry.details["short_notice_override"] and entry.details["told"] == 3
    sent = await told(staff_app)
    assert set(sent) == set(users.values())
    for text in sent.values():
        assert "THAY ĐỔI LỊCH PHIÊN GIẢI TRÌNH" in text and "sang Thứ Ba, 22/12/2026 08:00" in text
    assert "Câu hỏi được tiếp nhận đến hết Thứ Bảy, 19/12/2026 08:00" in sent["77"]
    assert "Đăng ký phát biểu của Ông/Bà vẫn được giữ nguyên" in sent["620"]
    assert "Hạn cơ quan gửi báo cáo giải trình: Thứ Ba, 15/12/2026 08:00" in sent["621"]


async def test_a_hearing_cancelled_tells_whom_it_concerns_and_keeps_a_set_deadline_on_a_move(
    staff_app: App, world: World, admin: ChatUser, tmp_path: Path
) -> None:
    (tmp_path / "plan.csv").write_text(HEARING_CSV, encoding="utf-8")  # reports due 05/12 17:00, as set
    assert await imported(staff_app, tmp_path / "plan.csv") == (1, 0)
    hearing_id = (await hearing_titled(staff_app, TITLE)).id
    await admin.say(f"/reschedule {hearing_id}")
    await admin.say("16/12/2026 14:00")
    await admin.say("Đổi hội trường")
    assert "⚠️" not in admin.text and "): 0" in admin.text
    await admin.press("Xác nhận")
    info = await hearing_titled(staff_app, TITLE)
    assert info.report_deadline == local(2026, 12, 5, 17, 0)  # set by the plan: it stays
    assert info.questions_deadline == local(2026, 12, 13, 14, 0)  # the default follows

    users = await concerned_by(staff_app, admin, hearing_id)
    await admin.say(f"/cancelsession {hearing_id}")
    await admin.say("Thường trực HĐND quyết định lùi sang quý sau")
    assert "Hủy phiên giải trình" in admin.text and "): 3" in admin.text
    await admin.press("Xác nhận")
    assert f"Đã hủy phiên giải trình #{hearing_id}. Đã báo cho 3 người." in admin.text
    sent = await told(staff_app)
    assert set(sent) == set(users.values())
    assert all("HỦY PHIÊN GIẢI TRÌNH" in text for text in sent.values())
    assert "Câu hỏi Ông/Bà đã gửi vẫn được lưu giữ" in sent["77"]
    assert "Báo cáo giải trình cơ quan đã gửi" in sent["621"]
    await admin.say("/sessions")
    assert TITLE not in admin.text


# --- through the fake Telegram server ---------------------------------------------------


async def test_a_hearing_is_made_and_a_liaison_joins_through_telegram(
    staff_app: App, world: World, fake: FakeTelegram
) -> None:
    staff_app.settings.admins = "telegram:777"
    staff_app.settings.__dict__.pop("admin_keys", None)  # the cached parse of ADMINS, if made
    staff_app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(staff_app, fake)
    polling = asyncio.create_task(telegram.run_polling())
    try:
        admin = TelegramUser(telegram, fake, 777)
        await admin.say("/newevent")
        await admin.press("Phiên giải trình")
        await admin.say("Phiên giải trình qua Telegram")
        await admin.say(HOST)
        await admin.say("15/12/2026")
        await admin.say("14:30")
        await admin.press("Tất cả điểm cầu")
        await admin.press("Chưa có")
        await admin.say(f"1. {TOPICS[0]}\n2. {TOPICS[1]}")  # several on lines, numbered
        assert f"1. {TOPICS[0]}\n2. {TOPICS[1]}" in admin.text
        await admin.press("Đã nhập xong")
        await admin.say(f"{AGENCY_A}: 3")
        assert "số nội dung không đúng. Phiên này có 2 nội dung" in admin.text
        await admin.say(f"{AGENCY_A}: 1\nSở Thông tin và Truyền thông")  # no numbers: every topic
        await admin.say(f"{AGENCY_A.upper()}: 2")  # named again: its topics added
        assert f"• {AGENCY_A} — nội dung 1, 2" in admin.text
        await admin.press("Đã nhập xong")
        await admin.say("16/12/2026 08:00")
        assert "phải trước giờ bắt đầu phiên giải trình (Thứ Ba, 15/12/2026 14:30)" in admin.text
        await admin.say("07/12/2026 17:00")  # typed: kept to the minute
        await admin.say("12/12/2026")  # a date alone: its last minute
        assert "Hạn gửi báo cáo: Thứ Hai, 07/12/2026 17:00" in admin.text
        assert "Hạn nhận câu hỏi của công dân: Thứ Bảy, 12/12/2026 23:59" in admin.text
        await admin.press("Lưu phiên giải trình")
        assert "2 nội dung, 2 cơ quan giải trình" in admin.text

        await admin.say("/invite")
        await admin.press("Đầu mối cơ quan giải trình")
        await admin.press("Sở Thông tin và Truyền thông")
        code = code_in(admin.text)
        liaison = TelegramUser(telegram, fake, 779)
        await liaison.say(f"/join {code}")
        assert "đầu mối của Sở Thông tin và Truyền thông" in liaison.text
        menu = {c["command"] for c in fake.chat_commands[(779, "vi")]}
        assert "commands" in menu and "menu" in menu  # their own short list, and the citizens'
        assert not menu & {"sessions", "review", "export", "petitions", "newevent", "invite"}
        await liaison.say("/sessions")
        assert "không có quyền dùng chức năng này" in liaison.text
    finally:
        await telegram.stop()
        await asyncio.wait_for(polling, timeout=10)
    info = await hearing_titled(staff_app, "Phiên giải trình qua Telegram")
    assert info.starts_at == local(2026, 12, 15, 14, 30)
    assert [(a.name, len(a.topic_ids)) for a in info.agencies] == [
        (AGENCY_A, 2),
        ("Sở Thông tin và Truyền thông", 2),
    ]
    assert info.report_deadline == local(2026, 12, 7, 17, 0)
    assert info.questions_deadline == local(2026, 12, 12, 23, 59)


async def test_a_liaison_acts_for_their_agency_only(staff_app: App, world: World, admin: ChatUser) -> None:
    """What the liaison flows read: the actor's agency, and the hearings asking it to explain."""
    first = await made_hearing(admin)  # Sở Tài nguyên và Môi trường and UBND xã Bình Chánh
    async with staff_app.sessions() as db, db.begin():
        other = await hearings.create_hearing(
            db,
            title="Phiên giải trình về nước sạch",
            host=HOST,
            starts_at=local(2027, 1, 20, 8, 0),
            endpoint_ids=[world.endpoint_ids["P-TANBINH"]],
            capacity=30,
            online_room="",
            topics=["Nước sạch nông thôn"],
            agencies=[hearings.AgencyTopics("Sở Nông nghiệp và Môi trường", (1,))],
            report_deadline=None,
            questions_deadline=None,
            timing=staff_app.settings.timing,
            now=staff_app.clock.now(),
        )
    liaison = await liaison_for(staff_app, admin, "630", AGENCY_B, typed=False)
    async with staff_app.sessions() as db:
        actor = await staff.actor_for(db, UserKey("test", liaison.user_id), staff_app.settings.admin_keys)
        assert actor.is_liaison and not actor.is_staff and actor.role == StaffRole.LIAISON
        assert actor.endpoint_ids == frozenset() and not actor.see_denouncers
        assert actor.agency_id is not None
        theirs = await hearings.hearings_of_agency(db, actor.agency_id, staff_app.settings.timing)
    assert [h.id for h in theirs] == [first] and other.id != first
    assert [a.name for a in theirs[0].agencies if a.agency_id == actor.agency_id] == [AGENCY_B]
    assert [t.title for t in theirs[0].topics_of(actor.agency_id)] == [TOPICS[1]]
