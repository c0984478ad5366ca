"""Explanation hearings, the floor: delegates register to speak (and withdraw), admins order
the speakers; citizens send questions on the topics until the questions deadline (to the
minute), staff select or decline them (the citizen is told), the conclusion reaches those
selected, once; the questions as a Word file. On Telegram (the fake Bot API) and in the chat,
on both engines."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta

import docx
import pytest
from sqlalchemy import select

from bot.app import App
from bot.channels.telegram.runner import TelegramBot
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage.models import (
    Agency,
    AuditEntry,
    Event,
    EventKind,
    EventStatus,
    HearingAgency,
    HearingTopic,
    Notification,
    StaffMember,
    StaffRole,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from tests.conftest import local
from tests.fakes.telegram_api import FakeTelegram
from tests.flows import consent
from tests.support import ChatUser
from tests.telegram_harness import TelegramUser
from tests.test_outbox import RecordingChannel

TITLE = "Phiên giải trình về cấp giấy chứng nhận quyền sử dụng đất"
LAND = "Cấp giấy chứng nhận quyền sử dụng đất lần đầu"
IT = "Ứng dụng công nghệ thông tin trong cải cách hành chính"
QUESTION = "Vì sao hồ sơ cấp giấy chứng nhận của gia đình tôi nộp từ tháng 3 đến nay chưa được giải quyết?"
OTHER = "Đề nghị cho biết kế hoạch số hóa hồ sơ đất đai của các xã trong năm 2027 như thế nào?"
SPEECH = "Đề nghị Giám đốc Sở cho biết nguyên nhân chậm cấp giấy chứng nhận và giải pháp khắc phục."
STARTS = local(2026, 12, 10, 8, 0)
DEADLINE = local(2026, 12, 5, 17, 0)  # the questions deadline: Saturday 5 December, 17:00
DEADLINE_SHOWN = "Thứ Bảy, 05/12/2026 17:00"
ADMIN, DELEGATE, OFFICER_DELEGATE, OFFICER = "9000", "9101", "9102", "9103"


@dataclass
class Plan:
    event_id: int
    topics: dict[str, int]
    agencies: dict[str, int]


@pytest.fixture
async def plan(app: App) -> Plan:
    """A hearing (10 Dec) on two topics; the land department explains the first, the IT
    department both. An admin, two delegates (one is an officer) and an officer."""
    now = app.clock.now()
    async with app.sessions() as db, db.begin():
        event = Event(
            kind=EventKind.HEARING,
            title=TITLE,
            host="Thường trực HĐND tỉnh",
            starts_at=STARTS,
            status=EventStatus.SCHEDULED,
            questions_deadline=DEADLINE,
            created_at=now,
        )
        land_dept = Agency(name="Sở Nông nghiệp và Môi trường", created_at=now)
        it_dept = Agency(name="Sở Khoa học và Công nghệ", created_at=now)
        db.add_all([event, land_dept, it_dept])
        await db.flush()
        land = HearingTopic(event_id=event.id, position=1, title=LAND)
        it = HearingTopic(event_id=event.id, position=2, title=IT)
        db.add_all([land, it])
        await db.flush()
        db.add_all(
            [
                HearingAgency(event_id=event.id, agency_id=land_dept.id, topic_ids=[land.id]),
                HearingAgency(event_id=event.id, agency_id=it_dept.id, topic_ids=[land.id, it.id]),
                StaffMember(channel="test", user_id=ADMIN, role=StaffRole.ADMIN, created_at=now),
                StaffMember(
                    channel="test", user_id=DELEGATE, role=StaffRole.LIAISON, delegate=True, created_at=now
                ),
                StaffMember(
                    channel="test",
                    user_id=OFFICER_DELEGATE,
                    role=StaffRole.OFFICER,
                    delegate=True,
                    created_at=now,
                ),
                StaffMember(channel="test", user_id=OFFICER, role=StaffRole.OFFICER, created_at=now),
            ]
        )
        await db.flush()
        return Plan(
            event.id,
            {"land": land.id, "it": it.id},
            {"land": land_dept.id, "it": it_dept.id},
        )


async def rows(app: App, kind: SubmissionKind) -> list[Submission]:
    async with app.sessions() as db:
        query = select(Submission).where(Submission.kind == kind).order_by(Submission.id)
        return list(await db.scalars(query))


async def audited(app: App, action: str) -> list[AuditEntry]:
    async with app.sessions() as db:
        return list(await db.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def register_to_speak(chat: ChatUser, agency: str, topic: str, name: str, text: str = SPEECH) -> None:
    await chat.say("/speak")
    await chat.press(TITLE[:30])
    await chat.press(agency)
    await chat.press(topic)
    await chat.say(name)
    await chat.say(text)
    assert "ĐĂNG KÝ PHÁT BIỂU" in chat.text and agency in chat.text
    await chat.press("Xác nhận đăng ký")


async def test_a_delegate_registers_to_speak_withdraws_and_admins_order_the_speakers(
    app: App, plan: Plan
) -> None:
    delegate = ChatUser(app.dialog, user_id=DELEGATE)
    await delegate.say("/speak")  # a liaison by role, a delegate by flag: /speak is open
    assert TITLE in delegate.text
    await delegate.press(TITLE[:30])
    await delegate.press("Sở Nông nghiệp")
    assert delegate.labels[:-1] == [LAND]  # only the topics that agency explains
    await delegate.press("Quay lại")
    assert "Sở Khoa học và Công nghệ" in delegate.labels
    await delegate.say("/huy")  # a liaison has no staff command list: the menu, as citizens
    assert "sự cố" not in delegate.text
    await register_to_speak(delegate, "Sở Nông nghiệp", LAND, "Trần Văn Bình")
    assert "Thứ tự hiện tại: 1" in delegate.text
    await register_to_speak(delegate, "Sở Khoa học", IT, "Trần Văn Bình", OTHER)
    officer_delegate = ChatUser(app.dialog, user_id=OFFICER_DELEGATE)
    await register_to_speak(officer_delegate, "Sở Khoa học", LAND, "Lê Thị Cúc")
    assert "Thứ tự hiện tại: 3" in officer_delegate.text

    officer = ChatUser(app.dialog, user_id=OFFICER)  # an officer who is no delegate
    await officer.say("/speak")
    assert "không có quyền" in officer.text
    await officer.say("/commands")
    assert "/questions SỐ" in officer.text and "/speak" not in officer.text
    await officer_delegate.say("/commands")
    assert "/speak — đại biểu đăng ký phát biểu" in officer_delegate.text

    admin = ChatUser(app.dialog, user_id=ADMIN)
    await admin.say("/speakers")
    assert "Cách dùng: /speakers SỐ" in admin.text
    await admin.say("/speakers 999")
    assert "Không tìm thấy phiên giải trình số 999" in admin.text
    await admin.say(f"/speakers {plan.event_id}")
    assert "1. Trần Văn Bình → Sở Nông nghiệp" in admin.text and "3. Lê Thị Cúc" in admin.text
    await admin.press("3. Lê Thị Cúc")
    await admin.press("Lên một bậc")
    assert "Đã chuyển Lê Thị Cúc sang thứ tự 2" in admin.text
    assert "2. Lê Thị Cúc → Sở Khoa học" in admin.text
    await admin.press("2. Lê Thị Cúc")
    await admin.say("1")
    assert "1. Lê Thị Cúc" in admin.text and "2. Trần Văn Bình → Sở Nông nghiệp" in admin.text
    await admin.press("Hoàn tất")
    moves = await audited(app, "speech.move")
    assert [(m.details["before"], m.details["after"]) for m in moves] == [(3, 2), (2, 1)]

    # The delegate withdraws the one on the IT topic while an admin is about to move it.
    await admin.say(f"/speakers {plan.event_id}")
    await admin.press("3. Trần Văn Bình → Sở Khoa học")
    await delegate.say("/speak")
    await delegate.press("Các đăng ký phát biểu của tôi")
    await delegate.press("Rút câu hỏi tới Sở Khoa học")
    await delegate.press("Có, rút đăng ký")
    assert "Đã rút đăng ký phát biểu" in delegate.text and "đã rút" in delegate.text
    await admin.press("Lên một bậc")
    assert "Đăng ký này không còn trong danh sách (đã rút)" in admin.text
    speeches = await rows(app, SubmissionKind.SPEECH)
    assert [(s.full_name, s.status, s.position) for s in speeches] == [
        ("Trần Văn Bình", SubmissionStatus.ACTIVE, 2),
        ("Trần Văn Bình", SubmissionStatus.WITHDRAWN, None),
        ("Lê Thị Cúc", SubmissionStatus.ACTIVE, 1),
    ]
    assert speeches[0].agency_id == plan.agencies["land"] and speeches[0].topic_id == plan.topics["land"]
    assert len(await audited(app, "speech.register")) == 3 and len(await audited(app, "speech.withdraw")) == 1
    await admin.say(f"/speakers {plan.event_id}")
    assert "1. Lê Thị Cúc" in admin.text and "2. Trần Văn Bình" in admin.text and OTHER not in admin.text


async def ask_a_question(
    chat: ChatUser, topic: str, text: str, name: str, phone: str, deadline: str = DEADLINE_SHOWN
) -> None:
    await chat.press("Phiên giải trình")
    assert TITLE in chat.text and deadline in chat.text and LAND in chat.text
    await chat.press("h:")
    await chat.press(topic)
    await chat.say(text)
    await chat.press("done")
    await chat.say(name)
    await chat.say(phone)
    assert "KIỂM TRA LẠI CÂU HỎI" in chat.text


async def test_a_citizen_question_on_telegram_is_selected_and_answered_by_the_conclusion(
    app: App, plan: Plan, clock: FrozenClock, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 701)
    await user.say("/start")
    await user.press("Tiếng Việt")
    await user.press("Tôi đồng ý")
    await user.press("Phiên giải trình")
    assert TITLE in user.text and "Nhận câu hỏi của công dân đến: " + DEADLINE_SHOWN in user.text
    await user.press("Gửi câu hỏi")
    await user.press(LAND)
    await user.say(QUESTION)
    await user.press("Xong")
    await user.say("Nguyễn Văn An")
    await user.share_contact("84912345678")
    await user.press("Xác nhận gửi câu hỏi")
    assert "Mã câu hỏi: CHGT-2026-000001" in user.text

    # Another citizen, in the chat, asks on the other topic: declined.
    other = ChatUser(app.dialog, user_id="702")
    await consent(other)
    await ask_a_question(other, IT, OTHER, "Phạm Thị Dung", "0987 654 321")
    await other.press("Xác nhận gửi câu hỏi")
    assert "Mã câu hỏi: CHGT-2026-000002" in other.text

    admin = ChatUser(app.dialog, user_id=ADMIN)
    await admin.say(f"/questions {plan.event_id}")
    assert "Nội dung 1: " + LAND + " (1 câu hỏi)" in admin.text
    assert "CHGT-2026-000001 · Nguyễn Văn An · ĐT 0912 345 678 · chưa xem xét" in admin.text
    await admin.press("CHGT-2026-000001")
    await admin.press("Chọn đưa vào phiên giải trình")
    assert "Đã chọn câu hỏi CHGT-2026-000001" in admin.text
    await admin.press("CHGT-2026-000002")
    await admin.press("Không chọn")
    assert "CHGT-2026-000002 · Phạm Thị Dung · ĐT 0987 654 321 · không chọn" in admin.text

    # The list as a Word file, opened and read.
    await admin.press("DOCX")
    [file] = [reply.document for reply in admin.last if reply.document is not None]
    assert file.filename == f"cau-hoi-giai-trinh-{plan.event_id}-2026-12-10.docx"
    document = docx.Document(io.BytesIO(file.content))
    body = "\n".join(p.text for p in document.paragraphs)
    assert "DANH SÁCH CÂU HỎI CỦA CÔNG DÂN GỬI PHIÊN GIẢI TRÌNH" in body
    assert f"Nội dung 1: {LAND} (1 câu hỏi)" in body and f"Nội dung 2: {IT} (1 câu hỏi)" in body
    heading = [cell.text for cell in document.tables[0].rows[0].cells]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in heading[1]
    land_rows = [[cell.text for cell in row.cells] for row in document.tables[1].rows]
    assert land_rows[0] == ["Số TT", "Mã câu hỏi", "Nội dung câu hỏi", "Người gửi", "Số điện thoại", "Xử lý"]
    assert land_rows[1] == [
        "1",
        "CHGT-2026-000001",
        QUESTION,
        "Nguyễn Văn An",
        "+84912345678",
        "Được chọn (thứ tự 1)",
    ]
    assert [c.text for c in document.tables[2].rows[1].cells][-1] == "Không chọn"
    assert len(await audited(app, "hearing.questions_export")) == 1

    # Both citizens are told, each in the chat they use.
    recording = RecordingChannel()
    channels = {"telegram": polling.outbox_channel, "test": recording}
    await Outbox(app.sessions, app.settings, clock, channels).send_due()
    told = "\n".join(shown.message.text or "" for shown in user.mine()[user.seen :])
    assert "Câu hỏi CHGT-2026-000001 của Ông/Bà" in told and "đã được chọn đưa vào" in told
    assert next(text for who, text in recording.sent if who == "702").count("không được chọn") == 1

    # The hearing in figures: the reports (none filed here), the questions per topic.
    await admin.say(f"/stats {plan.event_id}")
    assert f"THỐNG KÊ PHIÊN GIẢI TRÌNH #{plan.event_id}" in admin.text
    assert "Báo cáo giải trình đã gửi: 0/2 cơ quan" in admin.text and "Câu hỏi của công dân: 2" in admin.text
    assert "(chọn 1, không chọn" in admin.text

    # Before the hearing there is nothing to conclude.
    await admin.say(f"/conclude {plan.event_id}")
    assert "chỉ ghi kết luận sau khi phiên giải trình đã diễn ra" in admin.text
    clock.set(STARTS + timedelta(hours=4))
    await admin.say(f"/conclude {plan.event_id}")
    conclusion = "Sở Nông nghiệp và Môi trường hoàn thành cấp giấy chứng nhận tồn đọng trước 31/3/2027."
    await admin.say(conclusion)
    await admin.press("Ghi và gửi kết luận")
    assert "gửi tới 1 công dân" in admin.text
    await admin.say(f"/conclude {plan.event_id}")  # recorded again: nobody is told twice
    await admin.say(conclusion + " Báo cáo kết quả tại kỳ họp giữa năm.")
    await admin.press("Ghi và gửi kết luận")
    await Outbox(app.sessions, app.settings, clock, channels).send_due()
    told = "\n".join(shown.message.text or "" for shown in user.mine())
    assert told.count("KẾT LUẬN " + TITLE) == 1 and "Câu hỏi của Ông/Bà: CHGT-2026-000001" in told
    assert not any("KẾT LUẬN" in text for _, text in recording.sent)
    async with app.sessions() as db:
        kinds = sorted(n.kind for n in await db.scalars(select(Notification)))
        event = await db.get_one(Event, plan.event_id)
    assert kinds == ["hearing_conclusion", "question_declined", "question_selected"]
    assert event.conclusion.endswith("kỳ họp giữa năm.") and len(await audited(app, "hearing.conclude")) == 2
    [first, second] = await rows(app, SubmissionKind.QUESTION)
    assert (first.route, first.position, first.reviewed_by) == ("selected", 1, "test:9000")
    assert (second.route, second.position) == ("declined", None)
    assert first.full_name == "Nguyễn Văn An" and first.phone == "+84912345678"


async def test_questions_are_taken_until_the_deadline_minute_and_refused_after_naming_it(
    app: App, plan: Plan, clock: FrozenClock
) -> None:
    chat = ChatUser(app.dialog, user_id="801")
    await consent(chat)
    clock.set(DEADLINE - timedelta(minutes=1))
    await ask_a_question(chat, LAND, QUESTION, "Nguyễn Văn An", "0912 345 678")
    clock.set(DEADLINE)  # the deadline minute itself is admitted
    await chat.press("Xác nhận gửi câu hỏi")
    assert "Mã câu hỏi: CHGT-2026-000001" in chat.text
    await chat.press("Gửi thêm câu hỏi")
    await chat.press(IT)
    await chat.say(OTHER)
    await chat.press("done")
    clock.set(DEADLINE + timedelta(minutes=1))
    await chat.press("Xác nhận gửi câu hỏi")
    assert f"Đã hết hạn nhận câu hỏi cho phiên giải trình này. Hạn chót là {DEADLINE_SHOWN}." in chat.text
    assert "Đã hết hạn nhận câu hỏi (hạn chót: " + DEADLINE_SHOWN in chat.text  # the list says so too
    assert not [o for o in chat.options_of_prompt if o.payload.partition(":")[2].startswith("h:")]
    assert len(await rows(app, SubmissionKind.QUESTION)) == 1
    # Withdrawing closes with it.
    await chat.press("Câu hỏi của tôi")
    assert "CHGT-2026-000001 · Đang xem xét" in chat.text and "Rút câu hỏi" not in " ".join(chat.labels)


async def test_a_citizen_withdraws_a_question_until_the_deadline(
    app: App, plan: Plan, clock: FrozenClock
) -> None:
    chat = ChatUser(app.dialog, user_id="802")
    await consent(chat)
    await ask_a_question(chat, LAND, QUESTION, "Nguyễn Văn An", "0912 345 678")
    await chat.press("Xác nhận gửi câu hỏi")
    await chat.press("Câu hỏi của tôi")
    stale = chat.find_option("Rút câu hỏi CHGT-2026-000001").payload
    await chat.press("Rút câu hỏi CHGT-2026-000001")
    clock.set(DEADLINE)
    await chat.press("Có, rút câu hỏi")
    assert "Đã rút câu hỏi CHGT-2026-000001" in chat.text and "CHGT-2026-000001 · Đã rút" in chat.text
    await chat.press_wire(stale)  # an old button: said politely, nothing changes
    assert "không còn hiệu lực" in chat.text
    [question] = await rows(app, SubmissionKind.QUESTION)
    assert question.status == SubmissionStatus.WITHDRAWN
    assert len(await audited(app, "question.withdraw")) == 1
    admin = ChatUser(app.dialog, user_id=ADMIN)
    await admin.say(f"/questions {plan.event_id}")
    assert "CHGT-2026-000001" not in admin.text and "Tổng số: 0" in admin.text


async def test_a_citizen_sees_no_staff_data_and_a_delegate_no_citizen_phone(app: App, plan: Plan) -> None:
    chat = ChatUser(app.dialog, user_id="803")
    await consent(chat)
    await ask_a_question(chat, LAND, QUESTION, "Nguyễn Văn An", "0912 345 678")
    await chat.press("Xác nhận gửi câu hỏi")
    delegate = ChatUser(app.dialog, user_id=DELEGATE)
    await register_to_speak(delegate, "Sở Nông nghiệp", LAND, "Trần Văn Bình")
    for command in ("/speak", "/speakers", "/questions", "/conclude"):
        await chat.say(f"{command} {plan.event_id}")
        assert "không có quyền" in chat.text and "Trần Văn Bình" not in chat.text, command
    await chat.say("/menu")
    await chat.press("Phiên giải trình")
    assert SPEECH not in chat.text and "Sở Nông nghiệp" not in chat.text
    await chat.press("Câu hỏi của tôi")
    assert SPEECH not in chat.text and "Trần Văn Bình" not in chat.text
    await chat.say("/menu")
    await chat.press("Quyền riêng tư")
    await chat.press("show")  # what is stored about them: their question with its name and phone
    assert "Câu hỏi gửi phiên giải trình CHGT-2026-000001 · Đang xem xét" in chat.text
    assert "Số điện thoại: 0912 345 678" in chat.text and "Trần Văn Bình" not in chat.text
    # A delegate who is also an officer reads the questions, never the citizen's phone.
    officer_delegate = ChatUser(app.dialog, user_id=OFFICER_DELEGATE)
    await officer_delegate.say(f"/questions {plan.event_id}")
    assert "CHGT-2026-000001 · Nguyễn Văn An · ĐT — ·" in officer_delegate.text
    assert "0912" not in officer_delegate.text and "+84" not in officer_delegate.text
    await officer_delegate.press("DOCX")
    [file] = [reply.document for reply in officer_delegate.last if reply.document is not None]
    document = docx.Document(io.BytesIO(file.content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    assert "Nguyễn Văn An" in cells and not any("912345678" in cell for cell in cells)
    # The liaison-delegate cannot read the questions at all.
    await delegate.say(f"/questions {plan.event_id}")
    assert "không có quyền" in delegate.text and "Nguyễn Văn An" not in delegate.text


async def test_without_a_deadline_of_its_own_questions_close_three_days_before(
    app: App, plan: Plan, clock: FrozenClock
) -> None:
    async with app.sessions() as db, db.begin():
        (await db.get_one(Event, plan.event_id)).questions_deadline = None
    default = STARTS - timedelta(days=app.settings.timing.questions_days_before)
    chat = ChatUser(app.dialog, user_id="804")
    await consent(chat)
    clock.set(default)
    await ask_a_question(chat, LAND, QUESTION, "Nguyễn Văn An", "0912 345 678", "Thứ Hai, 07/12/2026 08:00")
    assert "rút câu hỏi đến Thứ Hai, 07/12/2026 08:00" in chat.text
    clock.set(default + timedelta(minutes=1))
    await chat.press("Xác nhận gửi câu hỏi")
    assert "Hạn chót là Thứ Hai, 07/12/2026 08:00." in chat.text
    assert await rows(app, SubmissionKind.QUESTION) == []
    admin = ChatUser(app.dialog, user_id=ADMIN)
    await admin.say("/questions abc")
    assert "Cách dùng: /questions SỐ" in admin.text
    await admin.say("/conclude")
    assert "Cách dùng: /conclude SỐ" in admin.text
