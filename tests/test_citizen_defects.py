"""Defects a citizen tester found on the way through registration (issue 10, citizens'
findings): a summary reached again, /menu in the middle, help before consent, a sentence
as a name, "back" from the commune search, and wording."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.dialog.types import Attachment
from storage.models import Submission
from tests.conftest import World
from tests.flows import ID_NUMBER, SUMMARY, at_the_phone_step, consent, register
from tests.support import ChatUser

NAME_STEP = "họ và tên đầy đủ"
PHONE_STEP = "số điện thoại liên hệ"


# --- /menu in the middle keeps the registration; /tieptuc brings it back --------------


async def test_menu_in_the_middle_keeps_the_registration_for_tieptuc(
    app: App, world: World, chat: ChatUser
) -> None:
    await at_the_phone_step(chat)
    for leave in ("/menu", "menu"):
        await chat.say(leave)
        assert "DANH MỤC CHÍNH" in chat.prompt.text
        assert "vẫn được giữ" in chat.prompt.text and "/tieptuc" in chat.prompt.text
        assert chat.labels[0] == "Tiếp tục việc đang làm"
    await chat.say("/help")  # help from the menu comes back to the menu that keeps it
    await chat.press("Tiếp tục việc đang làm")
    assert "vẫn được giữ" in chat.prompt.text
    await chat.say("/tieptuc")
    assert PHONE_STEP in chat.prompt.text
    await chat.say("quay lại")  # everything entered is there, the way back too
    assert chat.labels == ["Giữ: Nguyễn Văn An"]
    await chat.say("/menu")
    await chat.press("Tiếp tục việc đang làm")  # the button does what /tieptuc does
    assert NAME_STEP in chat.prompt.text


async def test_cancel_discards_what_menu_kept_and_says_so(app: App, world: World, chat: ChatUser) -> None:
    await at_the_phone_step(chat)
    await chat.say("/menu")
    await chat.say("/huy")
    assert "không được lưu" in chat.text and "vẫn được giữ" not in chat.prompt.text
    await chat.say("/tieptuc")  # nothing left to continue: the menu
    assert "DANH MỤC CHÍNH" in chat.prompt.text and chat.labels[0] == "Đăng ký tiếp công dân"
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat.say("/huy")  # straight from a step
    assert "không được lưu" in chat.text


async def test_menu_with_nothing_under_way_keeps_nothing(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("register")
    await chat.say("/menu")  # nothing answered yet
    assert "vẫn được giữ" not in chat.prompt.text and chat.labels[0] == "Đăng ký tiếp công dân"


async def test_help_lists_tieptuc(app: App, chat: ChatUser) -> None:
    await consent(chat)
    await chat.say("/help")
    assert "/tieptuc" in chat.text
    await chat.say("/language")
    await chat.press("English")
    await chat.say("/help")
    assert "/continue" in chat.text


# --- help before consent ---------------------------------------------------------------


async def test_help_before_consent_then_back_to_the_notice(app: App, chat: ChatUser) -> None:
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    await chat.say("/help")  # at the notice
    assert "HƯỚNG DẪN" in chat.text
    await chat.press("Tiếp tục việc đang làm")
    assert chat.labels == ["Tôi đồng ý", "Tôi không đồng ý", "English"]
    await chat.press("Tôi không đồng ý")
    refused = chat.labels
    for word in ("/help", "/trogiup"):
        await chat.say(word)
        assert "HƯỚNG DẪN" in chat.text and "/tieptuc" in chat.text
        await chat.press("Tiếp tục việc đang làm")
        assert chat.labels == refused  # where they were: the notice is one press away
    await chat.press("Xem lại thông báo")
    await chat.press("Tôi đồng ý")
    assert "DANH MỤC CHÍNH" in chat.prompt.text


# --- a sentence is no name -------------------------------------------------------------


async def test_a_sentence_is_refused_as_a_full_name(app: App, world: World, chat: ChatUser) -> None:
    await at_the_phone_step(chat)
    await chat.say("quay lại")
    for sentence in (
        "I denounce the land official of the commune for taking bribes.",
        "Tôi tố cáo cán bộ địa chính xã.",  # a full stop after a word
        "Tôi tố cáo cán bộ địa chính xã nhận hối lộ",  # more than seven words
    ):
        await chat.say(sentence)
        assert "Đây có vẻ là một câu, không phải họ và tên" in chat.text, sentence
        assert "không quá 7 chữ" in chat.text and NAME_STEP in chat.prompt.text
    for name in ("Đỗ Văn A.", "Công Tằng Tôn Nữ Thị Minh Châu"):  # an initial; seven words
        await chat.say(name)
        assert PHONE_STEP in chat.prompt.text, name
        await chat.say("quay lại")


# --- back from the commune search ------------------------------------------------------


async def test_back_from_the_search_results_is_the_search_question(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.press("register")
    whole_list = chat.labels
    await chat.say("tan binh")
    assert "khớp với «tan binh»" in chat.prompt.text
    await chat.say("quay lại")
    assert "chọn điểm cầu" in chat.prompt.text and "khớp với" not in chat.prompt.text
    assert chat.labels == whole_list
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.say("quay lại")  # from the sessions: the results chosen from
    assert "khớp với «tan binh»" in chat.prompt.text
    await chat.say("quay lại")
    await chat.say("quay lại")  # from the first step: where the registration was opened
    assert "DANH MỤC CHÍNH" in chat.prompt.text


# --- the attachment step names its real button -----------------------------------------


async def test_the_attachment_step_quotes_the_button_it_shows(app: App, world: World, chat: ChatUser) -> None:
    await at_the_phone_step(chat)
    for answer in ("0912 345 678", ID_NUMBER, "12 Lý Thường Kiệt, phường Tân Bình"):
        await chat.say(answer)
    await chat.press("complaint")
    await chat.press("land")
    await chat.say(SUMMARY)
    await chat.press("done")
    assert chat.labels == ["Không gửi tệp, tiếp tục"]
    assert "chọn «Không gửi tệp, tiếp tục»" in chat.prompt.text
    await chat.say("chưa có")
    assert "hoặc chọn «Không gửi tệp, tiếp tục»" in chat.text
    scan = Attachment(kind="document", file_id="id-1", name="don.pdf", mime_type="application/pdf", size=9)
    await chat._send(attachments=(scan,))
    assert chat.labels[0] == "Tiếp tục" and "chọn «Tiếp tục»" in chat.prompt.text


# --- wording ---------------------------------------------------------------------------


async def test_a_cancelled_registration_shows_no_edit_deadline(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat)
    await chat.press("mine")
    await chat.press("r:")
    assert "Hạn sửa nội dung:" in chat.text
    await chat.press("cancel")
    assert "để trống cho người khác đăng ký" in chat.text and "danh sách chờ" not in chat.text
    await chat.press("yes")
    await chat.press("r:")
    assert "Đã hủy" in chat.text and "Hạn sửa nội dung" not in chat.text


async def test_phone_numbers_read_in_the_national_format(app: App, world: World, chat: ChatUser) -> None:
    await at_the_phone_step(chat)
    await chat.say("+84 912345678")
    assert "Đã ghi nhận số điện thoại 0912 345 678." in chat.text
    await chat.say("quay lại")
    assert chat.labels == ["Giữ: 0912 345 678"]
    await chat.press("Giữ")
    for answer in (ID_NUMBER, "12 Lý Thường Kiệt, phường Tân Bình"):
        await chat.say(answer)
    await chat.press("complaint")
    await chat.press("land")
    await chat.say(SUMMARY)
    await chat.press("done")
    await chat.press("done")
    await chat.press("none")
    await chat.press("alone")
    assert "0912 345 678" in chat.prompt.text and "+84" not in chat.prompt.text
    await chat.press("confirm")
    async with app.sessions() as db:
        assert await db.scalar(select(Submission.phone)) == "+84912345678"  # stored in E.164


async def test_counts_are_written_as_each_language_writes_numbers(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat, "English")
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat.say("A" * 100_000)
    assert "100,000 characters" in chat.text and "100000" not in chat.text


async def test_deleting_data_with_no_registration_says_nothing_of_cancellations(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.press("privacy")
    await chat.press("delete")
    await chat.press("yes")
    assert "Đã xóa dữ liệu cá nhân" in chat.text and "Số đăng ký đã hủy" not in chat.text
