"""Understanding people as they write (issue 10, item 15): a summary in several messages,
"quay lại", answers that are no answer, options typed the way people type them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import App
from bot.dialog.flow import Invalid
from bot.dialog.options import typed_option
from bot.dialog.types import Option
from handlers import inputs
from storage.models import SignUp
from tests.conftest import World
from tests.flows import ID_NUMBER, SUMMARY, at_the_phone_step, consent, fill_until_review
from tests.support import ChatUser

NAME_STEP = "họ và tên đầy đủ"
PHONE_STEP = "số điện thoại liên hệ"
ID_STEP = "số định danh cá nhân"
FIELD_STEP = "thuộc lĩnh vực nào"
SUMMARY_STEP = "tóm tắt nội dung vụ việc"
AGENCY_STEP = "đã được cơ quan nào giải quyết"
GROUP_STEP = "bao nhiêu người"
PARTS = [
    "Năm 2024 gia đình tôi bị thu hồi 300 m2 đất nông nghiệp để làm đường.",
    "Đến nay chúng tôi vẫn chưa nhận được tiền bồi thường theo quyết định.",
    "Đề nghị Đoàn xem xét, đôn đốc cơ quan có thẩm quyền giải quyết.",
]


async def stored(app: App) -> SignUp:
    async with app.sessions() as db:
        registration = await db.scalar(select(SignUp))
        assert registration is not None
        return registration


async def at_the_summary_step(chat: ChatUser) -> None:
    await at_the_phone_step(chat)
    await chat.say("0912 345 678")
    await chat.say(ID_NUMBER)
    await chat.say("12 Lý Thường Kiệt, phường Tân Bình")
    await chat.press("complaint")
    await chat.press("land")
    assert SUMMARY_STEP in chat.prompt.text


# --- a summary in several messages ----------------------------------------------------


async def test_a_summary_sent_in_several_messages_is_one_summary(
    app: App, world: World, chat: ChatUser
) -> None:
    await at_the_summary_step(chat)
    total = 0
    for part in PARTS:  # the second is not taken as the agency, the third not as the group size
        await chat.say(part)
        total += len(part) + (1 if total else 0)
        assert f"Đã nhận nội dung ({total}/3.000 ký tự)" in chat.prompt.text
        assert part in chat.prompt.text  # what was collected is shown back
        assert chat.labels[:2] == ["✅ Xong", "Xóa, viết lại từ đầu"]
    await chat.say("Xong")  # typed, not pressed
    assert "Không gửi tệp" in chat.labels[0]  # the next step: attachments
    await chat.press("done")
    await chat.press("none")
    await chat.press("alone")
    assert "KIỂM TRA LẠI" in chat.text and all(part in chat.text for part in PARTS)
    await chat.press("confirm")
    assert (await stored(app)).case.summary == "\n".join(PARTS)


async def test_the_whole_summary_keeps_to_the_limit(app: App, world: World, chat: ChatUser) -> None:
    await at_the_summary_step(chat)
    await chat.say("Đất " * 500)  # 1,999 characters once trimmed
    await chat.say("Nhà " * 300)  # 1,199 more, with the line break: over 3,000
    assert "Phần vừa gửi có 1.199 ký tự; cộng với 1.999 ký tự đã nhận" in chat.text
    assert "vượt quá giới hạn 3.000 ký tự" in chat.text and "tối đa 1.000 ký tự" in chat.text
    assert "(1.999/3.000 ký tự)" in chat.prompt.text  # the refused part was not added
    await chat.say("Nhà " * 249 + "Nhà.")  # 1,000 with the line break: exactly 3,000
    assert "(3.000/3.000 ký tự)" in chat.prompt.text
    await chat.press("Xong")
    assert "Không gửi tệp" in chat.labels[0]


async def test_a_short_summary_is_completed_not_refused(app: App, world: World, chat: ChatUser) -> None:
    await at_the_summary_step(chat)
    await chat.say("xong")  # nothing sent yet
    assert "chưa gửi nội dung nào" in chat.text
    await chat.say("Đất đai.")
    await chat.press("Xong")
    assert "mới có 8 ký tự; cần ít nhất 30" in chat.text
    await chat.say("Chưa được bồi thường sau khi thu hồi.")  # added to it, not instead of it
    await chat.press("Xong")
    await chat.press("done")
    await chat.press("none")
    await chat.press("alone")
    assert "Đất đai.\nChưa được bồi thường sau khi thu hồi." in chat.text


async def test_the_summary_reached_again_is_added_to_never_dropped(
    app: App, world: World, chat: ChatUser
) -> None:
    """Back at the summary (by "back" or from the review), the saved summary is the draft:
    what is sent is added to it, "Xong" keeps the whole, "xóa" starts again from nothing."""
    await at_the_summary_step(chat)
    await chat.say(PARTS[0])
    await chat.say(PARTS[1])
    await chat.say("Xong")
    await chat.say("back")
    whole = f"{PARTS[0]}\n{PARTS[1]}"
    assert f"Nội dung hiện tại ({len(whole)} ký tự)" in chat.prompt.text
    assert "sẽ được thêm vào sau nội dung này" in chat.prompt.text
    assert chat.labels == ["✅ Xong", "Xóa, viết lại từ đầu"]  # no button drops text
    await chat.say("Thêm một câu nữa.")
    assert f"Đã nhận nội dung ({len(whole) + 18}/3.000 ký tự)" in chat.prompt.text
    await chat.press("Xong")
    await chat.press("done")
    await chat.press("none")
    await chat.press("alone")
    assert f"{whole}\nThêm một câu nữa." in chat.prompt.text
    await chat.press("edit")
    await chat.press("summary")
    assert f"Nội dung hiện tại ({len(whole) + 18} ký tự)" in chat.prompt.text
    await chat.say("Xong")  # kept as it was
    assert "KIỂM TRA LẠI" in chat.text and f"{whole}\nThêm một câu nữa." in chat.text
    await chat.press("edit")
    await chat.press("summary")
    await chat.say("xoá")  # typed like the button, not added to the case
    assert SUMMARY_STEP in chat.prompt.text and PARTS[0] not in chat.prompt.text
    await chat.say(SUMMARY)
    await chat.say("Viết lại")
    await chat.say(SUMMARY)
    await chat.press("Xong")
    assert "KIỂM TRA LẠI" in chat.text and PARTS[0] not in chat.text and "Viết lại" not in chat.text
    await chat.press("confirm")
    assert (await stored(app)).case.summary == SUMMARY


async def test_my_registration_summary_in_several_messages(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await fill_until_review(chat)
    await chat.press("confirm")
    await chat.press("mine")
    await chat.press("r:")
    await chat.press("edit")
    assert f"Nội dung hiện tại ({len(SUMMARY)} ký tự)" in chat.prompt.text  # as at the review
    await chat.say(PARTS[0])  # added to the summary, as the prompt says
    await chat.say(PARTS[1])
    assert (await stored(app)).case.summary == SUMMARY  # nothing saved before it is done
    await chat.say("xong")
    assert "Đã lưu nội dung mới" in chat.text
    assert (await stored(app)).case.summary == f"{SUMMARY}\n{PARTS[0]}\n{PARTS[1]}"
    await chat.press("edit")
    await chat.press("Xóa, viết lại")
    await chat.say(PARTS[0])
    await chat.say(PARTS[1])
    await chat.say("xong")
    assert (await stored(app)).case.summary == f"{PARTS[0]}\n{PARTS[1]}"


# --- back ----------------------------------------------------------------------------


async def test_back_returns_to_the_previous_step_keeping_what_was_entered(
    app: App, world: World, chat: ChatUser
) -> None:
    await at_the_phone_step(chat)
    await chat.say("quay lại")
    assert NAME_STEP in chat.prompt.text and chat.labels == ["Giữ: Nguyễn Văn An"]
    await chat.press("Giữ")
    await chat.say("0912 345 678")
    await chat.say("/quaylai")
    assert PHONE_STEP in chat.prompt.text and chat.labels == ["Giữ: 0912 345 678"]
    await chat.say("Quay lai")
    assert NAME_STEP in chat.prompt.text
    await chat.say("back")
    assert "Các buổi tiếp còn nhận đăng ký" in chat.prompt.text
    await chat.say("/back")
    assert "khớp với «tan binh»" in chat.prompt.text  # the search results chosen from
    await chat.say("quay lại")
    assert "chọn điểm cầu" in chat.prompt.text and "khớp với" not in chat.prompt.text
    await chat.say("quay lại")  # the first step: back where the registration was opened
    assert "DANH MỤC CHÍNH" in chat.prompt.text


async def test_back_at_the_summary_keeps_the_parts_sent(app: App, world: World, chat: ChatUser) -> None:
    await at_the_summary_step(chat)
    await chat.say(PARTS[0])
    await chat.say("quay lại")
    assert FIELD_STEP in chat.prompt.text
    await chat.press("land")
    assert PARTS[0] in chat.prompt.text and "✅ Xong" in chat.labels


async def test_back_from_the_review_after_an_edit(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await fill_until_review(chat)
    await chat.press("edit")
    await chat.say("quay lại")
    assert "KIỂM TRA LẠI" in chat.prompt.text  # from the edit list to the review
    await chat.press("edit")
    await chat.press("name")
    await chat.say("quay lại")  # from the step chosen to the list it was chosen from
    assert "muốn sửa thông tin nào" in chat.prompt.text
    await chat.press("name")
    await chat.say("Trần Thị Bình")
    assert "KIỂM TRA LẠI" in chat.prompt.text and "Trần Thị Bình" in chat.prompt.text
    await chat.say("quay lại")  # not round the edit again: the step before the review
    assert GROUP_STEP in chat.prompt.text
    await chat.press("alone")
    assert "Trần Thị Bình" in chat.prompt.text  # nothing lost


async def test_back_in_other_flows(staff_app: App, world: World, admin: ChatUser) -> None:
    await admin.say("/newsession")
    await admin.press("reception")
    await admin.say("Tiếp công dân tháng 12")
    await admin.say("back")
    assert "Tên buổi tiếp" in admin.prompt.text
    await admin.say("quay lại")
    assert admin.find_option("reception")  # the kind again
    citizen = ChatUser(staff_app.dialog, user_id="77")
    await consent(citizen)
    await citizen.press("privacy")
    await citizen.press("delete")
    await citizen.say("quay lại")
    assert citizen.find_option("withdraw")  # the privacy menu again; nothing deleted
    await citizen.say("quay lại")
    assert "DANH MỤC CHÍNH" in citizen.prompt.text


async def test_back_never_offers_an_action_already_done(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await fill_until_review(chat)
    await chat.press("confirm")
    await chat.press("mine")
    await chat.press("r:")
    await chat.press("cancel")
    await chat.press("yes")
    assert "Đã hủy đăng ký TCD-2026-000001" in chat.text
    await chat.say("quay lại")  # the list was the start: not "cancel it?" again
    assert "DANH MỤC CHÍNH" in chat.prompt.text


# --- answers that are no answer --------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("An", "ít nhất hai chữ"),
        ("ok", "Hệ thống cần họ và tên"),
        ("có ai không", "Hệ thống cần họ và tên"),
        ("Có ai không?", "Hệ thống cần họ và tên"),
        ("xin chào", "Hệ thống cần họ và tên"),
        ("/dangky", "không có lệnh /dangky"),
    ],
)
async def test_the_name_step_takes_only_a_full_name(
    app: App, world: World, chat: ChatUser, typed: str, said: str
) -> None:
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat.say(typed)
    assert said in chat.text
    assert NAME_STEP in chat.prompt.text  # asked again


@pytest.mark.parametrize(("typed", "said"), [("ok", "ghi rõ tên cơ quan"), ("Vâng", "ghi rõ tên cơ quan")])
async def test_the_agency_step_refuses_a_yes(
    app: App, world: World, chat: ChatUser, typed: str, said: str
) -> None:
    await at_the_summary_step(chat)
    await chat.say(SUMMARY)
    await chat.press("Xong")
    await chat.press("done")
    for wrong in (typed, "/xyz"):
        await chat.say(wrong)
        assert said in chat.text or "không có lệnh /xyz" in chat.text
        assert AGENCY_STEP in chat.prompt.text
    await chat.say("chưa")  # "not yet": no agency
    await chat.press("alone")
    assert "Cơ quan đã giải quyết: Chưa có cơ quan nào giải quyết" in chat.text


def test_intents_and_one_word_are_not_names() -> None:
    for text, message_id in [
        ("An", "input.name.one_word"),
        ("Bình", "input.name.one_word"),
        ("ok", "input.name.not_a_name"),
        ("Dạ vâng", "input.name.not_a_name"),
        ("quay lại", "input.name.not_a_name"),
        ("có ai không", "input.name.not_a_name"),
        ("cảm ơn", "input.name.not_a_name"),
    ]:
        with pytest.raises(Invalid) as refused:
            inputs.parse_name(text)
        assert refused.value.message_id == message_id, text
    for name in ("Ưng Ỷ", "Vàng A Sử", "Lê Thị Ai", "Hoàng Minh", "Đỗ Văn A."):
        assert inputs.parse_name(name) == name


def test_an_agency_or_none() -> None:
    for none in ("không", "Chưa", "chưa có", "Không có ạ"):
        assert inputs.parse_agency(none) == ""
    for yes in ("ok", "vâng", "Dạ vâng", "có", "Có rồi"):
        with pytest.raises(Invalid) as refused:
            inputs.parse_agency(yes)
        assert refused.value.message_id == "input.agency.not_an_agency", yes
    assert inputs.parse_agency("UBND phường Tân Bình") == "UBND phường Tân Bình"


# --- options as people type them ---------------------------------------------------------


FIELDS = [
    Option("land", "Đất đai"),
    Option("education", "Giáo dục"),
    Option("transport", "Giao thông"),
    Option("other", "Lĩnh vực khác"),
]


@pytest.mark.parametrize(
    ("typed", "payload"),
    [
        ("khac", "other"),  # a word of the label, without diacritics
        ("Khác", "other"),
        ("linh vuc", "other"),
        ("dat", "land"),  # the start of the label
        ("giao duc", "education"),
        ("gia", None),  # Giáo dục or Giao thông
        ("d", None),  # one letter names nothing
        ("thong tin", None),
        ("dai dat", None),
    ],
)
def test_a_typed_option_is_matched_by_a_unique_start(typed: str, payload: str | None) -> None:
    assert typed_option(typed, FIELDS, partial=True) == payload


def test_where_text_is_the_answer_only_the_whole_label_chooses() -> None:
    keep = [Option("keep", "Giữ: Nguyễn Văn An")]
    assert typed_option("An", keep, partial=False) is None
    assert typed_option("giu: nguyen van an", keep, partial=False) == "keep"
    assert typed_option("xong", [Option("done", "✅ Xong")], partial=False) == "done"


async def test_fields_and_case_types_typed_without_diacritics(app: App, world: World, chat: ChatUser) -> None:
    await at_the_phone_step(chat)
    await chat.say("0912 345 678")
    await chat.say(ID_NUMBER)
    await chat.say("12 Lý Thường Kiệt, phường Tân Bình")
    await chat.say("khieu nai")
    assert FIELD_STEP in chat.prompt.text
    await chat.say("gia")
    assert "chọn một trong các lựa chọn" in chat.text  # two fields start so
    await chat.say("khac")
    assert SUMMARY_STEP in chat.prompt.text
    await chat.say(SUMMARY)
    await chat.say("xong")
    await chat.press("done")
    await chat.press("none")
    await chat.say("2 người")
    assert "Loại vụ việc: Khiếu nại" in chat.text and "Lĩnh vực: Lĩnh vực khác" in chat.text
    assert "Số người: 2" in chat.text


@pytest.mark.parametrize("typed", ["đồng ý", "dong y", "ok", "Dạ, đồng ý ạ", "OK"])
async def test_consent_typed(app: App, chat: ChatUser, typed: str) -> None:
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    await chat.say(typed)
    assert "DANH MỤC CHÍNH" in chat.text


async def test_not_agreeing_typed_is_not_consent(app: App, chat: ChatUser) -> None:
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    await chat.say("không đồng ý")
    assert "tôn trọng lựa chọn" in chat.text


async def test_register_typed_at_the_menu(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await chat.say("đăng ký")
    assert "chọn điểm cầu" in chat.prompt.text
    await chat.say("/menu")
    await chat.say("dang ky cua toi")
    assert "chưa có đăng ký nào" in chat.text


def test_a_number_of_people_with_the_word_people() -> None:
    for text in ("2 người", "2 nguoi", "2 Người", "12 people"):
        assert inputs.parse_group_size(text) == int(text.split()[0])
    with pytest.raises(Invalid):
        inputs.parse_group_size("người")


# --- identity numbers people still have ------------------------------------------------


async def test_an_old_cmnd_is_explained(app: App, world: World, chat: ChatUser) -> None:
    await at_the_phone_step(chat)
    await chat.say("0912 345 678")
    await chat.say("023 456 789")
    assert "CMND" in chat.text and "không còn được sử dụng" in chat.text
    assert "12 chữ số" in chat.text and "VNeID" in chat.text and "Căn cước" in chat.text
    assert ID_STEP in chat.prompt.text


@pytest.mark.parametrize("hotline", ["1900 1234", "1900545415", "1800 599 920", "+84 1900 6600"])
async def test_a_hotline_is_not_a_phone_number(app: App, world: World, chat: ChatUser, hotline: str) -> None:
    await at_the_phone_step(chat)
    await chat.say(hotline)
    assert "số tổng đài" in chat.text
    assert PHONE_STEP in chat.prompt.text
