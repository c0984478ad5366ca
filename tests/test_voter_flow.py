"""Voter contact, the voter's side, end to end: the coming rounds, a commune connected (attend
and petition) or not (written petitions), my petitions (edit, withdraw), the deadlines to
the minute, wrong inputs; in the chat with buttons, a numbered text chat and Telegram."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.channels.telegram.runner import TelegramBot
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage.endpoints import upsert_endpoints
from storage.models import (
    AnswerLevel,
    CaseType,
    Endpoint,
    Event,
    EventEndpoint,
    EventKind,
    EventStatus,
    SignUp,
    SignUpStatus,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from tests.conftest import WORLD_ENDPOINTS, local
from tests.fakes.telegram_api import FakeTelegram
from tests.flows import consent
from tests.support import TEXT_ONLY, ChatUser
from tests.telegram_harness import TelegramUser
from tests.test_console import lines_then_eof
from tests.test_honest_notices import sent_to_citizens
from tests.test_outbox import RecordingChannel
from tests.test_round_trips import round_trips, statements

TITLE = "Tiếp xúc cử tri trước Kỳ họp thứ năm"
HOST = "Tổ đại biểu HĐND tỉnh số 3"
PETITION = "Đề nghị sửa chữa tuyến đường liên thôn Bình Chánh đã xuống cấp nhiều năm, đi lại rất khó khăn."
# The compile deadline: Sunday 13 December 2026, 17:00 in Vietnam.
DEADLINE = local(2026, 12, 13, 17, 0)
DEADLINE_SHOWN = "Chủ Nhật, 13/12/2026 17:00"


@dataclass
class Rounds:
    event_id: int
    endpoint_ids: dict[str, int]
    stops: dict[str, int]  # event endpoint ids by endpoint code
    tanbinh_start: datetime


@pytest.fixture
async def rounds(app: App) -> Rounds:
    """A round meeting voters at Tân Bình (1 seat, 7 Dec) and Bình Chánh (8 Dec); Côn Đảo
    and the other endpoints are not connected."""
    now = app.clock.now()
    tanbinh_start = local(2026, 12, 7, 8, 0)
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, WORLD_ENDPOINTS)
        endpoints = {e.code: e for e in await db.scalars(select(Endpoint))}
        event = Event(
            kind=EventKind.VOTER_MEETING,
            title=TITLE,
            host=HOST,
            starts_at=tanbinh_start,
            status=EventStatus.SCHEDULED,
            online_room="",
            compile_deadline=DEADLINE,
            created_at=now,
            endpoints=[
                EventEndpoint(endpoint_id=endpoints["P-TANBINH"].id, capacity=1, seats_taken=0),
                EventEndpoint(
                    endpoint_id=endpoints["X-BINHCHANH"].id,
                    capacity=30,
                    seats_taken=0,
                    starts_at=local(2026, 12, 8, 14, 0),
                ),
            ],
        )
        db.add(event)
        await db.flush()
        return Rounds(
            event_id=event.id,
            endpoint_ids={code: e.id for code, e in endpoints.items()},
            stops={link.endpoint.code: link.id for link in event.endpoints},
            tanbinh_start=tanbinh_start,
        )


def payloads(chat: ChatUser) -> list[str]:
    """The options of the last prompt, without the turn the engine puts before them."""
    return [option.payload.partition(":")[2] for option in chat.options_of_prompt]


async def petitions_in(app: App) -> list[Submission]:
    async with app.sessions() as db:
        return list(await db.scalars(select(Submission).order_by(Submission.id)))


async def open_round(chat: ChatUser, commune: str = "tan binh") -> None:
    """From the main menu to the round at the voter's commune."""
    await chat.press("voters")
    assert TITLE in chat.text and HOST in chat.text
    await chat.press("r:")
    await chat.say(commune)
    await chat.press("ep:")


async def write_petition(chat: ChatUser, kind: str = "petition", text: str = PETITION) -> None:
    """From the round's screen (or "send another") to the review."""
    await chat.press(kind)
    await chat.press("transport")
    await chat.press("province")
    await chat.say(text)
    await chat.press("done")
    if chat.capabilities.file_uploads:
        await chat.press("done")  # no attachments


