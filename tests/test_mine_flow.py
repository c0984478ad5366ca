"""My registrations: list, view, edit before the deadline, cancel."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from storage.models import SignUp
from tests.conftest import World
from tests.flows import SUMMARY, consent, register
from tests.support import ChatUser

NEW_SUMMARY = "Đề nghị cơ quan có thẩm quyền xem xét lại quyết định bồi thường đất của gia đình tôi."


async def stored_summary(app: App) -> str:
    async with app.sessions() as db:
        registration = await db.scalar(select(SignUp))
        assert registration is not None
        return registration.case.summary


async def test_no_registrations_yet(app: App, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("mine")
    assert "chưa có đăng ký nào" in chat.text
    await chat.press("register")
    assert "điểm cầu" in chat.text


async def test_list_view_and_edit_the_summary(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await register(chat)
    await chat.press("mine")
    assert chat.labels[0] == "TCD-2026-000001 · Thứ Hai, 07/12/2026 08:00 · Đã giữ chỗ, đang chờ xem xét"
    await chat.press("r:")
    assert SUMMARY in chat.text and "Hạn sửa nội dung: Thứ Tư, 02/12/2026 08:00" in chat.text
    assert "Người đăng ký: Nguyễn Văn An" in chat.text
    await chat.press("edit")
    await chat.press("clear")
    await chat.say("ngắn")
    await chat.press("done")
    assert "cần ít nhất 30 ký tự" in chat.text
    assert await stored_summary(app) == SUMMARY
    await chat.press("clear")
    await chat.say(NEW_SUMMARY)
    await chat.press("done")
    assert "Đã lưu nội dung mới" in chat.text and NEW_SUMMARY in chat.text
    assert await stored_summary(app) == NEW_SUMMARY


async def test_no_edits_after_the_deadline(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    deadline = world.first_start - timedelta(days=5)
    await consent(chat)
    await register(chat)
    await chat.press("mine")
    await chat.press("r:")
    clock.set(deadline)
    await chat.press("edit")  # opened at the deadline minute ...
    clock.set(deadline + timedelta(minutes=1))
    await chat.press("clear")
    await chat.say(NEW_SUMMARY)
    await chat.press("done")  # ... sent one minute late
    assert "đã quá hạn sửa nội dung (Thứ Tư, 02/12/2026 08:00)" in chat.text
    assert await stored_summary(app) == SUMMARY
    assert "Sửa nội dung" not in chat.labels
    assert "Đã quá hạn sửa nội dung" in chat.prompt.text
    assert "Hủy đăng ký" in chat.labels  # cancelling stays possible until the session


async def test_cancel_asks_first(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await register(chat)
    await chat.press("mine")
    await chat.press("r:")
    await chat.press("cancel")
    await chat.press("no")
    assert "Mã đăng ký: TCD-2026-000001 (Đã giữ chỗ, đang chờ xem xét)" in chat.text
    await chat.press("cancel")
    await chat.press("yes")
    assert "Đã hủy đăng ký TCD-2026-000001" in chat.text
    assert chat.labels[0].endswith("Đã hủy")
    await chat.press("r:")
    assert "Hủy đăng ký" not in chat.labels and "Sửa nội dung" not in chat.labels


async def test_another_citizens_registration_cannot_be_opened(app: App, world: World) -> None:
    owner, other = ChatUser(app.dialog, user_id="1"), ChatUser(app.dialog, user_id="2")
    await consent(owner)
    await register(owner)
    await consent(other)
    await other.press("mine")
    assert "chưa có đăng ký nào" in other.text
    # Even a forged button of the right turn with someone else's id is refused.
    turn = other.find_option("menu").payload.partition(":")[0]
    await other.press_wire(f"{turn}:r:1")
    assert "tin nhắn cũ" in other.text


async def test_cancelling_from_the_waiting_list_promises_no_seat(app: App, world: World) -> None:
    users = [ChatUser(app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    for user in users:  # Tân Bình has 2 seats in the first session: the third waits
        await consent(user)
        await register(user)
    waiting = users[2]
    await users[0].press("mine")
    await users[0].press("r:")
    await users[0].press("cancel")  # someone waits: the seat goes to them
    assert "Chỗ của Ông/Bà sẽ được chuyển cho người trong danh sách chờ" in users[0].text
    await users[0].press("no")
    await users[0].say("/huy")  # back to the menu
    await waiting.press("mine")
    await waiting.press("r:")
    await waiting.press("cancel")
    assert "rời danh sách chờ" in waiting.text and "Chỗ của Ông/Bà" not in waiting.text
    await waiting.press("yes")
    assert "Đã hủy đăng ký TCD-2026-000003" in waiting.text
    await users[0].press("mine")
    await users[0].press("r:")
    await users[0].press("cancel")  # nobody waits any more: the seat is only freed
    assert "danh sách chờ" not in users[0].text and "để trống cho người khác đăng ký" in users[0].text
