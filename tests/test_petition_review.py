"""/petitions: staff list, filter, classify, merge, forward and answer voters' petitions; every
voter behind a petition gets the answer, once, in their language; officers see their endpoints
only; a denouncer's name stays hidden; every step is audited."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.channels.telegram.runner import TelegramBot
from bot.i18n import SUPPORTED_LOCALES, load_catalog
from bot.notify import Outbox
from handlers.staff.petitions import FILTERS
from storage import petition_review
from storage.errors import NotFound
from storage.identity import UserKey
from storage.models import (
    AnswerLevel,
    AuditEntry,
    CaseType,
    Citizen,
    Endpoint,
    EventKind,
    Notification,
    SignUp,
    SignUpStatus,
    StaffRole,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.petition_review import PetitionState
from storage.sessions import create_session
from storage.staff import Actor
from tests.conftest import World, local
from tests.fakes.telegram_api import FakeTelegram
from tests.flows import officer_for
from tests.support import ChatUser
from tests.telegram_harness import TelegramUser, make_telegram_bot
from tests.test_outbox import RecordingChannel

ROAD_A = (
    "Đề nghị sửa chữa tuyến đường liên xã Tân Bình – Bình Chánh đã xuống cấp nghiêm trọng, "
    "gây nguy hiểm cho người đi đường, nhất là học sinh đi học vào mùa mưa; "
    "đề nghị lắp thêm đèn chiếu sáng tại các đoạn cua gấp."
)
ROAD_B = "Cử tri đề nghị sớm nâng cấp đường liên xã đoạn qua xã Bình Chánh vì mặt đường hư hỏng nặng."
ANSWER = (
    "Tuyến đường liên xã đã được đưa vào kế hoạch đầu tư công năm 2027; "
    "Ủy ban nhân dân xã sẽ tổ chức vá tạm mặt đường trong tháng 12/2026."
)
CODES = itertools.count(1)


@dataclass(frozen=True)
class VoterRound:
    id: int
    endpoint_ids: dict[str, int]  # by code
    seats: dict[str, int]  # event endpoint ids by endpoint code


@pytest.fixture
async def voter_round(app: App, world: World) -> VoterRound:
    """A voter-contact round connecting Tân Bình and Bình Chánh (Côn Đảo is not connected)."""
    async with app.sessions() as db, db.begin():
        endpoints = {e.code: e for e in await db.scalars(select(Endpoint))}
        event = await create_session(
            db,
            kind=EventKind.VOTER_MEETING,
            title="Tiếp xúc cử tri sau kỳ họp thứ 5",
            starts_at=local(2026, 12, 10, 8, 0),
            now=app.clock.now(),
            endpoints=[(endpoints["P-TANBINH"], 30), (endpoints["X-BINHCHANH"], 30)],
        )
        return VoterRound(
            event.id,
            {code: e.id for code, e in endpoints.items()},
            {link.endpoint.code: link.id for link in event.endpoints},
        )


async def citizen(app: App, channel: str, user_id: str, locale: str = "vi") -> int:
    """A voter who has consented (made here for the console; on Telegram, found after the chat)."""
    async with app.sessions() as db, db.begin():
        found = await db.scalar(
            select(Citizen).where(Citizen.channel == channel, Citizen.channel_user_id == user_id)
        )
        if found is None:
            found = Citizen(
                channel=channel,
                channel_user_id=user_id,
                locale=locale,
                consent_version=app.settings.consent_version,
                consent_at=app.clock.now(),
                created_at=app.clock.now(),
            )
            db.add(found)
            await db.flush()
        return found.id


async def petition(
    app: App,
    voters: VoterRound,
    citizen_id: int,
    endpoint: str,
    summary: str,
    *,
    name: str = "Nguyễn Văn An",
    field: str = "transport",
    case_type: CaseType = CaseType.PETITION,
    level: AnswerLevel | None = None,
    signed_up: bool = False,
    status: SubmissionStatus = SubmissionStatus.ACTIVE,
    minutes: int = 0,
) -> int:
    """A voter's petition as the voters' flows store it (a written one, or with a sign-up)."""
    now = app.clock.now() + timedelta(minutes=minutes)
    async with app.sessions() as db, db.begin():
        sign_up = None
        if signed_up:
            sign_up = SignUp(
                code=f"KNCT-2026-{next(CODES) + 900000:06d}",
                citizen_id=citizen_id,
                session_id=voters.id,
                session_endpoint_id=voters.seats[endpoint],
                status=SignUpStatus.CONFIRMED,
                seats=1,
                created_at=now,
                updated_at=now,
                queued_at=now,
            )
            db.add(sign_up)
            await db.flush()
        row = Submission(
            kind=SubmissionKind.PETITION,
            event_id=voters.id,
            sign_up_id=None if sign_up is None else sign_up.id,
            citizen_id=citizen_id,
            endpoint_id=voters.endpoint_ids[endpoint],
            code=f"KNCT-2026-{next(CODES):06d}",
            status=status,
            full_name=name,
            phone="+84912345678",
            address="Ấp 3",
            case_type=case_type,
            field=field,
            level=level,
            summary=summary,
            created_at=now,
            updated_at=now,
        )
        db.add(row)
        await db.flush()
        return row.id


async def code_of(app: App, petition_id: int) -> str:
    async with app.sessions() as db:
        code = await db.scalar(select(Submission.code).where(Submission.id == petition_id))
    assert code is not None
    return code


async def row(app: App, petition_id: int) -> Submission:
    async with app.sessions() as db:
        found = await db.get(Submission, petition_id)
    assert found is not None
    return found


async def actions(app: App) -> list[str]:
    """The staff actions on petitions and denouncers audited, in order."""
    async with app.sessions() as db:
        found = await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
    return [action for action in found if action.startswith(("petition.", "denouncer."))]


async def classify(staff: ChatUser, field: str = "transport", level: str = "commune") -> None:
    await staff.press("classify")
    await staff.press(f"f:{field}")
    await staff.press(f"l:{level}")


async def open_petition(staff: ChatUser, round_id: int, petition_id: int) -> None:
    await staff.say(f"/petitions {round_id}")
    await staff.press(f"p:{petition_id}")


# --- end to end: two voters on Telegram, staff on the console --------------------------


@pytest.fixture
async def telegram(staff_app: App, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    """The staff app's Telegram bot polling the fake (voters on Telegram, staff on the console)."""
    staff_app.settings.telegram_polling_timeout = 1
    bot = make_telegram_bot(staff_app, fake)
    polling = asyncio.create_task(bot.run_polling())
    await fake.wait_until(lambda: fake.calls_of("getUpdates"))
    try:
        yield bot
    finally:
        await bot.stop()
        await asyncio.wait_for(polling, timeout=10)