async def test_the_coming_rounds_show_each_commune_s_day_and_the_deadline(
    app: App, rounds: Rounds, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.press("voters")
    text = chat.text
    assert "HỘI NGHỊ TIẾP XÚC CỬ TRI SẮP TỚI" in text
    assert f"Tổ đại biểu: {HOST}" in text
    assert "• Phường Tân Bình — Thứ Hai, 07/12/2026 08:00" in text
    assert "• Xã Bình Chánh — Thứ Ba, 08/12/2026 14:00" in text
    assert f"Hạn gửi ý kiến, kiến nghị: {DEADLINE_SHOWN}" in text
    # The "Tiếp xúc cử tri" entry is on the main menu, and a round past its deadline is gone.
    app.clock.set(DEADLINE + timedelta(minutes=1))  # type: ignore[attr-defined]
    await chat.say("/menu")
    await chat.press("Tiếp xúc cử tri")
    assert "chưa có hội nghị tiếp xúc cử tri nào" in chat.text


async def test_a_voter_attends_and_petitions(app: App, rounds: Rounds, chat: ChatUser) -> None:
    await consent(chat)
    await open_round(chat)
    assert "Phường Tân Bình là điểm cầu của hội nghị" in chat.text
    assert "Còn 1/1 chỗ" in chat.text
    assert "Hạn đăng ký tham dự: Chủ Nhật, 06/12/2026 08:00" in chat.text  # the day before
    await chat.press("attend")
    await chat.say("nguyễn văn an")
    await chat.say("0912 345 678")
    assert "Họ và tên: Nguyễn Văn An" in chat.text and "0912 345 678" in chat.text
    await chat.press("confirm")
    assert "Đã đăng ký tham dự. Mã đăng ký: TXCT-2026-000001" in chat.text
    await chat.press("petition")  # ahead of the meeting
    assert "thuộc loại nào" in chat.text
    assert chat.labels[0] == "Kiến nghị"  # the usual one first
    await write_petition(chat)
    # Name and phone are known: only the address is asked, the commune offered as it.
    assert "địa chỉ" in chat.text
    await chat.press("commune")
    review = chat.text
    assert "Xin Ông/Bà kiểm tra ý kiến, kiến nghị trước khi gửi" in review
    assert "Loại: Kiến nghị" in review and "Cấp giải quyết: Tỉnh" in review
    assert "kèm đăng ký tham dự" in review and PETITION in review
    assert f"đến {DEADLINE_SHOWN}" in review
    await chat.press("confirm")
    assert "Mã kiến nghị: KNCT-2026-000001" in chat.text

    # Another, of another kind; nothing asked twice.
    await chat.press("more")
    await chat.press("reflection")
    await chat.press("environment")
    await chat.press("unknown")
    await chat.say("Phản ánh tình trạng xả rác thải ra kênh Bình Chánh gây ô nhiễm, đề nghị xử lý dứt điểm.")
    await chat.press("done")
    await chat.press("done")
    assert "Cấp giải quyết: Chưa rõ" in chat.text
    await chat.press("confirm")
    assert "KNCT-2026-000002" in chat.text

    async with app.sessions() as db:
        sign_up = await db.scalar(select(SignUp))
    assert sign_up is not None and sign_up.status == SignUpStatus.CONFIRMED
    assert sign_up.session_endpoint_id == rounds.stops["P-TANBINH"] and sign_up.code == "TXCT-2026-000001"
    first, second = await petitions_in(app)
    assert first.kind == SubmissionKind.PETITION and first.sign_up_id == sign_up.id
    assert first.endpoint_id == rounds.endpoint_ids["P-TANBINH"] and first.event_id == rounds.event_id
    assert (first.case_type, first.field, first.level) == (
        CaseType.PETITION,
        "transport",
        AnswerLevel.PROVINCE,
    )
    assert (first.full_name, first.phone, first.address) == (
        "Nguyễn Văn An",
        "+84912345678",
        "Phường Tân Bình",
    )
    assert first.summary == PETITION and first.status == SubmissionStatus.ACTIVE
    assert (second.case_type, second.level, second.code) == (CaseType.REFLECTION, None, "KNCT-2026-000002")

    # The round shows the sign-up; the seat was the last: the next voter waits.
    other = ChatUser(app.dialog, user_id="2")
    await consent(other)
    await open_round(other)
    assert "Còn 0/1 chỗ" in other.text
    await other.press("Đăng ký vào danh sách chờ")
    await other.say("Trần Thị Bình")
    await other.say("0987 654 321")
    assert "đủ chỗ" in other.text
    await other.press("confirm")
    assert "danh sách chờ (mã TXCT-2026-000002)" in other.text
    await chat.press("menu")
    await chat.press("voters")
    assert "Ông/Bà đã đăng ký tham dự tại Phường Tân Bình" in chat.text


async def test_a_voter_of_a_commune_not_connected_petitions_in_writing(app: App, rounds: Rounds) -> None:
    chat = ChatUser(app.dialog, user_id="7", capabilities=TEXT_ONLY)  # numbered text (Zalo Bot, console)
    await consent(chat)
    await open_round(chat, "con dao")
    assert "Đặc khu Côn Đảo không phải là điểm cầu của hội nghị này" in chat.text
    assert DEADLINE_SHOWN in chat.text
    assert "attend" not in payloads(chat)
    await chat.press("petition")
    await write_petition(chat, kind="complaint")  # no attachment step here: text only
    await chat.say("Lê Văn Cường")
    await chat.say("0912 000 111")
    await chat.say("Thôn 2, đặc khu Côn Đảo")
    assert "gửi bằng văn bản" in chat.text
    await chat.press("confirm")
    assert "Mã kiến nghị: KNCT-2026-000001" in chat.text
    [petition] = await petitions_in(app)
    assert petition.sign_up_id is None and petition.endpoint_id == rounds.endpoint_ids["DK-CONDAO"]
    assert petition.case_type == CaseType.COMPLAINT and petition.address == "Thôn 2, đặc khu Côn Đảo"
    async with app.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(SignUp)) == 0

    # A commune missing from the office's list writes too.
    await chat.press("more")
    await chat.say("/menu")
    await chat.press("voters")
    await chat.press("r:")
    await chat.say("xã không có thật")
    assert "Không tìm thấy xã, phường nào" in chat.text
    await chat.press("unlisted")
    assert "không phải là điểm cầu" in chat.text


