"""Leaving the phone step on Telegram: the "share my phone" reply keyboard goes away and the
next question keeps its buttons. Telegram cannot edit a message sent with a reply keyboard
or ReplyKeyboardRemove, nor apply an edit that changes nothing; the fake refuses both."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.app import App
from bot.channels.telegram.runner import TelegramBot
from tests.conftest import World
from tests.fakes.telegram_api import NOT_MODIFIED, FakeTelegram, SentMessage
from tests.flows import ID_NUMBER, SUMMARY
from tests.telegram_harness import TelegramUser

USER = 611


@pytest.fixture
def no_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]


async def test_the_fake_refuses_edits_as_telegram_does(
    app: App, fake: FakeTelegram, polling: TelegramBot
) -> None:
    bot, chat = polling.bot, 612
    with_keyboard = await bot.send_message(chat, "a", reply_markup=_phone_keyboard())
    removed = await bot.send_message(chat, "b", reply_markup=ReplyKeyboardRemove())
    for message in (with_keyboard, removed):
        with pytest.raises(TelegramBadRequest, match="message can't be edited"):
            await bot.edit_message_reply_markup(
                chat_id=chat, message_id=message.message_id, reply_markup=_inline()
            )
        with pytest.raises(TelegramBadRequest, match="message can't be edited"):
            await bot.edit_message_text("c", chat_id=chat, message_id=message.message_id)
    plain = await bot.send_message(chat, "d", reply_markup=_inline())
    with pytest.raises(TelegramBadRequest) as same_markup:
        await bot.edit_message_reply_markup(chat_id=chat, message_id=plain.message_id, reply_markup=_inline())
    assert same_markup.value.message == NOT_MODIFIED
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("d", chat_id=chat, message_id=plain.message_id, reply_markup=_inline())
    await bot.edit_message_text("e", chat_id=chat, message_id=plain.message_id, reply_markup=_inline())
    await bot.edit_message_reply_markup(chat_id=chat, message_id=plain.message_id)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(chat_id=chat, message_id=plain.message_id)
    assert fake.message(plain.message_id) == SentMessage(plain.message_id, chat, "e", None)


def _phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="📱", request_contact=True)]], one_time_keyboard=True
    )


def _inline() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="x")]])


async def consent(user: TelegramUser) -> None:
    await user.say("/start")
    await user.press("Tiếng Việt")
    await user.press("Tôi đồng ý")


async def to_the_phone_step(user: TelegramUser, session: str = "07/12/2026") -> None:
    await user.press("Đăng ký tiếp công dân")
    await user.say("tan binh")
    await user.press("Phường Tân Bình")
    await user.press(session)
    await user.say("Nguyễn Văn An")
    assert "keyboard" in (user.last[-1].reply_markup or {})  # the share-my-phone keyboard


async def register_once(user: TelegramUser) -> None:
    await consent(user)
    await to_the_phone_step(user)
    await user.share_contact("84912345678")
    await user.say(ID_NUMBER)
    await user.say("12 Lý Thường Kiệt, phường Tân Bình")
    await user.press("Khiếu nại")
    await user.press("Đất đai")
    await user.say(SUMMARY)
    await user.press("Xong")
    await user.press("Tiếp tục")
    await user.press("Chưa có cơ quan nào")
    await user.press("Chỉ mình tôi")
    await user.press("Xác nhận")
    assert "ĐĂNG KÝ THÀNH CÔNG" in user.text


def assert_keyboard_closed_and_buttons_shown(user: TelegramUser, *buttons: str) -> None:
    """The reply removes the phone keyboard on one message and shows its buttons on the last."""
    assert [m.reply_markup for m in user.last[:-1]] == [{"remove_keyboard": True}], user.last
    labels = [button["text"] for button in user.buttons(user.last[-1])]
    for label in buttons:
        assert any(label in shown for shown in labels), (label, labels)


@pytest.mark.usefixtures("no_errors")
async def test_a_returning_citizen_keeps_buttons_after_the_phone_step(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, USER)
    await register_once(user)
    await to_the_phone_step(user, "11/01/2027")
    await user.say("Giữ: 0912 345 678")  # the saved number's button of the reply keyboard
    assert user.last[0].text == "Đã ẩn nút gửi số điện thoại."  # the question is said first: a carrier
    assert_keyboard_closed_and_buttons_shown(user, f"Giữ: {ID_NUMBER}")
    await user.press(f"Giữ: {ID_NUMBER}")  # the button works
    assert "địa chỉ" in user.text.lower()

    await user.say("/huy")
    await to_the_phone_step(user, "11/01/2027")
    await user.share_contact("84987654321")  # a new number
    assert "0987 654 321" in user.text
    assert_keyboard_closed_and_buttons_shown(user, f"Giữ: {ID_NUMBER}")


@pytest.mark.usefixtures("no_errors")
async def test_a_phone_edited_from_the_review_screen_keeps_the_review_buttons(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, USER)
    await consent(user)
    await to_the_phone_step(user)
    await user.say("0912 345 678")
    await user.say(ID_NUMBER)
    await user.say("12 Lý Thường Kiệt, phường Tân Bình")
    await user.press("Khiếu nại")
    await user.press("Đất đai")
    await user.say(SUMMARY)
    await user.press("Xong")
    await user.press("Tiếp tục")
    await user.press("Chưa có cơ quan nào")
    await user.press("Chỉ mình tôi")
    await user.press("Sửa thông tin")
    edit_list, calls = user.keyboard_message(), len(fake.calls)
    await user.press("Số điện thoại")
    # The phone keyboard cannot come by an edit: the pressed list keeps the choice and loses
    # its buttons (one more Bot API call than a button costs elsewhere), the question is sent.
    methods = [call.method for call in fake.calls[calls:] if call.method != "getUpdates"]
    assert sorted(methods) == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert edit_list.text.endswith("\n✓ Số điện thoại") and edit_list.reply_markup is None
    edited, question = user.last
    assert edited.message_id == edit_list.message_id and "keyboard" in (question.reply_markup or {})
    await user.share_contact("84987654321")
    assert "0987 654 321" in user.text and "KIỂM TRA LẠI THÔNG TIN" in user.text
    assert_keyboard_closed_and_buttons_shown(user, "Xác nhận gửi", "Sửa thông tin")
    await user.press("Xác nhận gửi")
    assert "ĐĂNG KÝ THÀNH CÔNG" in user.text


@pytest.mark.usefixtures("no_errors")
@pytest.mark.parametrize(
    ("typed", "buttons"),
    [
        ("/huy", ("Đăng ký tiếp công dân",)),
        ("hủy", ("Đăng ký tiếp công dân",)),
        ("menu", ("Đăng ký tiếp công dân",)),
        ("/start", ("Tôi đồng ý",)),
        ("/help", ("Tiếp tục",)),
        ("/ngonngu", ("Tiếng Việt", "English")),
    ],
)
async def test_a_command_at_the_phone_step_closes_the_keyboard_and_keeps_buttons(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot, typed: str, buttons: tuple[str, ...]
) -> None:
    user = TelegramUser(polling, fake, USER)
    await consent(user)
    await to_the_phone_step(user)
    await user.say(typed)
    last = user.last[-1]
    assert last.reply_markup is not None and "inline_keyboard" in last.reply_markup, user.last
    assert_keyboard_closed_and_buttons_shown(user, *buttons)
    assert all(call.status == 200 for call in fake.calls if call.method.lower().startswith("edit"))