async def test_two_voters_at_two_endpoints_merged_forwarded_answered_both_told(
    staff_app: App,
    voter_round: VoterRound,
    admin: ChatUser,
    fake: FakeTelegram,
    telegram: TelegramBot,
) -> None:
    vi = TelegramUser(telegram, fake, 501)
    en = TelegramUser(telegram, fake, 502, language_code="en")
    for user, language, agree in ((vi, "Tiếng Việt", "Tôi đồng ý"), (en, "English", "I agree")):
        await user.say("/start")
        await user.press(language)
        await user.press(agree)
    first = await petition(
        staff_app,
        voter_round,
        await citizen(staff_app, "telegram", "501"),
        "P-TANBINH",
        ROAD_A,
        signed_up=True,
    )
    second = await petition(
        staff_app,
        voter_round,
        await citizen(staff_app, "telegram", "502"),
        "X-BINHCHANH",
        ROAD_B,
        name="Lê Thị Hoa",
        minutes=5,
    )
    first_code, second_code = await code_of(staff_app, first), await code_of(staff_app, second)

    await admin.say(f"/petitions {voter_round.id}")
    assert "Tổng số: 2" in admin.text and "Chưa phân loại: 2" in admin.text
    assert first_code in admin.text and "Lê Thị Hoa" in admin.text
    await admin.press(f"p:{first}")
    assert f"KIẾN NGHỊ {first_code} (Chưa phân loại)" in admin.text
    assert "cử tri tại xã, phường có điểm cầu của hội nghị" in admin.text
    assert "forward" not in [o.payload.split(":", 1)[1] for o in admin.options_of_prompt]  # classify first
    await classify(admin, "transport", "commune")
    assert f"Đã phân loại kiến nghị {first_code}: Giao thông — Cấp xã." in admin.text

    await admin.press("merge")
    await admin.press(f"m:{second}")
    assert f"Đã chọn: {second_code}" in admin.prompt.text
    await admin.press("confirm")
    assert f"Đã gộp 1 kiến nghị vào kiến nghị {first_code}" in admin.text
    assert "Số cử tri: 2, tại 2 điểm cầu: Phường Tân Bình, Xã Bình Chánh" in admin.text
    assert f"• {second_code} — Xã Bình Chánh — Lê Thị Hoa (1 cử tri)" in admin.text

    await admin.press("forward")
    await admin.press("Ủy ban nhân dân cấp xã")
    assert f"Đã chuyển kiến nghị {first_code} đến Ủy ban nhân dân cấp xã nơi cư trú." in admin.text
    await admin.press("answer")
    assert "sẽ được gửi đến 2 cử tri" in admin.prompt.text
    await admin.say(ANSWER)
    assert f"Đã ghi nhận trả lời kiến nghị {first_code}. Câu trả lời sẽ được gửi đến 2 cử tri." in admin.text
    assert "(Đã có trả lời)" in admin.text

    outbox = Outbox(
        staff_app.sessions, staff_app.settings, staff_app.clock, {"telegram": telegram.outbox_channel}
    )
    assert await outbox.send_due() == 2
    told_vi, told_en = fake.sent_to(501)[-1].text, fake.sent_to(502)[-1].text
    assert told_vi.startswith("Kính gửi Ông/Bà")
    assert first_code in told_vi and ANSWER in told_vi and "Ủy ban nhân dân cấp xã nơi cư trú" in told_vi
    assert "Tiếp xúc cử tri sau kỳ họp thứ 5" in told_vi and "Đề nghị sửa chữa tuyến đường" in told_vi
    assert ROAD_A not in told_vi  # the text shortened
    assert told_en.startswith("Dear voter")  # in the voter's language
    assert second_code in told_en and first_code not in told_en and ANSWER in told_en
    assert await outbox.send_due() == 0  # once

    kept, merged = await row(staff_app, first), await row(staff_app, second)
    assert (kept.voters, kept.status, kept.level, kept.field) == (
        2,
        SubmissionStatus.ACTIVE,
        AnswerLevel.COMMUNE,
        "transport",
    )
    assert kept.forwarded_to == "Ủy ban nhân dân cấp xã nơi cư trú" and kept.outcome == ANSWER
    assert kept.outcome_at == staff_app.clock.now()
    assert (merged.status, merged.merged_into_id) == (SubmissionStatus.MERGED, first)
    async with staff_app.sessions() as db:  # who is behind the kept one: a query over merged_into_id
        behind = list(await db.scalars(select(Submission.id).where(Submission.merged_into_id == first)))
    assert behind == [second]
    assert await actions(staff_app) == [
        "petition.classify",
        "petition.merge",
        "petition.forward",
        "petition.answer",
    ]
    async with staff_app.sessions() as db:
        entries = {e.action: e for e in await db.scalars(select(AuditEntry))}
    assert entries["petition.merge"].details == {"merged": [second], "voters": 2}
    assert entries["petition.answer"].details["notified"] == 2
    assert entries["petition.answer"].actor == "test:9000"