async def test_edit_and_withdraw_a_petition(app: App, rounds: Rounds, chat: ChatUser) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await write_petition(chat)
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.press("commune")
    await chat.press("confirm")
    await chat.press("mine")
    assert "KNCT-2026-000001 · đang tiếp nhận" in chat.labels
    await chat.press("KNCT-2026-000001")
    assert PETITION in chat.text and f"đến {DEADLINE_SHOWN}" in chat.text
    await chat.press("edit")
    await chat.press("clear")
    new_text = "Đề nghị nâng cấp, mở rộng tuyến đường liên thôn và lắp đèn chiếu sáng cho an toàn."
    await chat.say(new_text)
    await chat.press("done")
    assert "Đã lưu nội dung mới của kiến nghị KNCT-2026-000001" in chat.text
    [petition] = await petitions_in(app)
    assert petition.summary == new_text

    await chat.press("withdraw")
    await chat.press("yes")
    assert "Đã rút kiến nghị" in chat.text
    assert "KNCT-2026-000001 · đã rút" in chat.labels
    await chat.press("KNCT-2026-000001")
    assert payloads(chat) == ["list"]  # nothing to change
    [petition] = await petitions_in(app)
    assert petition.status == SubmissionStatus.WITHDRAWN

    # Someone else's petition is not found, whatever they press.
    other = ChatUser(app.dialog, user_id="8")
    await consent(other)
    await other.press("voters")
    await other.press("mine")
    assert "chưa gửi ý kiến, kiến nghị nào" in other.text
    await other.press_wire(chat.prompt.options[0].payload)  # an old button is refused, not followed
    async with app.sessions() as db:
        assert (await db.scalar(select(Submission.status))) == SubmissionStatus.WITHDRAWN


async def test_petitions_are_taken_until_the_deadline_minute(
    app: App, rounds: Rounds, chat: ChatUser, clock: FrozenClock
) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await write_petition(chat)
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.press("commune")
    clock.set(DEADLINE)  # the deadline minute itself is in time
    await chat.press("confirm")
    assert "Mã kiến nghị: KNCT-2026-000001" in chat.text

    clock.set(DEADLINE - timedelta(minutes=5))
    await chat.press("more")
    await write_petition(chat, text="Đề nghị xây dựng thêm phòng học cho trường tiểu học xã Bình Chánh.")
    clock.set(DEADLINE + timedelta(minutes=1))  # one minute late
    await chat.press("confirm")
    assert f"đã hết hạn nhận ý kiến, kiến nghị lúc {DEADLINE_SHOWN}" in chat.text
    assert len(await petitions_in(app)) == 1

    # Nor can the first one be changed or withdrawn any more; it is still shown.
    await chat.say("/menu")
    await chat.press("voters")
    await chat.press("mine")
    await chat.press("KNCT-2026-000001")
    assert "đã chốt tổng hợp" in chat.text
    assert payloads(chat) == ["list"]


