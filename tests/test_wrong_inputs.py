"""What a careless or hurried user types, through the engine: never a crash, never lost work."""

from __future__ import annotations

import pytest

from bot.app import App
from bot.dialog.flow import Invalid
from handlers import inputs
from tests.conftest import World
from tests.flows import SUMMARY, consent, fill_until_review
from tests.support import ChatUser

# Python refuses int() on more than 4,300 digits; 3,000,000,000 is past a 32-bit id.
HUGE = "9" * 5000
PAST_INT32 = "3000000000"


def test_whole_numbers_are_bounded_before_conversion() -> None:
    assert inputs.whole_number(HUGE, 500) is None
    assert inputs.whole_number(PAST_INT32, inputs.MAX_ROW_ID) is None
    assert inputs.whole_number("0" * 5000 + "7", 500) == 7
    assert inputs.whole_number(str(inputs.MAX_ROW_ID), inputs.MAX_ROW_ID) == inputs.MAX_ROW_ID
    with pytest.raises(Invalid):
        inputs.parse_group_size(HUGE)


async def test_a_huge_number_of_people_is_asked_again(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await fill_until_review(chat)
    await chat.press("edit")
    await chat.press("group")
    await chat.say(HUGE)
    assert "từ 1 đến 500" in chat.text and "sự cố" not in chat.text
    await chat.say("3")
    assert "KIỂM TRA LẠI" in chat.text and "Số người: 3" in chat.text
    assert "Nguyễn Văn An" in chat.text and SUMMARY in chat.text


@pytest.mark.parametrize("command", ["/session", "/export", "/reschedule", "/cancelsession"])
@pytest.mark.parametrize("number", [PAST_INT32, HUGE])
async def test_a_session_number_out_of_range_is_not_found(
    staff_app: App, world: World, admin: ChatUser, command: str, number: str
) -> None:
    await admin.say(f"{command} {number}")
    assert "Không có buổi tiếp số" in admin.text and "sự cố" not in admin.text
    assert "CÁN BỘ (quản trị)" in admin.prompt.text


async def test_a_huge_capacity_is_asked_again(staff_app: App, world: World, admin: ChatUser) -> None:
    await admin.say("/newsession")
    await admin.press("Tiếp công dân")
    await admin.say("Tiếp công dân tháng 2/2027")
    await admin.say("Thường trực HĐND tỉnh")
    await admin.say("15/02/2027")
    await admin.say("08:30")
    await admin.say("tân bình")
    for wrong in (HUGE, "10001", "0", "-5"):
        await admin.say(wrong)
        assert "số nguyên dương" in admin.text and "sự cố" not in admin.text, wrong[:10]
    await admin.say("10000")
    await admin.press("Chưa có")
    assert "Số chỗ mỗi điểm cầu: 10000" in admin.text


@pytest.mark.parametrize("text", ["😀" * 40, "!?" * 20 + "…", "👍🏻 " * 15])
def test_a_summary_of_emoji_only_is_refused(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        inputs.parse_summary(text, 30, 3000)
    assert refused.value.message_id == "input.summary.no_text"


@pytest.mark.parametrize("text", ["😀", "🏛️ ✅", "...", "12345"])
def test_an_agency_needs_a_name(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        inputs.parse_agency(text)
    assert refused.value.message_id == "input.agency.empty"


async def test_emoji_instead_of_the_case_are_asked_again_and_nothing_is_lost(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await fill_until_review(chat)
    await chat.press("edit")
    await chat.press("summary")
    await chat.say("😀" * 40)
    assert "chỉ có biểu tượng" in chat.text and "tóm tắt nội dung" in chat.prompt.text
    await chat.say("Gia đình tôi vẫn chưa nhận được tiền bồi thường sau khi bị thu hồi đất.")
    await chat.press("done")
    await chat.press("edit")
    await chat.press("agency")
    await chat.say("😀")
    assert "gõ tên cơ quan" in chat.text
    await chat.say("UBND phường Tân Bình, đã trả lời năm 2025")
    assert "KIỂM TRA LẠI" in chat.text and "Nguyễn Văn An" in chat.text
    assert "vẫn chưa nhận được tiền bồi thường" in chat.text
    assert "Cơ quan đã giải quyết: UBND phường Tân Bình, đã trả lời năm 2025" in chat.text


async def test_english_emoji_summary_is_refused_in_english(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat, language="English")
    await fill_until_review(chat)
    await chat.press("edit")
    await chat.press("summary")
    await chat.say("😀" * 40)
    assert "only emoji or symbols" in chat.text


async def test_english_counts_read_right_when_there_is_one(app: App, world: World) -> None:
    first, second = ChatUser(app.dialog, user_id="1"), ChatUser(app.dialog, user_id="2")
    await consent(first)
    await fill_until_review(first)
    await first.press("confirm")  # Tân Bình has 2 seats in the first session: 1 is left
    await consent(second, language="English")
    await second.press("register")
    await second.say("tan binh")
    assert "Endpoints matching “tan binh”: 1." in second.text
    await second.press("ep:")
    assert "Monday, 07/12/2026 08:00 · seats left: 1" in second.labels
    assert "1 seats" not in second.text + " ".join(second.labels)


async def test_stats_over_the_calendars_edges_give_the_usage(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    for wrong in ("/stats 01/01/2026 31/12/9999", "/stats 01/01/0001 02/01/0001"):
        await admin.say(wrong)
        assert "Cách dùng: /stats" in admin.text and "sự cố" not in admin.text, wrong
    await admin.say("/stats 01/01/0002 31/12/9998")
    assert "THỐNG KÊ ĐĂNG KÝ" in admin.text