# --- one voter behind two merged petitions ------------------------------------------------


async def test_a_voter_behind_two_merged_petitions_is_told_once(
    staff_app: App, voter_round: VoterRound, admin: ChatUser
) -> None:
    an, hoa = await citizen(staff_app, "test", "71"), await citizen(staff_app, "test", "72", locale="en")
    first = await petition(staff_app, voter_round, an, "P-TANBINH", ROAD_A)
    again = await petition(staff_app, voter_round, an, "P-TANBINH", ROAD_B, minutes=1)
    third = await petition(staff_app, voter_round, hoa, "X-BINHCHANH", ROAD_B, minutes=2)
    actor = Actor(UserKey("test", "9000"), StaffRole.ADMIN, None, True)
    now = staff_app.clock.now()
    async with staff_app.sessions() as db, db.begin():
        # `again` is merged into `third` first, then `third` into `first`: all end behind `first`
        await petition_review.merge(db, third, [again], actor=actor, now=now)
        kept = await petition_review.merge(db, first, [third], actor=actor, now=now)
        assert kept.voters == 2  # An counts once, though two of the three petitions are theirs
        assert [p.id for p in await petition_review.behind(db, first)] == [again, third]
        assert await petition_review.voters_of(db, first) == [an, hoa]  # each once
    await open_petition(admin, voter_round.id, first)
    assert "Số cử tri: 2, tại 2 điểm cầu" in admin.text
    await classify(admin)
    await admin.press("forward")
    await admin.press("Thanh tra tỉnh")
    await admin.press("answer")
    await admin.say(ANSWER)
    assert "sẽ được gửi đến 2 cử tri" in admin.text
    channel = RecordingChannel()
    assert (
        await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
        == 2
    )
    told = dict(channel.sent)
    first_code, again_code, third_code = [await code_of(staff_app, i) for i in (first, again, third)]
    assert f"{first_code}, {again_code}" in told["71"]  # both their petitions, one notice
    assert third_code in told["72"] and told["72"].startswith("Dear voter")