async def test_a_change_after_the_deadline_is_refused_naming_it(
    app: App, rounds: Rounds, chat: ChatUser, clock: FrozenClock
) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await write_petition(chat)
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.press("commune")
    await chat.press("confirm")
    await chat.press("mine")
    await chat.press("KNCT-2026-000001")
    await chat.press("withdraw")
    clock.set(DEADLINE)
    await chat.press("no")  # still open at the minute itself
    assert "withdraw" in payloads(chat)
    await chat.press("edit")
    await chat.press("clear")
    await chat.say("Nội dung sửa lại sau hạn chót của hội nghị tiếp xúc cử tri, không được nhận.")
    clock.set(DEADLINE + timedelta(minutes=1))
    await chat.press("done")
    assert f"đã hết hạn nhận ý kiến, kiến nghị lúc {DEADLINE_SHOWN}" in chat.text
    [petition] = await petitions_in(app)
    assert petition.summary == PETITION and petition.status == SubmissionStatus.ACTIVE


async def test_sign_ups_close_the_day_before_the_meeting(
    app: App, rounds: Rounds, chat: ChatUser, clock: FrozenClock
) -> None:
    await consent(chat)
    closes = rounds.tanbinh_start - timedelta(days=1)
    clock.set(closes)
    await open_round(chat)
    await chat.press("attend")
    await chat.say("Nguyễn Văn An")
    await chat.say("0912 345 678")
    clock.set(closes + timedelta(minutes=1))
    await chat.press("confirm")
    assert "đã hết hạn đăng ký tham dự tại điểm cầu này lúc Chủ Nhật, 06/12/2026 08:00" in chat.text
    assert "attend" not in payloads(chat)
    assert "petition" in payloads(chat)  # still open

    other = ChatUser(app.dialog, user_id="3")
    await consent(other)
    clock.set(closes)
    await open_round(other)
    await other.press("attend")
    await other.say("Trần Thị Bình")
    await other.say("0987 654 321")
    await other.press("confirm")  # the minute itself
    assert "Đã đăng ký tham dự" in other.text


async def test_wrong_petition_texts_are_refused_and_nothing_is_lost(
    app: App, rounds: Rounds, chat: ChatUser
) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await chat.press("petition")
    await chat.press("transport")
    await chat.press("commune")
    await chat.say("xong")  # done, with nothing written yet
    assert "chưa gửi nội dung nào" in chat.text
    await chat.say("😀😀😀")
    assert "chỉ có biểu tượng" in chat.text
    await chat.say(PETITION)
    await chat.say("x" * 10_000)
    assert "vượt quá giới hạn" in chat.text
    await chat.say("   ")
    await chat.say("🙏")
    await chat.press("done")
    await chat.press("done")
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.press("commune")
    assert PETITION in chat.text and "x" * 50 not in chat.text
    await chat.press("confirm")
    [petition] = await petitions_in(app)
    assert petition.summary == PETITION


async def test_a_denouncer_is_not_echoed_back(app: App, rounds: Rounds, chat: ChatUser) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await write_petition(chat, kind="denunciation")
    assert "giữ bí mật" in "\n".join(reply.text for reply in chat.history[-8:])
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.say("Ấp 3, xã Bình Chánh")
    await chat.press("confirm")
    assert "Phạm Thị Dung" not in chat.text and "0912 222 333" not in chat.text
    await chat.press("mine")
    await chat.press("KNCT-2026-000001")
    assert "Phạm Thị Dung" not in chat.text and "Người gửi: P" in chat.text


