"""Defects found by using voter contact as voters (and attackers) would, each pinned by a test."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.clock import FrozenClock
from storage.models import SubmissionStatus
from tests import test_voter_flow
from tests.flows import consent
from tests.support import ChatUser
from tests.test_register_flow import document
from tests.test_voter_flow import (
    DEADLINE,
    DEADLINE_SHOWN,
    PETITION,
    Rounds,
    open_round,
    petitions_in,
    write_petition,
)

rounds = test_voter_flow.rounds  # the fixture: a round at Tân Bình and Bình Chánh


async def sent_petition(chat: ChatUser) -> None:
    """Consented, a written petition sent from Bình Chánh, at "my petitions" → its view."""
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


async def test_a_voter_signed_up_to_attend_is_not_told_to_bring_an_id_card(
    app: App, rounds: Rounds, chat: ChatUser
) -> None:
    # A voter-contact conference asks for no CCCD (its reminders say none either).
    await consent(chat)
    await open_round(chat)
    await chat.press("attend")
    await chat.say("Nguyễn Văn An")
    await chat.say("0912 345 678")
    await chat.press("confirm")
    assert "Đã đăng ký tham dự. Mã đăng ký: TXCT-2026-000001" in chat.text
    assert "căn cước" not in chat.text

    english = ChatUser(app.dialog, user_id="2")
    await consent(english, "English")
    await english.press("voters")
    await english.press("r:")
    await english.say("binh chanh")
    await english.press("ep:")
    await english.press("attend")
    await english.say("Tran Thi Binh")
    await english.say("0987 654 321")
    await english.press("confirm")
    assert "You are signed up" in english.text
    assert "ID card" not in english.text


async def test_a_withdrawal_after_the_deadline_says_it_can_no_longer_change(
    app: App, rounds: Rounds, chat: ChatUser, clock: FrozenClock
) -> None:
    await sent_petition(chat)
    await chat.press("withdraw")
    clock.set(DEADLINE + timedelta(minutes=1))
    await chat.press("yes")
    text = chat.text
    assert f"lúc {DEADLINE_SHOWN}" in text
    # Not the words for a new petition: nothing is kept to send to another meeting.
    assert "vẫn được giữ lại" not in text and "gửi cho hội nghị khác" not in text
    assert "không thể sửa hoặc rút" in text
    [petition] = await petitions_in(app)
    assert petition.status == SubmissionStatus.ACTIVE


async def test_an_edit_after_the_deadline_does_not_claim_the_new_text_is_kept(
    app: App, rounds: Rounds, chat: ChatUser, clock: FrozenClock
) -> None:
    await sent_petition(chat)
    await chat.press("edit")
    await chat.press("clear")
    await chat.say("Nội dung sửa lại sau hạn chót của hội nghị tiếp xúc cử tri, không được nhận.")
    clock.set(DEADLINE + timedelta(minutes=1))
    await chat.press("done")
    assert "vẫn được giữ lại" not in chat.text and "không thể sửa hoặc rút" in chat.text


async def test_past_the_deadline_the_withdraw_question_is_not_asked(
    app: App, rounds: Rounds, chat: ChatUser, clock: FrozenClock
) -> None:
    # The view was shown in time, its "withdraw" pressed a minute late: no "are you sure?"
    # about something that cannot be done any more.
    await sent_petition(chat)
    clock.set(DEADLINE + timedelta(minutes=1))
    await chat.press("withdraw")
    assert "chắc chắn muốn rút" not in chat.text
    assert "không thể sửa hoặc rút" in chat.text


async def test_show_my_data_lists_the_voter_s_sign_up_to_attend(
    app: App, rounds: Rounds, chat: ChatUser
) -> None:
    await consent(chat)
    await open_round(chat)
    await chat.press("attend")
    await chat.say("Nguyễn Văn An")
    await chat.say("0912 345 678")
    await chat.press("confirm")
    await chat.press("menu")
    await chat.press("privacy")
    await chat.press("show")
    text = chat.text
    assert "Số lần đăng ký: 1" in text
    assert "Đăng ký tham dự tiếp xúc cử tri TXCT-2026-000001 (Đã giữ chỗ)" in text
    assert "Điểm cầu: Phường Tân Bình, Thứ Hai, 07/12/2026 08:00" in text


async def test_a_program_sent_as_a_pdf_is_refused(app: App, rounds: Rounds, chat: ChatUser) -> None:
    # The client names the MIME type: "…exe" said to be application/pdf is still a program.
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await chat.press("petition")
    await chat.press("transport")
    await chat.press("province")
    await chat.say(PETITION)
    await chat.press("done")
    await chat._send(
        attachments=(
            document("ho so.exe", "application/pdf"),
            document("bien ban.PDF", "application/octet-stream"),
            document("Don cua ong A. Nguyen", "application/pdf"),  # a dot, no extension
        )
    )
    assert "«ho so.exe»: chỉ nhận ảnh JPG/PNG, PDF, DOC hoặc DOCX" in chat.text
    assert "Đã nhận 2 tệp: bien ban.PDF, Don cua ong A. Nguyen" in chat.text


async def test_a_petition_from_another_commune_is_not_tied_to_the_sign_up_elsewhere(
    app: App, rounds: Rounds, chat: ChatUser
) -> None:
    # Signed up at Tân Bình, the voter writes from Côn Đảo, which the round does not connect:
    # a written petition, not one "with the sign-up to attend".
    await consent(chat)
    await open_round(chat)
    await chat.press("attend")
    await chat.say("Nguyễn Văn An")
    await chat.say("0912 345 678")
    await chat.press("confirm")
    await chat.press("menu")
    await chat.press("voters")
    await chat.press("r:")
    await chat.say("con dao")
    await chat.press("ep:")
    assert "không phải là điểm cầu" in chat.text
    await chat.press("petition")
    await write_petition(chat)
    await chat.say("Thôn 2, đặc khu Côn Đảo")
    assert "(gửi bằng văn bản)" in chat.text
    await chat.press("confirm")
    [petition] = await petitions_in(app)
    assert petition.sign_up_id is None and petition.endpoint_id == rounds.endpoint_ids["DK-CONDAO"]
    # From a commune of the round other than the one attended, the attendance can still be cancelled.
    await chat.press("more")
    await chat.say("/menu")
    await chat.press("voters")
    await chat.press("r:")
    await chat.say("binh chanh")
    await chat.press("ep:")
    assert "Ông/Bà đã đăng ký tham dự tại Phường Tân Bình" in chat.text
    await chat.press("unattend")
    await chat.press("yes")
    assert "Đã hủy đăng ký tham dự (mã TXCT-2026-000001)" in chat.text


async def test_the_petition_edit_menu_and_the_address_read_naturally(
    app: App, rounds: Rounds, chat: ChatUser
) -> None:
    await consent(chat)
    await open_round(chat, "binh chanh")
    await chat.press("petition")
    await write_petition(chat)
    await chat.say("Phạm Thị Dung")
    await chat.say("0912 222 333")
    await chat.press("commune")
    await chat.press("edit")
    assert "Quay lại phần kiểm tra" in chat.labels  # not "Quay lại xem lại"

    english = ChatUser(app.dialog, user_id="2")
    await consent(english, "English")
    await english.press("voters")
    await english.press("r:")
    await english.say("binh chanh")
    await english.press("ep:")
    await english.press("petition")
    await write_petition(english, text="The inter-village road in Binh Chanh has been broken for years.")
    await english.say("Tran Thi Binh")
    await english.say("0987 654 321")
    assert "Only the commune: Xã Bình Chánh" in english.labels  # not "Just: Xã Bình Chánh"