# --- the list: counts, filters, pages ---------------------------------------------------


async def test_the_list_counts_filters_and_pages(
    staff_app: App, voter_round: VoterRound, admin: ChatUser
) -> None:
    voter = await citizen(staff_app, "test", "81")
    ids = [
        await petition(
            staff_app,
            voter_round,
            voter,
            "P-TANBINH" if n % 2 else "X-BINHCHANH",
            f"Kiến nghị số {n} về môi trường khu dân cư",
            field="environment" if n < 6 else "health",
            minutes=n,
        )
        for n in range(10)
    ]
    await petition(
        staff_app,
        voter_round,
        voter,
        "DK-CONDAO",
        "Kiến nghị đã rút",
        status=SubmissionStatus.WITHDRAWN,
        minutes=20,
    )
    await open_petition(admin, voter_round.id, ids[0])
    await classify(admin, "environment", "province")
    await admin.say(f"/petitions {voter_round.id}")
    assert "Tổng số: 11" in admin.text
    assert "Chưa phân loại: 9; Đã phân loại: 1; Đã chuyển cơ quan có thẩm quyền: 0" in admin.text
    assert "Cử tri đã rút: 1" in admin.text
    assert "trang 1/2" in admin.text and "Trang tiếp »" in admin.labels
    await admin.press("next")
    assert "trang 2/2" in admin.text and "Kiến nghị đã rút" in admin.text
    assert "Trang tiếp »" not in admin.labels and "« Trang trước" in admin.labels

    await admin.press("by_state")
    await admin.press("v:classified")
    assert "Đang xem: Đã phân loại — 1 kiến nghị, trang 1/1" in admin.text
    await admin.press("clear")
    await admin.press("by_field")
    await admin.press("v:health")
    assert "Đang xem: Y tế — 4 kiến nghị" in admin.text
    assert "Tổng số: 4 (Chưa phân loại: 4;" in admin.text  # the counts follow the other filters
    await admin.press("by_endpoint")
    assert "Xã Bình Chánh (5)" in admin.labels and "Đặc khu Côn Đảo (1)" in admin.labels
    await admin.press("Xã Bình Chánh")
    assert "Đang xem: Y tế, Xã Bình Chánh — 2 kiến nghị" in admin.text
    await admin.press("clear")
    await admin.press("by_level")
    await admin.press("v:province")
    assert "Đang xem: Cấp tỉnh — 1 kiến nghị" in admin.text
    await admin.press("clear")
    code = await code_of(staff_app, ids[3])
    await admin.say(code.rsplit("-", 1)[1].lstrip("0"))  # a petition by the number of its code
    assert f"KIẾN NGHỊ {code}" in admin.text
    await admin.press("back")
    await admin.press("stop")
    assert "/commands" in admin.prompt.text


# --- scope, denouncers ------------------------------------------------------------------