async def test_a_voter_petitions_through_telegram(
    app: App, rounds: Rounds, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 601)
    await user.say("/start")
    await user.press("Tiếng Việt")
    await user.press("Tôi đồng ý")
    await user.press("Tiếp xúc cử tri")
    assert TITLE in user.text and "Thứ Ba, 08/12/2026 14:00" in user.text
    await user.press(f"Chọn: {TITLE}")
    await user.say("binh chanh")
    await user.press("Xã Bình Chánh")
    await user.press("Đăng ký tham dự")
    await user.say("Nguyễn Văn An")
    await user.share_contact("84912345678")
    await user.press("Xác nhận đăng ký")
    assert "Mã đăng ký: TXCT-2026-000001" in user.text
    await user.press("Gửi ý kiến, kiến nghị")
    await user.press("Kiến nghị")
    await user.press("Giao thông")
    await user.press("Xã, phường")
    await user.say(PETITION)
    await user.press("Xong")
    await user.send_document("anh-con-duong.pdf", "application/pdf", 120_000)
    assert "Đã nhận 1 tệp: anh-con-duong.pdf" in user.text
    await user.press("Tiếp tục")
    await user.press("Chỉ ghi: Xã Bình Chánh")
    assert "Tệp đính kèm: anh-con-duong.pdf" in user.text
    await user.press("Xác nhận gửi")
    assert "Mã kiến nghị: KNCT-2026-000001" in user.text
    await user.press("Kiến nghị của tôi")
    await user.press("KNCT-2026-000001")
    await user.press("Rút kiến nghị")
    await user.press("Có, rút kiến nghị")
    assert "Đã rút kiến nghị" in user.text
    [petition] = await petitions_in(app)
    assert petition.status == SubmissionStatus.WITHDRAWN and petition.level == AnswerLevel.COMMUNE
    assert petition.attachments[0]["name"] == "anh-con-duong.pdf"


async def test_a_petition_step_is_one_read_and_one_write_and_sending_it_few_writes_more(
    app: App, rounds: Rounds, chat: ChatUser
) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    dialect = app.engine.dialect.name
    expected = 4 if dialect == "postgresql" else 5  # BEGIN, read, write, COMMIT (+ SQLite's mark)
    with statements(app) as pressed:
        await chat.press("petition")  # the type: a pressed button
    await chat.press("transport")
    await chat.press("province")
    with statements(app) as typed:
        await chat.say(PETITION)  # the text: a typed answer
    assert round_trips(pressed, dialect) == expected, pressed
    assert round_trips(typed, dialect) == expected, typed
    await chat.press("done")
    await chat.press("done")
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.press("commune")
    with statements(app) as sent:
        await chat.press("confirm")
    assert "KNCT-2026-000001" in chat.text
    # The petition with its code and the round's deadline checked in one INSERT, the audit
    # row, the profile remembered (new here): three writes, no read of ours. On PostgreSQL the
    # audit row and the profile are clauses of the state's write (storage.db.write_with_turn).
    postgresql = dialect == "postgresql"
    assert round_trips(sent, dialect) == expected + (1 if postgresql else 3), sent
    await chat.press("more")
    await write_petition(chat)
    with statements(app) as again:
        await chat.press("confirm")
    # The profile already holds it: the petition and its audit row.
    assert round_trips(again, dialect) == expected + (1 if postgresql else 2), again


async def test_a_written_petition_in_the_console(app: App, rounds: Rounds) -> None:
    typed = [
        "1",  # Tiếng Việt
        "1",  # Tôi đồng ý
        "Tiếp xúc cử tri",  # the menu entry, by its words
        "1",  # the round
        "con dao",
        "1",  # Đặc khu Côn Đảo
        "1",  # Gửi kiến nghị bằng văn bản
        "1",  # Kiến nghị
        "6",  # Giao thông
        "3",  # Xã, phường
        PETITION,
        "xong",
        "Lê Văn Cường",
        "0912000111",
        "1",  # Chỉ ghi: Đặc khu Côn Đảo
        "1",  # Xác nhận gửi
    ]
    out = io.StringIO()
    await ConsoleChannel(app.dialog, out=out).run(lines_then_eof(typed))
    transcript = out.getvalue()
    assert "không phải là điểm cầu của hội nghị này" in transcript
    assert "Mã kiến nghị: KNCT-2026-000001" in transcript
    [petition] = await petitions_in(app)
    assert (petition.field, petition.level, petition.sign_up_id) == ("transport", AnswerLevel.COMMUNE, None)
    assert petition.address == "Đặc khu Côn Đảo"


async def set_round(app: App, rounds: Rounds, **values: object) -> None:
    async with app.sessions() as db, db.begin():
        event = await db.get(Event, rounds.event_id)
        assert event is not None
        for name, value in values.items():
            setattr(event, name, value)


