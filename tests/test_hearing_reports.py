"""Explanation hearings, the agencies' written reports, end to end through the fake Telegram
server: a liaison sees only what is asked of their agency, files a PDF on time and replaces it
with a DOCX; a wrong file type and a file too large are refused; late agencies are reminded at
D-3 and D-1 (to the minute, once); at the deadline the admins get who filed and who did not, and
an upload after it is refused naming the deadline; the dossier is opened with python-docx."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass

import docx
import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.channels.telegram.runner import TelegramBot
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage.models import (
    Agency,
    AuditEntry,
    CaseType,
    Event,
    EventKind,
    EventStatus,
    HearingAgency,
    HearingTopic,
    StaffMember,
    StaffRole,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from tests.conftest import local, make_settings
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ChatUser
from tests.telegram_harness import TelegramUser, make_telegram_bot

ADMIN_TG = 777
CONSOLE_ADMIN = "9000"
TNMT, KHCN, TANBINH, GIAODUC = 501, 502, 503, 504  # the liaisons' Telegram ids
DELEGATE = 601
TITLE = "Phiên giải trình về cấp giấy chứng nhận quyền sử dụng đất"
OTHER_TITLE = "Phiên giải trình về chất lượng giáo dục phổ thông"
LAND = "Cấp giấy chứng nhận quyền sử dụng đất lần đầu"
IT = "Ứng dụng công nghệ thông tin trong cải cách hành chính"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Hearing:
    event_id: int
    other_id: int
    agencies: dict[str, int]


@pytest.fixture
async def hearing_app(database_url: str, clock: FrozenClock) -> AsyncIterator[App]:
    settings = make_settings(database_url, admins=f"telegram:{ADMIN_TG},test:{CONSOLE_ADMIN}")
    settings.telegram_polling_timeout = 1
    app = build_app(settings, clock)
    yield app
    await app.close()


@pytest.fixture
async def telegram(hearing_app: App, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    bot = make_telegram_bot(hearing_app, fake)
    task = asyncio.create_task(bot.run_polling())
    await fake.wait_until(lambda: fake.calls_of("getUpdates"))
    yield bot
    await bot.stop()
    await asyncio.wait_for(task, timeout=10)


async def a_hearing(app: App) -> Hearing:
    """The hearing on 20/12 08:00 with its reports due 10/12 17:00: Sở Tài nguyên và Môi trường
    explains the land topic, Sở Khoa học và Công nghệ the IT one, UBND phường Tân Bình both. Another
    hearing asks only Sở Giáo dục và Đào tạo. Each agency has a liaison on Telegram."""
    now = app.clock.now()
    async with app.sessions() as db, db.begin():
        names = {
            "tnmt": "Sở Tài nguyên và Môi trường",
            "khcn": "Sở Khoa học và Công nghệ",
            "tanbinh": "UBND phường Tân Bình",
            "giaoduc": "Sở Giáo dục và Đào tạo",
        }
        agencies = {key: Agency(name=name, created_at=now) for key, name in names.items()}
        db.add_all(agencies.values())
        event = Event(
            kind=EventKind.HEARING,
            title=TITLE,
            host="Thường trực HĐND tỉnh",
            starts_at=local(2026, 12, 20, 8, 0),
            status=EventStatus.SCHEDULED,
            report_deadline=local(2026, 12, 10, 17, 0),
            created_at=now,
        )
        other = Event(
            kind=EventKind.HEARING,
            title=OTHER_TITLE,
            starts_at=local(2026, 12, 22, 8, 0),
            status=EventStatus.SCHEDULED,
            created_at=now,
        )
        db.add_all([event, other])
        await db.flush()
        land = HearingTopic(event_id=event.id, position=1, title=LAND)
        it = HearingTopic(event_id=event.id, position=2, title=IT)
        school = HearingTopic(event_id=other.id, position=1, title="Chất lượng dạy và học")
        db.add_all([land, it, school])
        await db.flush()
        db.add_all(
            [
                HearingAgency(event_id=event.id, agency_id=agencies["tnmt"].id, topic_ids=[land.id]),
                HearingAgency(event_id=event.id, agency_id=agencies["khcn"].id, topic_ids=[it.id]),
                HearingAgency(
                    event_id=event.id, agency_id=agencies["tanbinh"].id, topic_ids=[it.id, land.id]
                ),
                HearingAgency(event_id=other.id, agency_id=agencies["giaoduc"].id, topic_ids=[school.id]),
            ]
        )
        for user_id, key in ((TNMT, "tnmt"), (KHCN, "khcn"), (TANBINH, "tanbinh"), (GIAODUC, "giaoduc")):
            db.add(
                StaffMember(
                    channel="telegram",
                    user_id=str(user_id),
                    role=StaffRole.LIAISON,
                    agency_id=agencies[key].id,
                    created_at=now,
                )
            )
        delegate = StaffMember(
            channel="telegram", user_id=str(DELEGATE), role=StaffRole.OFFICER, delegate=True, created_at=now
        )
        db.add(delegate)
        await db.flush()

        def speech(
            position: int | None, agency: str, topic: HearingTopic, question: str, name: str
        ) -> Submission:
            return Submission(
                kind=SubmissionKind.SPEECH,
                event_id=event.id,
                staff_id=delegate.id,
                agency_id=agencies[agency].id,
                topic_id=topic.id,
                summary=question,
                full_name=name,
                position=position,
                case_type=CaseType.PETITION,
                field="",
                created_at=now,
                updated_at=now,
            )

        db.add_all(
            [
                speech(
                    2,
                    "khcn",
                    it,
                    "Vì sao dịch vụ công trực tuyến toàn trình còn ít hồ sơ?",
                    "Đại biểu Lê Văn Cường",
                ),
                speech(
                    1,
                    "tnmt",
                    land,
                    "Khi nào giải quyết xong hồ sơ cấp giấy chứng nhận tồn đọng?",
                    "Đại biểu Trần Thị Bình",
                ),
                speech(None, "tanbinh", land, "Phường có bao nhiêu hồ sơ quá hạn?", "Đại biểu Phạm Văn Dũng"),
            ]
        )
        withdrawn = speech(3, "tnmt", land, "Câu hỏi đã rút", "Đại biểu Võ Thị Em")
        withdrawn.status = SubmissionStatus.WITHDRAWN
        db.add(withdrawn)
    return Hearing(event.id, other.id, {key: agency.id for key, agency in agencies.items()})


def texts(fake: FakeTelegram, chat_id: int) -> list[str]:
    return [message.text for message in fake.sent_to(chat_id) if message.text]


async def tick(app: App, clock: FrozenClock, telegram: TelegramBot, at: object) -> None:
    clock.set(at)  # type: ignore[arg-type]
    await Outbox(app.sessions, app.settings, clock, {"telegram": telegram.outbox_channel}).send_due()


async def test_reports_filed_replaced_refused_reminded_listed_and_the_dossier(
    hearing_app: App, fake: FakeTelegram, telegram: TelegramBot, clock: FrozenClock
) -> None:
    found = await a_hearing(hearing_app)
    tnmt, khcn, tanbinh = (TelegramUser(telegram, fake, user) for user in (TNMT, KHCN, TANBINH))

    # What is asked of their agency, and nothing of the others'.
    await tnmt.say("/hearings")
    assert "CÁC PHIÊN GIẢI TRÌNH CỦA Sở Tài nguyên và Môi trường" in tnmt.text
    assert TITLE in tnmt.text and LAND in tnmt.text and IT not in tnmt.text
    assert OTHER_TITLE not in tnmt.text and "Sở Khoa học" not in tnmt.text
    assert "Hạn gửi báo cáo: Thứ Năm, 10/12/2026 17:00" in tnmt.text and "Báo cáo: chưa gửi" in tnmt.text

    # Filed on time as a PDF, then replaced with a DOCX.
    await tnmt.press("Gửi báo cáo")
    assert "một tệp PDF hoặc DOCX, dung lượng tối đa 20 MB" in tnmt.text
    await tnmt.send_document("bao-cao-giai-trinh-tnmt.pdf", PDF, 350_000)
    assert (
        "Đã nhận báo cáo giải trình của Sở Tài nguyên và Môi trường (bao-cao-giai-trinh-tnmt.pdf)"
        in tnmt.text
    )
    assert "Báo cáo: đã gửi lúc Thứ Hai, 23/11/2026 09:00 (bao-cao-giai-trinh-tnmt.pdf)" in tnmt.text
    clock.set(local(2026, 12, 2, 10, 30))
    await tnmt.press("Thay báo cáo")
    assert "Tệp mới sẽ thay tệp đã gửi (bao-cao-giai-trinh-tnmt.pdf)" in tnmt.text
    await tnmt.send_document("bao-cao-giai-trinh-tnmt-v2.docx", DOCX, 420_000)
    assert "Đã thay báo cáo giải trình của Sở Tài nguyên và Môi trường" in tnmt.text
    assert "thay tệp lúc Thứ Tư, 02/12/2026 10:30 (bao-cao-giai-trinh-tnmt-v2.docx)" in tnmt.text

    # A wrong type and a file too large are refused, straight on the list too.
    await tanbinh.say("/hearings")
    assert LAND in tanbinh.text and IT in tanbinh.text
    assert tanbinh.text.index(LAND) < tanbinh.text.index(IT)  # the plan's order
    await tanbinh.send_document("bao-cao.xlsx", "application/vnd.ms-excel", 10_000)
    assert "Tệp «bao-cao.xlsx» không phải định dạng PDF hoặc DOCX" in tanbinh.text
    await tanbinh.send_document("bao-cao-tan-binh.pdf", PDF, 25_000_000)
    assert "Tệp «bao-cao-tan-binh.pdf» có dung lượng 25.0 MB, vượt quá mức tối đa 20 MB" in tanbinh.text

    # The late agencies are reminded at D-3 and D-1, to the minute, once each; the filed one is not.
    def reminders(chat_id: int) -> list[str]:
        return [text for text in texts(fake, chat_id) if "NHẮC GỬI BÁO CÁO GIẢI TRÌNH" in text]

    await tick(hearing_app, clock, telegram, local(2026, 12, 7, 16, 59))
    assert reminders(KHCN) == reminders(TANBINH) == []
    await tick(hearing_app, clock, telegram, local(2026, 12, 7, 17, 0))
    [first] = reminders(KHCN)
    assert "Sở Khoa học và Công nghệ" in first and TITLE in first and "(còn 3 ngày)" in first
    assert "Hạn gửi báo cáo: Thứ Năm, 10/12/2026 17:00" in first
    assert len(reminders(TANBINH)) == 1 and reminders(TNMT) == [] and reminders(GIAODUC) == []
    await tick(hearing_app, clock, telegram, local(2026, 12, 7, 17, 5))
    await tick(hearing_app, clock, telegram, local(2026, 12, 9, 16, 59))
    assert len(reminders(KHCN)) == 1
    await tick(hearing_app, clock, telegram, local(2026, 12, 9, 17, 0))
    assert "(còn 1 ngày)" in reminders(KHCN)[-1] and len(reminders(KHCN)) == 2
    assert len(reminders(TANBINH)) == 2 and reminders(TNMT) == []
    await tick(hearing_app, clock, telegram, local(2026, 12, 9, 18, 0))
    assert len(reminders(KHCN)) == 2

    # Sở Khoa học files late, but before the deadline.
    clock.set(local(2026, 12, 10, 16, 59))
    await khcn.say("/hearings")
    await khcn.press("Gửi báo cáo")
    await khcn.send_document("bc-khcn.pdf", PDF, 1_000_000)
    assert "Đã nhận báo cáo giải trình của Sở Khoa học và Công nghệ" in khcn.text

    # At the deadline, the admins get the list; not a minute before, and once.
    def lists() -> list[str]:
        return [text for text in texts(fake, ADMIN_TG) if "ĐẾN HẠN GỬI BÁO CÁO GIẢI TRÌNH" in text]

    await tick(hearing_app, clock, telegram, local(2026, 12, 10, 16, 59))
    assert lists() == []
    await tick(hearing_app, clock, telegram, local(2026, 12, 10, 17, 0))
    [listed] = lists()
    filed, missing = listed.split("Các cơ quan chưa gửi báo cáo (1):")
    assert "Các cơ quan đã gửi báo cáo (2):" in filed
    assert (
        "• Sở Tài nguyên và Môi trường: gửi lúc Thứ Hai, 23/11/2026 09:00, "
        "thay tệp lúc Thứ Tư, 02/12/2026 10:30" in filed
    )
    assert "• Sở Khoa học và Công nghệ: gửi lúc Thứ Năm, 10/12/2026 16:59 (bc-khcn.pdf)" in filed
    assert "• UBND phường Tân Bình" in missing and "Sở Khoa học" not in missing
    assert f"/dossier {found.event_id}" in listed
    await tick(hearing_app, clock, telegram, local(2026, 12, 10, 17, 30))
    assert len(lists()) == 1
    assert all(
        "ĐẾN HẠN GỬI BÁO CÁO" not in text for chat in (TNMT, KHCN, TANBINH) for text in texts(fake, chat)
    )

    # After the deadline the upload is refused, naming the deadline.
    await tanbinh.say("/hearings")
    assert "(đã hết hạn)" in tanbinh.text
    assert all(message.reply_markup is None for message in tanbinh.last)  # nothing to send to
    await tanbinh.send_document("bao-cao-tan-binh.pdf", PDF, 500_000)
    assert "Đã hết hạn gửi báo cáo giải trình (Thứ Năm, 10/12/2026 17:00)" in tanbinh.text
    async with hearing_app.sessions() as db:
        reports = list(await db.scalars(select(Submission).where(Submission.kind == SubmissionKind.REPORT)))
        assert sorted(r.agency_id for r in reports) == sorted(
            [found.agencies["tnmt"], found.agencies["khcn"]]
        )
        [kept] = [r for r in reports if r.agency_id == found.agencies["tnmt"]]
        assert kept.created_at == local(2026, 11, 23, 9, 0) and kept.updated_at == local(2026, 12, 2, 10, 30)
        assert [a["name"] for a in kept.attachments] == ["bao-cao-giai-trinh-tnmt-v2.docx"]
        assert await db.scalar(select(AuditEntry).where(AuditEntry.action == "hearing.report")) is not None

    # The dossier: on Telegram as a file, and opened from the console admin's copy.
    admin_tg = TelegramUser(telegram, fake, ADMIN_TG)
    await admin_tg.say(f"/dossier {found.event_id}")
    assert f"ho-so-phien-giai-trinh-{found.event_id}-2026-12-20.docx" in [m.document for m in admin_tg.last]
    admin = ChatUser(hearing_app.dialog, user_id=CONSOLE_ADMIN)
    replies = await admin.say(f"/dossier {found.event_id}")
    [file] = [reply.document for reply in replies if reply.document is not None]
    assert "2/3 cơ quan đã gửi báo cáo; 3 đại biểu đăng ký phát biểu" in admin.text
    document = docx.Document(io.BytesIO(file.content))
    paragraphs = [p.text for p in document.paragraphs]
    assert "HỒ SƠ PHIÊN GIẢI TRÌNH" in paragraphs
    assert f"1. {LAND}" in paragraphs and f"2. {IT}" in paragraphs
    assert "II. BÁO CÁO GIẢI TRÌNH CỦA CÁC CƠ QUAN (đã gửi 2/3)" in paragraphs
    heading, agencies, speakers = (
        [[cell.text for cell in row.cells] for row in table.rows] for table in document.tables
    )
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in str(heading).upper()
    assert agencies[1][1:4] == ["Sở Tài nguyên và Môi trường", LAND, "Đã gửi"]
    assert (
        "Thứ Hai, 23/11/2026 09:00" in agencies[1][4]
        and "thay tệp lúc Thứ Tư, 02/12/2026 10:30" in agencies[1][4]
    )
    assert agencies[1][5] == "bao-cao-giai-trinh-tnmt-v2.docx"
    assert agencies[2][1] == "Sở Khoa học và Công nghệ" and agencies[2][5] == "bc-khcn.pdf"
    assert agencies[3][1:4] == ["UBND phường Tân Bình", f"{LAND}\n{IT}", "Chưa gửi"] and agencies[3][5] == ""
    assert [row[0] for row in speakers[1:]] == ["1", "2", "3"]
    assert [row[1] for row in speakers[1:]] == [
        "Đại biểu Trần Thị Bình",
        "Đại biểu Lê Văn Cường",
        "Đại biểu Phạm Văn Dũng",
    ]
    assert speakers[1][2:4] == ["Sở Tài nguyên và Môi trường", LAND]
    assert speakers[2][2] == "Sở Khoa học và Công nghệ" and speakers[2][3] == IT
    assert "Câu hỏi đã rút" not in str(speakers)

    # A report's file, sent again on request.
    [resent] = [r for r in await admin.press("Sở Tài nguyên") if r.files]
    assert [f.file_id for f in resent.files] == ["file-bao-cao-giai-trinh-tnmt-v2.docx"]


async def test_a_liaison_reaches_only_their_own_flow(
    hearing_app: App, fake: FakeTelegram, telegram: TelegramBot, clock: FrozenClock
) -> None:
    found = await a_hearing(hearing_app)
    teacher = TelegramUser(telegram, fake, GIAODUC)
    await teacher.say("/hearings")
    assert OTHER_TITLE in teacher.text and TITLE not in teacher.text
    # The report deadline defaults to a week before the hearing (22/12 08:00).
    assert "Hạn gửi báo cáo: Thứ Ba, 15/12/2026 08:00" in teacher.text
    for command in (f"/dossier {found.event_id}", "/sessions", f"/session {found.event_id}", "/review"):
        await teacher.say(command)
        assert "không có quyền" in teacher.text.lower() or "not allowed" in teacher.text.lower(), command
        assert "Sở Tài nguyên" not in teacher.text and LAND not in teacher.text
    admin = ChatUser(hearing_app.dialog, user_id=CONSOLE_ADMIN)
    await admin.say("/hearings")
    assert TITLE not in admin.text
    await admin.say(f"/dossier {found.other_id + 100}")
    assert f"Không có phiên giải trình số {found.other_id + 100}" in admin.text