async def test_an_officer_sees_only_the_petitions_of_their_endpoints(
    staff_app: App, voter_round: VoterRound, admin: ChatUser
) -> None:
    voter = await citizen(staff_app, "test", "91")
    mine = await petition(staff_app, voter_round, voter, "P-TANBINH", ROAD_A)
    theirs = await petition(
        staff_app, voter_round, voter, "X-BINHCHANH", ROAD_B, name="Lê Thị Hoa", minutes=1
    )
    officer = await officer_for(staff_app, admin, "2001", "P-TANBINH")
    await officer.say(f"/petitions {voter_round.id}")
    assert "Tổng số: 1" in officer.text and "Lê Thị Hoa" not in officer.text
    assert officer.options_of_prompt[0].payload.split(":", 1)[1] == f"p:{mine}"
    await officer.say(await code_of(staff_app, theirs))
    assert "Không tìm thấy kiến nghị" in officer.text
    await officer.press(f"p:{mine}")
    await officer.press("merge")
    assert f"m:{theirs}" not in [o.payload.split(":", 1)[1] for o in officer.options_of_prompt]
    await officer.say(await code_of(staff_app, theirs))  # typed: refused too
    assert "Không tìm thấy kiến nghị" in officer.text
    await officer.press("back")  # to the card
    await officer.press("back")  # to the list
    await officer.press("by_endpoint")
    assert [label for label in officer.labels if "(" in label] == ["Phường Tân Bình (1)"]
    actor = Actor(
        UserKey("test", "2001"), StaffRole.OFFICER, frozenset({voter_round.endpoint_ids["P-TANBINH"]})
    )
    async with staff_app.sessions() as db, db.begin():
        assert await petition_review.get(db, actor, theirs) is None
        with pytest.raises(NotFound):
            await petition_review.merge(db, mine, [theirs], actor=actor, now=staff_app.clock.now())


async def test_a_denouncer_sent_as_a_petition_stays_hidden(
    staff_app: App, voter_round: VoterRound, admin: ChatUser
) -> None:
    voter = await citizen(staff_app, "test", "95")
    hidden = await petition(
        staff_app,
        voter_round,
        voter,
        "P-TANBINH",
        "Tố cáo cán bộ địa chính xã nhận tiền để hợp thức hóa đất lấn chiếm.",
        name="Trần Thị Bích",
        field="land",
        case_type=CaseType.DENUNCIATION,
    )
    # Their other petition, a plain one: its name would undo the mask on the first.
    other = await petition(
        staff_app,
        voter_round,
        voter,
        "P-TANBINH",
        "Đề nghị lắp đèn chiếu sáng tuyến đường liên xã.",
        name="Trần Thị Bích",
        minutes=5,
    )
    officer = await officer_for(staff_app, admin, "2002", None)
    await officer.say(f"/petitions {voter_round.id}")
    assert "Trần Thị Bích" not in officer.text and "T*** T** B***" in officer.text
    await officer.press(f"p:{other}")
    assert "Cử tri: T*** T** B***" in officer.text and "Trần Thị Bích" not in officer.text
    await officer.say(f"/petitions {voter_round.id}")
    await officer.press(f"p:{hidden}")
    assert "Cử tri: T*** T** B***" in officer.text and "Tố cáo" in officer.text
    assert "denouncer.view" not in await actions(staff_app)
    await open_petition(admin, voter_round.id, hidden)
    assert "Cử tri: Trần Thị Bích" in admin.text
    async with staff_app.sessions() as db:
        views = list(
            await db.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "denouncer.view", AuditEntry.target_type == "petition"
                )
            )
        )
    # Both theirs are a denouncer's: the admin's view of each is audited.
    assert views and {(v.actor, v.target_id) for v in views} == {
        ("test:9000", str(hidden)),
        ("test:9000", str(other)),
    }


# --- wrong commands, old buttons, someone else first ----------------------------------------