async def test_without_a_compile_deadline_petitions_close_five_days_after_the_last_meeting(
    app: App, rounds: Rounds, chat: ChatUser, clock: FrozenClock
) -> None:
    await set_round(app, rounds, compile_deadline=None)
    await consent(chat)
    await chat.press("voters")
    # Bình Chánh meets last, on Tuesday 8 December at 14:00.
    assert "Hạn gửi ý kiến, kiến nghị: Chủ Nhật, 13/12/2026 14:00" in chat.text
    await chat.press("r:")
    await chat.say("con dao")
    await chat.press("ep:")
    await chat.press("petition")
    await write_petition(chat)
    await chat.say("Lê Văn Cường")
    await chat.say("0912 000 111")
    await chat.press("commune")
    clock.set(local(2026, 12, 13, 14, 1))
    await chat.press("confirm")
    assert "đã hết hạn nhận ý kiến, kiến nghị lúc Chủ Nhật, 13/12/2026 14:00" in chat.text
    clock.set(local(2026, 12, 13, 14, 0))
    await chat.say("/tieptuc")  # the rounds again, read at 14:00
    await chat.press("r:")  # the commune is remembered
    await chat.press("petition")  # the text written is kept: straight to the review
    assert PETITION in chat.text
    await chat.press("confirm")
    assert "Mã kiến nghị: KNCT-2026-000001" in chat.text


async def test_a_round_called_off_meanwhile_takes_nothing(app: App, rounds: Rounds, chat: ChatUser) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await write_petition(chat)
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.press("commune")
    await set_round(app, rounds, status=EventStatus.CANCELLED)
    await chat.press("confirm")
    assert "hội nghị này đã bị hủy hoặc đã kết thúc" in chat.text
    assert "chưa có hội nghị tiếp xúc cử tri nào" in chat.text
    assert await petitions_in(app) == []


async def attend(chat: ChatUser, name: str, phone: str) -> None:
    await consent(chat)
    await open_round(chat)
    await chat.press("attend")
    await chat.say(name)
    await chat.say(phone)
    await chat.press("confirm")


async def test_a_cancelled_attendance_gives_the_seat_to_the_first_who_waits(app: App, rounds: Rounds) -> None:
    first, second = ChatUser(app.dialog, user_id="11"), ChatUser(app.dialog, user_id="12")
    await attend(first, "Nguyễn Văn An", "0912 345 678")
    await attend(second, "Trần Thị Bình", "0987 654 321")  # Tân Bình has one seat: waits
    assert "danh sách chờ" in second.text
    await first.press("menu")
    await open_round(first)
    assert "Ông/Bà đã đăng ký tham dự tại Phường Tân Bình" in first.text
    await first.press("unattend")
    assert "TXCT-2026-000001" in first.text
    await first.press("yes")
    assert "Đã hủy đăng ký tham dự (mã TXCT-2026-000001)" in first.text
    assert "attend" in payloads(first)  # may sign up again
    async with app.sessions() as db:
        statuses = dict((await db.execute(select(SignUp.code, SignUp.status))).all())
    assert statuses == {
        "TXCT-2026-000001": SignUpStatus.CANCELLED,
        "TXCT-2026-000002": SignUpStatus.CONFIRMED,
    }
    told = (await sent_to_citizens(app))["12"]
    assert "ĐÃ CÓ CHỖ CHO ÔNG/BÀ" in told and f"Hội nghị: {TITLE}" in told
    assert "Thứ Hai, 07/12/2026 08:00" in told and "chờ cán bộ xem xét" not in told


async def test_a_voter_is_reminded_of_the_meeting_at_their_own_commune(
    app: App, rounds: Rounds, clock: FrozenClock, chat: ChatUser
) -> None:
    """Bình Chánh meets a day after Tân Bình: its voters are reminded of their own day, as a
    voter-contact conference (no CCCD to bring)."""
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("attend")
    await chat.say("Trần Thị Bình")
    await chat.say("0987 654 321")
    await chat.press("confirm")
    channel = RecordingChannel()
    sender = Outbox(app.sessions, app.settings, app.clock, {"test": channel})
    start = local(2026, 12, 8, 14, 0)
    clock.set(start - timedelta(hours=24, minutes=1))
    assert await sender.send_due() == 0
    clock.set(start - timedelta(hours=24))
    assert await sender.send_due() == 1
    [(_, day)] = channel.sent
    assert "ngày mai Ông/Bà dự hội nghị tiếp xúc cử tri" in day and TITLE in day
    assert "Thời gian: Thứ Ba, 08/12/2026 14:00" in day and "Xã Bình Chánh" in day
    assert "Mã đăng ký: TXCT-2026-000001" in day and "Căn cước" not in day
