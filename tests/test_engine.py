"""The dialog engine: commands, old buttons, ordering, and the error guard."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.app import App
from bot.dialog.engine import STATE_TURN, Dialog
from bot.dialog.flow import Answer, Ctx, Flow, Next
from bot.dialog.types import Reply
from handlers.registry import all_flows
from storage.models import ConversationState
from tests.conftest import World
from tests.flows import at_the_phone_step, consent, fill_until_review
from tests.support import TEXT_ONLY, ChatUser


async def test_cancel_leaves_any_flow(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    for word in ("/cancel", "/huy", "hủy", "Huỷ", "HUY"):
        await chat.press("register")
        await chat.say("tan binh")
        await chat.say(word)
        assert "Đã hủy thao tác" in chat.text, word
        assert "DANH MỤC CHÍNH" in chat.prompt.text


async def test_an_old_button_is_answered_and_the_current_step_asked_again(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.press("register")
    old_button = chat.find_option("ep:").payload
    await chat.press("ep:")
    session_prompt = chat.prompt.text
    await chat.press_wire(old_button)
    assert "tin nhắn cũ" in chat.text
    assert chat.prompt.text == session_prompt  # the session step again, not the endpoint one
    await chat.press_wire("garbage-without-turn")
    assert "tin nhắn cũ" in chat.text
    await chat.press("s:")
    assert "họ và tên" in chat.text


async def test_unknown_text_in_the_menu_gets_a_hint(app: App, chat: ChatUser) -> None:
    await consent(chat)
    await chat.say("asdfgh 🤷")
    assert "chưa hiểu yêu cầu" in chat.text
    assert "DANH MỤC CHÍNH" in chat.prompt.text


async def test_help_and_language_commands(app: App, chat: ChatUser) -> None:
    await consent(chat)
    await chat.say("/help")
    assert "HƯỚNG DẪN" in chat.text and "/huy" in chat.text and "5 ngày" in chat.text
    await chat.say("/ngonngu")
    await chat.press("English")
    assert "The language is now English." in chat.text and "MAIN MENU" in chat.text


async def test_help_and_language_in_the_middle_of_a_registration_go_back_to_it(
    app: App, world: World, chat: ChatUser
) -> None:
    await at_the_phone_step(chat)
    assert "số điện thoại" in chat.text
    await chat.say("/trogiup")
    assert "HƯỚNG DẪN" in chat.text
    await chat.press("Tiếp tục việc đang làm")
    assert "số điện thoại" in chat.text  # the phone step again, the name kept
    await chat.say("/ngonngu")
    await chat.press("English")
    assert "The language is now English." in chat.text and "phone number" in chat.text
    await chat.say("0912 345 678")
    await chat.say("/help")
    await chat.say("/language")  # from help: back to where help would have gone back to
    await chat.press("Tiếng Việt")
    assert "số định danh cá nhân" in chat.text
    await chat.say("079203001234")
    await chat.say("12 Lý Thường Kiệt, phường Tân Bình")
    await chat.press("complaint")
    await chat.press("land")
    await chat.say("Gia đình tôi bị thu hồi đất năm 2024 nhưng chưa nhận được tiền bồi thường.")
    await chat.press("done")  # the summary is complete
    await chat.press("done")
    await chat.press("none")
    await chat.press("alone")
    assert "Nguyễn Văn An" in chat.text and "0912 345 678" in chat.text  # nothing lost on the way
    await chat.press("confirm")
    assert "ĐĂNG KÝ THÀNH CÔNG" in chat.text


async def test_help_from_the_menu_goes_back_to_the_menu(app: App, chat: ChatUser) -> None:
    await consent(chat)
    await chat.say("/help")
    await chat.press("Về danh mục chính")
    assert "DANH MỤC CHÍNH" in chat.text


async def test_a_staff_command_from_a_citizen_keeps_what_they_were_doing(
    app: App, world: World, chat: ChatUser
) -> None:
    await at_the_phone_step(chat)
    await chat.say(f"/session {world.first_id}")
    assert "không có quyền" in chat.text and "số điện thoại" in chat.text
    await chat.say("0912 345 678")
    assert "số định danh cá nhân" in chat.text


async def test_state_survives_a_restart(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await fill_until_review(chat)
    # A new engine (a restarted process) over the same database continues the conversation.
    restarted = Dialog(app.sessions, app.settings, app.clock, all_flows())
    chat.dialog = restarted
    await chat.press("confirm")
    assert "ĐĂNG KÝ THÀNH CÔNG" in chat.text


async def test_numbered_answers_on_a_text_only_channel(app: App, world: World) -> None:
    chat = ChatUser(app.dialog, capabilities=TEXT_ONLY)
    await chat.say("hi")
    await chat.say("1")  # Tiếng Việt
    await chat.say("1")  # Tôi đồng ý
    assert "DANH MỤC CHÍNH" in chat.text
    await chat.say("Đăng ký tiếp công dân")  # the option's text works too
    assert "điểm cầu" in chat.text
    await chat.say("99")  # not an option number: taken as a search
    assert "Không tìm thấy điểm cầu nào khớp với «99»" in chat.text


async def test_events_of_one_user_are_handled_in_order(app: App, chat: ChatUser) -> None:
    await consent(chat)

    async def turn() -> int:
        async with app.sessions() as db:
            state = await db.scalar(select(ConversationState))
            assert state is not None
            return int(state.data[STATE_TURN])

    before = await turn()
    await asyncio.gather(*(chat.say("/menu") for _ in range(10)))
    assert await turn() == before + 10  # no event lost its update to another


async def test_an_unexpected_error_is_apologised_for_and_input_kept(app: App, world: World) -> None:
    boom = Flow("boom", first="fail")

    @boom.ask("fail")
    async def ask(ctx: Ctx) -> Reply:
        return Reply("boom prompt")

    @boom.handle("fail")
    async def handle(ctx: Ctx, answer: Answer) -> Next:
        ctx.data["half_written"] = True
        raise RuntimeError("a bug")

    flows = all_flows() | {"boom": boom}
    dialog = Dialog(app.sessions, app.settings, app.clock, flows)
    chat = ChatUser(dialog)
    await consent(chat)
    async with app.sessions() as db, db.begin():
        state = await db.scalar(select(ConversationState))
        assert state is not None
        state.flow, state.step, state.data = "boom", "fail", {"kept": "yes"}
    await chat.say("anything")
    assert "hệ thống gặp sự cố" in chat.text and "Mã tham chiếu:" in chat.text
    async with app.sessions() as db:
        state = await db.scalar(select(ConversationState))
        assert state is not None and state.flow == "boom" and state.data == {"kept": "yes"}


def test_a_draft_stores_only_what_differs_from_its_defaults_and_reads_back_the_same() -> None:
    from dataclasses import dataclass, field

    from bot.dialog.flow import Draft

    @dataclass
    class Example(Draft):
        chosen: int | None = None
        page: int = 0
        names: list[str] = field(default_factory=list)

    data: dict[str, object] = {"chosen": 3, "other": "kept", "page": 2}
    draft = Example.load(data)
    assert draft == Example(chosen=3, page=2)
    draft.page, draft.names = 0, ["An"]
    draft.store(data)
    assert data == {"chosen": 3, "other": "kept", "names": ["An"]}  # page back at its default: gone
    assert Example.load(data) == draft