async def test_mistyped_commands_old_buttons_and_changes_meanwhile(
    staff_app: App, world: World, voter_round: VoterRound, admin: ChatUser
) -> None:
    for command in ("/petitions", "/petitions abc", "/petitions 3 4"):
        await admin.say(command)
        assert "Cách dùng: /petitions SỐ" in admin.text
    await admin.say("/petitions 99999")
    assert "Không có đợt tiếp xúc cử tri số 99999" in admin.text
    await admin.say(f"/petitions {world.first_id}")
    assert "không phải là hội nghị tiếp xúc cử tri" in admin.text

    voter = await citizen(staff_app, "test", "97")
    first = await petition(staff_app, voter_round, voter, "P-TANBINH", ROAD_A)
    second = await petition(staff_app, voter_round, voter, "X-BINHCHANH", ROAD_B, minutes=1)
    await admin.say(f"/petitions {voter_round.id}")
    old = admin.prompt.options[0].payload
    await admin.press(f"p:{second}")
    await admin.press_wire(old)  # a button of the list, pressed from the card
    assert "Nút này thuộc một tin nhắn cũ" in admin.text and "KIẾN NGHỊ" in admin.prompt.text

    other = ChatUser(staff_app.dialog, user_id="9001")
    staff_app.settings.admins = "test:9000,test:9001"
    staff_app.settings.__dict__.pop("admin_keys", None)  # the cached parse of ADMINS, if made
    await open_petition(other, voter_round.id, first)
    await other.press("merge")
    await other.press(f"m:{second}")
    await other.press("confirm")  # while the first admin has `second` open
    await admin.press("classify")
    assert "đã được gộp vào một kiến nghị khác" in admin.text
    assert "Kiến nghị này đã được gộp vào kiến nghị" in admin.prompt.text
    assert "classify" not in [o.payload.split(":", 1)[1] for o in admin.options_of_prompt]
    await admin.press("kept")
    assert f"KIẾN NGHỊ {await code_of(staff_app, first)} (Chưa phân loại)" in admin.text
    assert "answer" not in [o.payload.split(":", 1)[1] for o in admin.options_of_prompt]  # not forwarded
    assert (await row(staff_app, second)).status == SubmissionStatus.MERGED
    assert await actions(staff_app) == ["petition.merge"]


async def test_an_answer_needs_a_real_text_and_is_given_once(
    staff_app: App, voter_round: VoterRound, admin: ChatUser
) -> None:
    voter = await citizen(staff_app, "test", "98")
    first = await petition(staff_app, voter_round, voter, "P-TANBINH", ROAD_A)
    await open_petition(admin, voter_round.id, first)
    await classify(admin)
    await admin.press("forward")
    await admin.press("Sở Y tế")
    await admin.press("answer")
    await admin.say("ok")
    assert "Nội dung trả lời cần từ 10 đến 3000 ký tự." in admin.text
    await admin.say(ANSWER)
    assert "Câu trả lời sẽ được gửi đến 1 cử tri." in admin.text
    actor = Actor(UserKey("test", "9000"), StaffRole.ADMIN, None, True)
    async with staff_app.sessions() as db, db.begin():
        with pytest.raises(petition_review.PetitionNotOpen):
            await petition_review.answer(db, first, ANSWER, actor=actor, now=staff_app.clock.now())
    async with staff_app.sessions() as db:
        notices = list(await db.scalars(select(Notification).where(Notification.kind == "petition_answer")))
    assert [(n.citizen_id, n.params) for n in notices] == [(voter, {"petition_id": first})]


# --- the catalogs have every message the flow builds ------------------------------------------


def test_every_message_the_flow_builds_is_in_both_catalogs() -> None:
    built = (
        {f"staff.petitions.state.{state.value}" for state in PetitionState}
        | {f"staff.petitions.level.{level.value}" for level in AnswerLevel}
        | {f"staff.petitions.by_{name}" for name in FILTERS}
        | {f"staff.petitions.pick_{name}" for name in FILTERS}
        | {f"staff.petitions.not_open.{state}" for state in ("merged", "withdrawn", "answered")}
        | {f"staff.petitions.done.{action}" for action in ("classify", "merge", "forward", "answer")}
        | {f"staff.petitions.cannot_merge.{reason}" for reason in ("none", "itself", "other_round")}
        | {"staff.usage.petitions", "staff.command.petitions", "notice.petition_answer"}
    )
    for locale in SUPPORTED_LOCALES:
        catalog = load_catalog(locale)
        assert sorted(message_id for message_id in built if not catalog.get(message_id)) == [], locale


async def test_a_petition_withdrawn_while_open_on_the_card_is_left_alone(
    staff_app: App, voter_round: VoterRound, admin: ChatUser
) -> None:
    voter = await citizen(staff_app, "test", "99")
    withdrawn = await petition(staff_app, voter_round, voter, "P-TANBINH", ROAD_A)
    await open_petition(admin, voter_round.id, withdrawn)
    async with staff_app.sessions() as db, db.begin():  # the voter withdraws it meanwhile
        found = await db.get(Submission, withdrawn)
        assert found is not None
        found.status = SubmissionStatus.WITHDRAWN
    await admin.press("classify")
    assert "Cử tri đã rút kiến nghị" in admin.text and "(Cử tri đã rút)" in admin.prompt.text
    assert [o.payload.split(":", 1)[1] for o in admin.options_of_prompt] == ["back"]
    assert await actions(staff_app) == []
