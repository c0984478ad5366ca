"""Staff set up and manage events of every kind: /newevent (a voter-contact round with a time
per endpoint and its deadlines), /sessions and /session, moving and cancelling a round under
the change-notice rule, every voter told (signed up or with petitions)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.notify import Outbox
from storage import registrations, staff_sessions
from storage.event_kinds import Timing, default_compile_deadline, default_materials_deadline
from storage.models import (
    AuditEntry,
    CaseType,
    Citizen,
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
from tests.conftest import ADMIN_ID, NOW, World, local
from tests.fakes.telegram_api import FakeTelegram
from tests.flows import officer_for
from tests.support import ChatUser
from tests.telegram_harness import TelegramUser, make_telegram_bot
from tests.test_outbox import RecordingChannel

TB, BC, CD = local(2026, 12, 14, 8, 0), local(2026, 12, 14, 14, 0), local(2026, 12, 16, 8, 30)
TITLE = "TXCT trước Kỳ họp thứ 10"


@dataclass
class Round:
    id: int
    endpoints: dict[str, int]  # code -> endpoint id


async def a_round(app: App, world: World) -> Round:
    """Tân Bình and Bình Chánh on Monday 14/12, Côn Đảo on Wednesday 16/12 (defaults deadlines)."""
    codes = {"P-TANBINH": TB, "X-BINHCHANH": BC, "DK-CONDAO": CD}
    starts = {world.endpoint_ids[code]: start for code, start in codes.items()}
    timing = Timing()
    async with app.sessions() as db, db.begin():
        made = await staff_sessions.create(
            db,
            kind=EventKind.VOTER_MEETING,
            title=TITLE,
            host="Tổ đại biểu HĐND tỉnh số 3",
            starts_at=TB,
            endpoint_ids=list(starts),
            capacity=30,
            online_room="https://meet.example/txct",
            now=app.clock.now(),
            endpoint_starts=starts,
            compile_deadline=default_compile_deadline(CD, timing),
            materials_deadline=default_materials_deadline(TB, timing),
        )
    return Round(made.id, {code: world.endpoint_ids[code] for code in codes})


async def voter(
    app: App,
    event: Round | int,
    user_id: str,
    commune: int,
    *,
    signed_up: bool = False,
    petitions: int = 0,
    locale: str = "vi",
    withdrawn: bool = False,
) -> int:
    """A voter of `commune`: signed up at it (an endpoint of the round) and/or with petitions."""
    event_id = event.id if isinstance(event, Round) else event
    now = app.clock.now()
    async with app.sessions() as db, db.begin():
        citizen = Citizen(
            channel="test",
            channel_user_id=user_id,
            locale=locale,
            consent_version="2026-12",
            consent_at=now,
            full_name="Nguyễn Văn Cử",
            phone="+84912345678",
            created_at=now,
        )
        db.add(citizen)
        await db.flush()
        sign_up_id = None
        if signed_up:  # as a voter signs up from the chat
            link = await db.scalar(
                select(EventEndpoint.id).where(
                    EventEndpoint.session_id == event_id, EventEndpoint.endpoint_id == commune
                )
            )
            assert link is not None
            made = await registrations.sign_up(
                db,
                citizen,
                link,
                seats=1,
                now=now,
                lead_days=app.settings.summary_lead_days,
                tz=app.settings.tz,
            )
            assert made.status == SignUpStatus.CONFIRMED and made.code.startswith("TXCT-")
            sign_up_id = made.id
        for n in range(petitions):
            db.add(
                Submission(
                    kind=SubmissionKind.PETITION,
                    event_id=event_id,
                    sign_up_id=sign_up_id,
                    citizen_id=citizen.id,
                    endpoint_id=commune,
                    code=f"TXCT-2026-{user_id}{n:0>3}",
                    status=SubmissionStatus.WITHDRAWN if withdrawn else SubmissionStatus.ACTIVE,
                    full_name=citizen.full_name,
                    case_type=CaseType.PETITION,
                    field="transport",
                    summary="Đề nghị sửa chữa tuyến đường liên xã đã xuống cấp nghiêm trọng.",
                    created_at=now,
                    updated_at=now,
                )
            )
        return citizen.id


async def told(app: App) -> dict[str, str]:
    """What the voters were sent (the admin's own notices left out)."""
    channel = RecordingChannel()
    await Outbox(app.sessions, app.settings, app.clock, {"test": channel}).send_due()
    return {user: text for user, text in channel.sent if user != ADMIN_ID}


async def event_titled(app: App, title: str) -> Event:
    async with app.sessions() as db:
        event = await db.scalar(
            select(Event).where(Event.title == title).options(selectinload(Event.endpoints))
        )
    assert event is not None
    return event


async def stored_round(app: App, event_id: int) -> Event:
    async with app.sessions() as db:
        event = await db.get(Event, event_id, options=[selectinload(Event.endpoints)])
    assert event is not None
    return event


def starts_of(event: Event) -> dict[int, datetime | None]:
    return {link.endpoint_id: link.starts_at for link in event.endpoints}


# --- /newevent --------------------------------------------------------------------------


async def test_newevent_makes_a_round_with_a_time_per_endpoint(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/commands")
    assert "/newevent" in admin.text
    await admin.say("/newevent")
    await admin.press("Tiếp xúc cử tri")
    assert "Tên hội nghị" in admin.prompt.text
    await admin.say(TITLE)
    assert "Tổ đại biểu" in admin.prompt.text
    await admin.say("Tổ đại biểu HĐND tỉnh số 3")
    await admin.say("P-TANBINH, X-BINHCHANH, DK-CONDAO")
    # The endpoints are asked in the order shown (by name), each with its own date and time.
    assert "Đặc khu Côn Đảo (1/3)" in admin.prompt.text and not admin.labels
    await admin.say("16/12/2026")
    assert "Xin gõ cả ngày và giờ họp" in admin.text
    await admin.say("16/12/2026 25:00")
    assert "Giờ không hợp lệ" in admin.text
    await admin.say("31/02/2027 08:00")
    assert "Ngày không hợp lệ" in admin.text
    await admin.say("20/11/2026 08:00")
    assert "đã qua" in admin.text and "Đặc khu Côn Đảo (1/3)" in admin.prompt.text
    await admin.say("16/12/2026 08:30")
    assert "Phường Tân Bình (2/3)" in admin.prompt.text
    assert "Như điểm cầu trước: Thứ Tư, 16/12/2026 08:30" in admin.labels
    await admin.say("14/12/2026 lúc 8:00")
    assert "Xã Bình Chánh (3/3)" in admin.prompt.text
    await admin.say("14/12/2026 14:00")
    await admin.press("default")  # 30 seats
    await admin.say("https://meet.example/txct")
    # The compile deadline: 5 days after the last meeting by default; typed, after it.
    assert "Theo mặc định: Thứ Hai, 21/12/2026 08:30" in admin.labels
    await admin.say("15/12/2026 17:00")
    assert "phải sau buổi tiếp xúc cuối cùng (Thứ Tư, 16/12/2026 08:30)" in admin.text
    await admin.say("hôm nay")
    assert "Ngày giờ không hợp lệ" in admin.text
    await admin.say("25/12/2026")  # a date alone: the end of that day
    # The materials deadline: 5 days before the first meeting by default; typed, before it.
    assert "Theo mặc định: Thứ Tư, 09/12/2026 08:00" in admin.labels
    await admin.say("14/12/2026 09:00")
    assert "phải trước buổi tiếp xúc đầu tiên (Thứ Hai, 14/12/2026 08:00)" in admin.text
    await admin.press("Theo mặc định")
    review = admin.text
    assert "Loại: Tiếp xúc cử tri" in review and "Tổ đại biểu: Tổ đại biểu HĐND tỉnh số 3" in review
    assert (
        "• Phường Tân Bình: Thứ Hai, 14/12/2026 08:00\n"
        "• Xã Bình Chánh: Thứ Hai, 14/12/2026 14:00\n"
        "• Đặc khu Côn Đảo: Thứ Tư, 16/12/2026 08:30"
    ) in review
    assert "Hạn tổng hợp ý kiến, kiến nghị: Thứ Sáu, 25/12/2026 23:59" in review
    assert "Hạn gửi tài liệu đến đại biểu: Thứ Tư, 09/12/2026 08:00" in review
    assert "⚠️" not in review
    await admin.press("save")
    assert "Đã tạo hội nghị tiếp xúc cử tri #" in admin.text
    async with staff_app.sessions() as db:
        made = await db.scalar(
            select(Event).where(Event.title == TITLE).options(selectinload(Event.endpoints))
        )
    assert made is not None and made.kind == EventKind.VOTER_MEETING
    assert made.starts_at == TB and made.host == "Tổ đại biểu HĐND tỉnh số 3"
    assert starts_of(made) == {
        world.endpoint_ids["P-TANBINH"]: TB,
        world.endpoint_ids["X-BINHCHANH"]: BC,
        world.endpoint_ids["DK-CONDAO"]: CD,
    }
    assert made.compile_deadline == local(2026, 12, 25, 23, 59)
    assert made.materials_deadline == local(2026, 12, 9, 8, 0)
    assert {link.capacity for link in made.endpoints} == {30}


async def test_the_rest_at_one_time_and_a_short_notice_round(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    """ "All endpoints" at the same hour in two presses; a round too close to sign up is flagged."""
    clock.set(local(2026, 12, 13, 9, 0))
    await admin.say("/newevent")
    await admin.press("Tiếp xúc cử tri")
    await admin.say("TXCT chuyên đề đất đai")
    await admin.say("Tổ đại biểu số 1")
    await admin.press("Tất cả điểm cầu")
    assert "(1/13)" in admin.prompt.text
    await admin.say("14/12/2026 08:00")
    await admin.press("12 điểm cầu còn lại")
    await admin.press("default")
    await admin.press("none")
    await admin.press("default")
    await admin.press("default")
    assert "⚠️ Đã qua hạn đăng ký tham dự (trước giờ họp 1 ngày) tại:" in admin.text
    assert "⚠️ Hạn gửi tài liệu đến đại biểu (Thứ Tư, 09/12/2026 08:00) đã qua." in admin.text
    await admin.press("save")
    async with staff_app.sessions() as db:
        made = await db.scalar(
            select(Event)
            .where(Event.title == "TXCT chuyên đề đất đai")
            .options(selectinload(Event.endpoints))
        )
    assert made is not None and set(starts_of(made).values()) == {local(2026, 12, 14, 8, 0)}
    assert len(made.endpoints) == 13


async def test_a_round_half_written_survives_a_restart(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    """Every answer is kept in the database: another process takes the round up where it was."""
    await admin.say("/newevent")
    await admin.press("Tiếp xúc cử tri")
    await admin.say("TXCT sau Kỳ họp thứ 10")
    await admin.say("Tổ đại biểu số 4")
    await admin.say("P-TANBINH, X-BINHCHANH")
    await admin.say("14/12/2026 08:00")
    assert "Xã Bình Chánh (2/2)" in admin.prompt.text
    again = build_app(staff_app.settings, clock)
    try:
        later = ChatUser(again.dialog, user_id=ADMIN_ID, _events=admin._events)
        await later.say("15/12/2026 8h00")
        await later.press("default")
        await later.press("none")
        await later.press("default")
        await later.press("default")
        assert "• Phường Tân Bình: Thứ Hai, 14/12/2026 08:00\n• Xã Bình Chánh: Thứ Ba, 15/12/2026 08:00" in (
            later.text
        )
        await later.press("save")
    finally:
        await again.close()
    stored = await event_titled(staff_app, "TXCT sau Kỳ họp thứ 10")
    assert stored.host == "Tổ đại biểu số 4" and stored.compile_deadline == local(2026, 12, 20, 8, 0)


async def test_newsession_still_makes_a_reception_session(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/newsession")
    await admin.press("Tiếp công dân")
    await admin.say("Tiếp công dân tháng 2/2027")
    await admin.say("Thường trực HĐND tỉnh")
    await admin.say("12/12/2026 08:00")
    await admin.say("P-TANBINH")
    await admin.press("default")
    await admin.press("none")
    assert "Hạn nhận nội dung: Thứ Hai, 07/12/2026 08:00" in admin.text
    await admin.press("save")
    assert "Đã tạo buổi tiếp #" in admin.text
    async with staff_app.sessions() as db:
        made = await db.scalar(
            select(Event).where(Event.title.contains("2/2027")).options(selectinload(Event.endpoints))
        )
    assert made is not None and made.kind == EventKind.RECEPTION
    assert made.starts_at == local(2026, 12, 12, 8, 0) and list(starts_of(made).values()) == [None]
    assert made.compile_deadline is None and made.materials_deadline is None


# --- /sessions and /session ---------------------------------------------------------------


async def test_sessions_and_session_show_every_kind(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    event = await a_round(staff_app, world)
    await voter(staff_app, event, "501", event.endpoints["P-TANBINH"], signed_up=True, petitions=2)
    await voter(staff_app, event, "502", world.endpoint_ids["P-01"], petitions=1)  # not connected
    await voter(staff_app, event, "503", event.endpoints["X-BINHCHANH"], petitions=1, withdrawn=True)
    await admin.say("/sessions")
    listed = admin.text
    assert f"#{event.id} {TITLE}\nLoại: Tiếp xúc cử tri\nTổ đại biểu: Tổ đại biểu HĐND tỉnh số 3" in listed
    assert "Hạn gửi tài liệu đến đại biểu: Thứ Tư, 09/12/2026 08:00" in listed
    assert "Hạn tổng hợp ý kiến, kiến nghị: Thứ Hai, 21/12/2026 08:30" in listed
    assert "Ý kiến, kiến nghị đã nhận: 3" in listed  # the withdrawn one not counted
    assert "• Phường Tân Bình — Thứ Hai, 14/12/2026 08:00: đã đăng ký 1, còn 29/30 chỗ" in listed
    assert "• Đặc khu Côn Đảo — Thứ Tư, 16/12/2026 08:30: đã đăng ký 0, còn 30/30 chỗ" in listed
    assert f"Loại: Tiếp công dân\n#{world.first_id} Tiếp công dân tháng 12" in listed
    assert "Hạn nhận nội dung: Thứ Tư, 02/12/2026 08:00" in listed  # reception as before

    await admin.say(f"/session {event.id}")
    shown = admin.text
    assert f"HỘI NGHỊ TIẾP XÚC CỬ TRI #{event.id}: {TITLE}" in shown
    assert "Ý kiến, kiến nghị đã nhận: 3 (trong đó bằng văn bản từ xã, phường không có điểm cầu: 1)" in shown
    assert (
        "📍 Phường Tân Bình — Thứ Hai, 14/12/2026 08:00\nĐăng ký tham dự: 1/30 chỗ · Ý kiến, kiến nghị: 2"
    ) in shown
    assert (
        "📍 Xã Bình Chánh — Thứ Hai, 14/12/2026 14:00\nĐăng ký tham dự: 0/30 chỗ · Ý kiến, kiến nghị: 0"
        in shown
    )
    await admin.say(f"/session {world.first_id}")
    assert "Loại: Tiếp công dân\nBUỔI TIẾP" in admin.text

    # Once Tân Bình and Bình Chánh have met, the round is listed still, for Côn Đảo.
    clock.set(BC + timedelta(hours=1))
    await admin.say("/sessions")
    assert f"#{event.id} {TITLE}" in admin.text and f"#{world.first_id} " not in admin.text
    clock.set(NOW)

    # An officer of Bình Chánh sees that endpoint only, and its petitions only.
    officer = await officer_for(staff_app, admin, "700", scope="X-BINHCHANH")
    await officer.say(f"/session {event.id}")
    assert "Xã Bình Chánh —" in officer.text and "Phường Tân Bình" not in officer.text
    assert (
        "Ý kiến, kiến nghị đã nhận: 0 (trong đó bằng văn bản từ xã, phường không có điểm cầu: 0)"
        in officer.text
    )


async def test_a_rounds_endpoints_are_listed_in_the_order_they_meet(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    """Staff read a round as its itinerary: the endpoint that meets first comes first, whatever
    order the endpoints were added in."""
    starts = {
        world.endpoint_ids["P-TANBINH"]: CD,  # the last to meet, the first endpoint added
        world.endpoint_ids["X-BINHCHANH"]: BC,
        world.endpoint_ids["DK-CONDAO"]: TB,  # the first to meet
    }
    async with staff_app.sessions() as db, db.begin():
        made = await staff_sessions.create(
            db,
            kind=EventKind.VOTER_MEETING,
            title=TITLE,
            host="Tổ đại biểu HĐND tỉnh số 3",
            starts_at=TB,
            endpoint_ids=list(starts),
            capacity=30,
            online_room="",
            now=staff_app.clock.now(),
            endpoint_starts=starts,
        )
    await admin.say("/sessions")
    listed = admin.text
    order = [listed.index(f"• {name} —") for name in ("Đặc khu Côn Đảo", "Xã Bình Chánh", "Phường Tân Bình")]
    assert order == sorted(order)
    await admin.say(f"/session {made.id}")
    shown = admin.text
    order = [shown.index(f"📍 {name} —") for name in ("Đặc khu Côn Đảo", "Xã Bình Chánh", "Phường Tân Bình")]
    assert order == sorted(order)


# --- moving and cancelling a round --------------------------------------------------------


async def four_voters(app: App, event: Round, world: World) -> None:
    """501 signed up at Tân Bình; 502 (English) petitions from Tân Bình without signing up;
    503 signed up at Bình Chánh; 504 petitions in writing from a commune not connected."""
    await voter(app, event, "501", event.endpoints["P-TANBINH"], signed_up=True, petitions=1)
    await voter(app, event, "502", event.endpoints["P-TANBINH"], petitions=2, locale="en")
    await voter(app, event, "503", event.endpoints["X-BINHCHANH"], signed_up=True)
    await voter(app, event, "504", world.endpoint_ids["P-01"], petitions=1)


async def test_moving_one_endpoint_tells_its_voters(staff_app: App, world: World, admin: ChatUser) -> None:
    event = await a_round(staff_app, world)
    await four_voters(staff_app, event, world)
    await admin.say(f"/reschedule {event.id}")
    assert "Dời cả hội nghị" in admin.labels
    assert "Phường Tân Bình · Thứ Hai, 14/12/2026 08:00" in admin.labels
    await admin.press("Phường Tân Bình")
    assert "DỜI LỊCH TẠI Phường Tân Bình" in admin.prompt.text
    await admin.say("14/12/2026 08:00")
    assert "thời gian mới phải khác thời gian hiện tại" in admin.text
    await admin.say("15/12/2026 08:00")
    await admin.say("Trùng lịch kỳ họp bất thường")
    review = admin.text
    assert "⚠️" not in review
    assert "• Phường Tân Bình: từ Thứ Hai, 14/12/2026 08:00 sang Thứ Ba, 15/12/2026 08:00" in review
    assert "Xã Bình Chánh" not in review  # it does not move
    assert "Hạn tổng hợp ý kiến, kiến nghị: Thứ Hai, 21/12/2026 08:30" in review  # unchanged
    assert "Số cử tri sẽ được báo: 2" in review
    await admin.press("Xác nhận")
    assert f"Đã dời lịch hội nghị #{event.id}. Đã báo cho 2 cử tri." in admin.text
    messages = await told(staff_app)
    assert set(messages) == {"501", "502"}  # those who meet or petition at Tân Bình
    assert "THAY ĐỔI LỊCH TIẾP XÚC CỬ TRI" in messages["501"]
    assert (
        "hội nghị tại Phường Tân Bình được dời\ntừ Thứ Hai, 14/12/2026 08:00\nsang Thứ Ba, 15/12/2026 08:00"
    ) in messages["501"]
    assert "Trùng lịch kỳ họp bất thường" in messages["501"]
    assert "tiếp nhận đến hết Thứ Hai, 21/12/2026 08:30" in messages["501"]
    assert "the meeting at Phường Tân Bình has moved" in messages["502"]
    stored = await stored_round(staff_app, event.id)
    assert starts_of(stored)[event.endpoints["P-TANBINH"]] == local(2026, 12, 15, 8, 0)
    assert stored.starts_at == BC  # Bình Chánh is the first meeting now
    assert stored.status == EventStatus.RESCHEDULED
    async with staff_app.sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.reschedule"))
    assert entry is not None and entry.details["short_notice_override"] is False
    assert entry.details["endpoint_id"] == event.endpoints["P-TANBINH"] and entry.details["told"] == 2


async def test_moving_the_last_meeting_moves_the_compile_deadline_and_tells_every_voter(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    event = await a_round(staff_app, world)
    await four_voters(staff_app, event, world)
    await admin.say(f"/reschedule {event.id}")
    await admin.press("Đặc khu Côn Đảo")
    await admin.say("18/12/2026 08:30")
    await admin.say("Thời tiết xấu, tàu không chạy")
    assert "Hạn tổng hợp ý kiến, kiến nghị: Thứ Tư, 23/12/2026 08:30" in admin.text
    await admin.press("Xác nhận")
    messages = await told(staff_app)
    # Everyone of the round: the deadline for petitions, which any of them may send, moved.
    assert set(messages) == {"501", "502", "503", "504"}
    assert "hội nghị tại Đặc khu Côn Đảo được dời" in messages["504"]
    assert "tiếp nhận đến hết Thứ Tư, 23/12/2026 08:30" in messages["504"]
    assert (await stored_round(staff_app, event.id)).compile_deadline == local(2026, 12, 23, 8, 30)


async def test_moving_the_whole_round_keeps_its_days_apart(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    event = await a_round(staff_app, world)
    await four_voters(staff_app, event, world)
    await admin.say(f"/reschedule {event.id}")
    await admin.press("Dời cả hội nghị")
    assert "Buổi tiếp xúc đầu tiên hiện vào Thứ Hai, 14/12/2026 08:00" in admin.prompt.text
    await admin.say("21/12/2026")
    await admin.say("08:00")
    await admin.say("Điều chỉnh chương trình kỳ họp")
    review = admin.text
    assert "• Xã Bình Chánh: từ Thứ Hai, 14/12/2026 14:00 sang Thứ Hai, 21/12/2026 14:00" in review
    assert "• Đặc khu Côn Đảo: từ Thứ Tư, 16/12/2026 08:30 sang Thứ Tư, 23/12/2026 08:30" in review
    assert "Hạn tổng hợp ý kiến, kiến nghị: Thứ Hai, 28/12/2026 08:30" in review
    assert "Hạn gửi tài liệu đến đại biểu: Thứ Tư, 16/12/2026 08:00" in review
    assert "Số cử tri sẽ được báo: 4" in review
    await admin.press("Xác nhận")
    messages = await told(staff_app)
    assert set(messages) == {"501", "502", "503", "504"}
    assert (
        "tại Xã Bình Chánh được dời\ntừ Thứ Hai, 14/12/2026 14:00\nsang Thứ Hai, 21/12/2026 14:00"
        in messages["503"]
    )
    # A voter of a commune not connected is told of the round's first meeting.
    assert (
        "buổi tiếp xúc đầu tiên được dời\ntừ Thứ Hai, 14/12/2026 08:00\nsang Thứ Hai, 21/12/2026 08:00"
        in (messages["504"])
    )
    stored = await stored_round(staff_app, event.id)
    assert set(starts_of(stored).values()) == {
        TB + timedelta(days=7),
        BC + timedelta(days=7),
        CD + timedelta(days=7),
    }
    assert stored.starts_at == TB + timedelta(days=7)
    assert stored.materials_deadline == local(2026, 12, 16, 8, 0)


async def move_bình_chánh(admin: ChatUser, event: Round, to: str) -> str:
    """The review of moving Bình Chánh's meeting to `to`."""
    await admin.say(f"/reschedule {event.id}")
    await admin.press("Xã Bình Chánh")
    await admin.say(to)
    await admin.say("Thay đổi nhân sự tổ đại biểu")
    return admin.text


async def test_the_five_day_rule_to_the_minute(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    """Bình Chánh meets on 14/12 at 14:00: a move is announced at least 5 days ahead of both
    its old and its new time, or with the override; Tân Bình, which does not move, is closer."""
    event = await a_round(staff_app, world)
    await four_voters(staff_app, event, world)
    warning = "⚠️ Thông báo thay đổi phải gửi trước ít nhất 5 ngày"

    clock.set(BC - timedelta(days=5))  # 09/12 14:00: exactly 5 days ahead of the old time
    assert warning not in await move_bình_chánh(admin, event, "15/12/2026 14:00")
    assert "Xác nhận dù thời hạn thông báo ngắn" not in admin.labels
    await admin.press("Không, giữ nguyên")

    clock.set(BC - timedelta(days=5) + timedelta(minutes=1))  # one minute later: inside the window
    assert warning in await move_bình_chánh(admin, event, "15/12/2026 14:00")
    await admin.press("Không, giữ nguyên")
    assert starts_of(await stored_round(staff_app, event.id))[event.endpoints["X-BINHCHANH"]] == BC

    # The new time counts as well: 5 days after now exactly is fine, a minute sooner is not.
    clock.set(local(2026, 12, 1, 9, 0))
    assert warning not in await move_bình_chánh(admin, event, "06/12/2026 09:00")
    await admin.press("Không, giữ nguyên")
    assert warning in await move_bình_chánh(admin, event, "06/12/2026 08:59")
    await admin.press("Xác nhận dù thời hạn thông báo ngắn")
    assert "Đã báo cho 1 cử tri" in admin.text
    messages = await told(staff_app)
    assert set(messages) == {"503"} and "sang Chủ Nhật, 06/12/2026 08:59" in messages["503"]
    async with staff_app.sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.reschedule"))
    assert entry is not None and entry.details["short_notice_override"] is True
    assert entry.details["reason"] == "Thay đổi nhân sự tổ đại biểu"


async def test_cancelling_a_round_tells_every_voter(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    event = await a_round(staff_app, world)
    await four_voters(staff_app, event, world)
    clock.set(TB - timedelta(days=5))  # exactly 5 days before the first meeting: in time
    await admin.say(f"/cancelsession {event.id}")
    await admin.say("Thay đổi kế hoạch của Đoàn đại biểu")
    assert "⚠️" not in admin.text and "Xác nhận" in admin.labels
    await admin.press("Không, giữ nguyên")
    clock.set(TB - timedelta(days=5) + timedelta(minutes=1))  # a minute later: inside the window
    await admin.say(f"/cancelsession {event.id}")
    assert "HỦY HỘI NGHỊ TIẾP XÚC CỬ TRI" in admin.prompt.text
    await admin.say("Thay đổi kế hoạch của Đoàn đại biểu")
    assert "⚠️" in admin.text
    assert "Số cử tri sẽ được báo (đã đăng ký tham dự hoặc đã gửi ý kiến, kiến nghị): 4" in admin.text
    await admin.press("Xác nhận dù thời hạn thông báo ngắn")
    assert f"Đã hủy hội nghị #{event.id}. Đã báo cho 4 cử tri." in admin.text
    messages = await told(staff_app)
    assert set(messages) == {"501", "502", "503", "504"}
    assert "❌ HỦY HỘI NGHỊ TIẾP XÚC CỬ TRI" in messages["501"] and "Thay đổi kế hoạch" in messages["501"]
    assert "VOTER-CONTACT CONFERENCE CANCELLED" in messages["502"]
    async with staff_app.sessions() as db:
        statuses = set(await db.scalars(select(SignUp.status).where(SignUp.session_id == event.id)))
        kept = set(await db.scalars(select(Submission.status).where(Submission.event_id == event.id)))
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.cancel"))
    assert statuses == {SignUpStatus.CANCELLED} and kept == {SubmissionStatus.ACTIVE}
    assert entry is not None and entry.details["short_notice_override"] is True
    await admin.say(f"/reschedule {event.id}")
    assert "không thể thay đổi" in admin.text


# --- through the fake Telegram server -----------------------------------------------------


async def test_a_round_is_made_with_telegram_buttons(
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
        await admin.press("Tiếp xúc cử tri")
        await admin.say("TXCT qua Telegram")
        await admin.say("Tổ đại biểu số 2")
        await admin.say("P-TANBINH; X-BINHCHANH")
        await admin.say("15/12/2026 08:00")
        await admin.press("Như điểm cầu trước")
        await admin.press("Dùng mặc định")
        await admin.press("Chưa có")
        await admin.press("Theo mặc định")
        await admin.press("Theo mặc định")
        assert "Hạn tổng hợp ý kiến, kiến nghị: Chủ Nhật, 20/12/2026 08:00" in admin.text
        await admin.press("Lưu hội nghị")
        assert "Đã tạo hội nghị tiếp xúc cử tri #" in admin.text
    finally:
        await telegram.stop()
        await asyncio.wait_for(polling, timeout=10)
    async with staff_app.sessions() as db:
        made = await db.scalar(
            select(Event).where(Event.title == "TXCT qua Telegram").options(selectinload(Event.endpoints))
        )
    assert made is not None and set(starts_of(made).values()) == {local(2026, 12, 15, 8, 0)}
    assert made.materials_deadline == local(2026, 12, 10, 8, 0)
