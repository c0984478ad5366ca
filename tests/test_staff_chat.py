"""The staff chat reads well: a short hint after each answer, a date with its time, whole words on buttons."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from handlers.staff.common import button_label
from storage.models import Event
from tests.conftest import World, local
from tests.support import ChatUser


async def test_the_command_list_is_not_repeated_after_every_answer(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    await admin.say("/find khong co ai")
    assert "/newevent" not in admin.text and "/commands" in admin.prompt.text
    assert len(admin.prompt.text.splitlines()) == 1
    await admin.say("/commands")
    assert "/newevent" in admin.text and "/reschedule" in admin.text
    await admin.say("lung tung")  # not understood: the list, to choose from
    assert "chưa hiểu lệnh này" in admin.text and "/newevent" in admin.text


async def test_the_date_prompt_takes_a_date_and_a_time(staff_app: App, world: World, admin: ChatUser) -> None:
    await admin.say("/newsession")
    await admin.press("Tiếp công dân")
    await admin.say("Tiếp công dân tháng 2/2027")
    await admin.say("Thường trực HĐND tỉnh")
    await admin.say("12/12/2026 08:00")
    assert "Các điểm cầu tham gia?" in admin.prompt.text  # the time was taken with the date
    await admin.say("P-TANBINH")
    await admin.press("default")
    await admin.press("none")
    assert "Thứ Bảy, 12/12/2026 08:00" in admin.text
    await admin.press("save")
    async with staff_app.sessions() as db:
        created = await db.scalar(select(Event).where(Event.title.contains("2/2027")))
    assert created is not None and created.starts_at == local(2026, 12, 12, 8, 0)

    await admin.say(f"/reschedule {world.second_id}")
    await admin.say("18/01/2027 14:30")
    assert "Lý do thay đổi" in admin.prompt.text
    await admin.say("Lãnh đạo bận họp đột xuất")
    assert "Thứ Hai, 18/01/2027 14:30" in admin.text
    await admin.say(f"/reschedule {world.second_id}")
    await admin.say("18/01/2027, lúc 25:00")
    assert "Giờ không hợp lệ" in admin.text and "Ngày mới" in admin.prompt.text


def test_a_button_label_is_cut_at_a_word_boundary() -> None:
    title = "#12 Thứ Sáu, 19/11/2026 08:00 — Tiếp công dân định kỳ của Thường trực HĐND tỉnh"
    label = button_label(title)
    assert len(label) <= 60 and label.endswith("…")
    assert title.startswith(label[:-1]) and title[len(label) - 1] == " "  # a whole word before the cut
    assert button_label("Tiếp công dân tháng 12") == "Tiếp công dân tháng 12"


async def test_session_buttons_show_whole_words(staff_app: App, world: World, admin: ChatUser) -> None:
    async with staff_app.sessions() as db, db.begin():
        session = await db.get(Event, world.first_id)
        assert session is not None
        session.title = "Tiếp công dân định kỳ của Thường trực Hội đồng nhân dân tỉnh"
    await admin.say("/broadcast")
    await admin.press("session")
    labels = [option.label for option in admin.options_of_prompt]
    long_one = next(label for label in labels if label.startswith(f"#{world.first_id} "))
    assert long_one.endswith("…") and len(long_one) <= 60
    assert long_one[:-1].split()[-1] in session.title.split()  # the last word shown is whole
