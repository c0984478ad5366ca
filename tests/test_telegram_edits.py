"""A pressed button answered in two Bot API calls: the spinner stopped, and the pressed message
edited into the next question, keeping what it said and the choice made. Where Telegram cannot
edit it (a phone keyboard next, too long, refused), the answer is sent; a button of an old
message is answered below it. All through the real polling loop and the fake Bot API."""

from __future__ import annotations

import collections
import copy

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.app import App
from bot.channels.telegram.mapping import Pressed
from bot.channels.telegram.runner import TelegramBot
from bot.dialog.types import Reply
from tests.conftest import World
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram_harness import TelegramUser

PRESSED = collections.Counter({"answerCallbackQuery": 1, "editMessageText": 1})
SENT = collections.Counter({"sendMessage": 1})


def calls_since(fake: FakeTelegram, start: int) -> collections.Counter[str]:
    """The Bot API calls made since the `start`-th, by method, polling aside."""
    return collections.Counter(call.method for call in fake.calls[start:] if call.method != "getUpdates")


async def consent(user: TelegramUser) -> None:
    await user.say("/start")
    await user.press("Tiếng Việt")
    await user.press("Tôi đồng ý")
    assert "DANH MỤC CHÍNH" in user.text


async def test_a_pressed_button_costs_two_calls_and_the_chat_keeps_every_choice(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 701)
    start = len(fake.calls)
    await user.say("/start")
    assert calls_since(fake, start) == {"sendMessage": 1}  # a typed answer: one call
    greeting = user.last[0].text
    for label, next_question in (
        ("Tiếng Việt", "THÔNG BÁO XỬ LÝ DỮ LIỆU"),
        ("Tôi đồng ý", "DANH MỤC CHÍNH"),
        ("Đăng ký tiếp công dân", "chọn điểm cầu"),
    ):
        start = len(fake.calls)
        await user.press(label)
        assert calls_since(fake, start) == PRESSED, label
        assert next_question in user.text and f"✓ {label}" in user.text
    start = len(fake.calls)
    await user.say("tan binh")
    assert calls_since(fake, start) == {"sendMessage": 1}
    start = len(fake.calls)
    await user.press("Phường Tân Bình")
    assert calls_since(fake, start) == PRESSED
    assert "Các buổi tiếp còn nhận đăng ký" in user.text

    # The chat as the citizen reads it: nothing said was taken back, each choice under its
    # question, and only the current question has buttons.
    first, second = fake.sent_to(701)
    assert first.text.startswith(greeting + "\n✓ Tiếng Việt\n\nTHÔNG BÁO XỬ LÝ DỮ LIỆU")
    assert first.text.index("✓ Tôi đồng ý") < first.text.index("✓ Đăng ký tiếp công dân")
    assert first.reply_markup is not None  # the endpoint question, never answered by a button
    assert "✓ Phường Tân Bình\n\nCác buổi tiếp" in second.text
    assert any("07/12/2026" in button["text"] for button in user.buttons(second))


async def test_a_button_of_an_old_message_is_answered_below_it(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 702)
    await consent(user)
    menu = user.keyboard_message()
    menu_text = menu.text
    await user.say("Đăng ký tiếp công dân")  # typed: the menu keeps its buttons
    assert "chọn điểm cầu" in user.text
    start, sent = len(fake.calls), len(fake.sent_to(702))
    await user.press("Lịch tiếp công dân sắp tới", message=menu)
    # The old message is not made the answer (which says the question is below it): its
    # buttons go, it says what it said, and the answer comes as a new message.
    keyboard_gone = collections.Counter({"answerCallbackQuery": 1, "editMessageReplyMarkup": 1})
    assert calls_since(fake, start) == keyboard_gone + SENT
    assert (menu.text, menu.reply_markup) == (menu_text, None)
    [answer] = user.last
    assert len(fake.sent_to(702)) == sent + 1 and "tin nhắn cũ" in answer.text and "điểm cầu" in answer.text
    await user.press("Trang sau")  # the question asked again works, by an edit
    assert [shown.message_id for shown in user.last] == [answer.message_id] and "trang 2/3" in user.text


async def test_edits_telegram_refuses_are_sent_instead(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 703)
    await consent(user)
    menu = user.keyboard_message()
    # A message Telegram no longer has (deleted in the chat): "message to edit not found".
    gone = fake.message(menu.message_id)
    assert gone is not None
    fake.messages.remove(gone)
    start = len(fake.calls)
    await user.press("Lịch tiếp công dân sắp tới", message=gone)
    assert calls_since(fake, start) == PRESSED + SENT
    assert [call.status for call in fake.calls_of("editMessageText")][-1] == 400
    [answer] = user.last
    assert "LỊCH TIẾP CÔNG DÂN" in answer.text and answer.reply_markup is not None
    for status, description in (
        (400, "Bad Request: message can't be edited"),
        (400, "Bad Request: MESSAGE_ID_INVALID"),
        (403, ""),  # blocked meanwhile; sending tells, and marks them
    ):
        sent = len(fake.sent_to(703))
        fake.inject("editMessageText", status, description)
        await user.press("Danh mục chính" if "LỊCH" in user.text else "Lịch tiếp công dân sắp tới")
        assert len(fake.sent_to(703)) == sent + 1 and len(user.last) == 1, description


async def test_an_edit_whose_answer_was_lost_is_not_shown_twice(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    """Telegram did the edit, then a gateway lost its answer: the retry hears "message is not
    modified", which says the question is there already: nothing is sent again."""
    user = TelegramUser(polling, fake, 704)
    await consent(user)
    fake.inject("editMessageText", 502, html=True, performed=True)
    start = len(fake.calls)
    await user.press("Lịch tiếp công dân sắp tới")
    assert calls_since(fake, start) == {"answerCallbackQuery": 1, "editMessageText": 2}
    assert [call.status for call in fake.calls_of("editMessageText")][-2:] == [502, 400]
    assert "LỊCH TIẾP CÔNG DÂN" in user.keyboard_message().text


async def test_a_pressed_message_too_long_to_take_the_answer(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    """With the next question it would pass Telegram's 4096 characters: it keeps the choice,
    loses its buttons, and the question comes as a new message (a long chat starts afresh)."""
    user = TelegramUser(polling, fake, 705)
    await consent(user)
    menu = user.keyboard_message()
    menu.text = "…" * 4000  # as Telegram holds it after many answers
    start = len(fake.calls)
    await user.press("Đăng ký tiếp công dân")
    assert calls_since(fake, start) == PRESSED + SENT
    assert menu.text == "…" * 4000 + "\n✓ Đăng ký tiếp công dân" and menu.reply_markup is None
    assert "chọn điểm cầu" in user.last[-1].text and user.last[-1].reply_markup is not None
    # Not even the choice fits: only the buttons go.
    question = user.keyboard_message()
    question.text = "…" * 4090
    await user.press("Trang sau")
    assert question.text == "…" * 4090 and question.reply_markup is None
    assert fake.calls_of("editMessageReplyMarkup") and "trang 2/3" in user.last[-1].text


async def test_a_press_with_nothing_to_answer_leaves_its_message(
    fake: FakeTelegram, polling: TelegramBot
) -> None:
    """Handled before (the engine says nothing more): that handling may have made the message
    the question it asks, buttons and all, which stays so."""
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="x")]])
    asked = await polling.bot.send_message(707, "?", reply_markup=keyboard)
    start = len(fake.calls)
    await polling.channel.send("707", [], Pressed(707, asked.message_id, "?", "x"))
    assert calls_since(fake, start) == {}


async def test_the_fake_refuses_edits_as_telegram_does(fake: FakeTelegram, polling: TelegramBot) -> None:
    bot, chat = polling.bot, 706
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="x")]])
    mine = await bot.send_message(chat, "a", reply_markup=keyboard)
    other = await bot.send_message(chat + 1, "b")
    document = await bot.send_document(chat, "file-a.pdf")  # a file Telegram holds
    for message_id, target in ((999_999, chat), (other.message_id, chat)):
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("c", chat_id=target, message_id=message_id)
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("c", chat_id=chat, message_id=document.message_id)
    fake.blocked.add(chat)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.edit_message_text("c", chat_id=chat, message_id=mine.message_id)
    fake.blocked.clear()
    edited = await bot.edit_message_text("a\nc", chat_id=chat, message_id=mine.message_id)
    assert not isinstance(edited, bool) and edited.text == "a\nc" and edited.reply_markup is None
    assert [shown.new_text for shown in fake.shown if shown.message.chat_id == chat] == ["a", "", "c"]


async def test_the_choice_kept_reads_as_one_mark_and_the_buttons_words(
    fake: FakeTelegram, polling: TelegramBot
) -> None:
    """A button that starts with its own sign (✅ Xong, ✏️ Sửa thông tin, 📢 Gửi) is kept under
    the check mark without that sign: "✓ Xong", not "✓ ✅ Xong"."""
    chat = 708
    for label, kept in (
        ("✅ Xong", "✓ Xong"),
        ("✏️ Sửa thông tin", "✓ Sửa thông tin"),
        ("« Trang trước", "✓ Trang trước"),
        ("Trang sau »", "✓ Trang sau »"),
        ("Tôi đồng ý", "✓ Tôi đồng ý"),
    ):
        button = InlineKeyboardButton(text=label, callback_data="x")
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[button]])
        asked = await polling.bot.send_message(chat, "Hỏi?", reply_markup=keyboard)
        polling.channel.latest.note(chat, asked.message_id)  # the chat's last message, as if sent by it
        pressed = Pressed(chat, asked.message_id, "Hỏi?", label)
        await polling.channel.send(str(chat), [Reply("Tiếp.")], pressed)
        edited = fake.message(asked.message_id)
        assert edited is not None and edited.text == f"Hỏi?\n{kept}\n\nTiếp.", label


async def test_a_question_with_a_notice_after_it_is_answered_below_the_notice(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    """Edited into the answer, a question above a notice would have the answer appear above
    the notice, where the citizen does not look: its choice is kept, the answer comes below."""
    user = TelegramUser(polling, fake, 711)
    await consent(user)
    menu = user.keyboard_message()
    await polling.outbox_channel.send("711", [Reply("📢 Lịch tiếp thay đổi.")])  # a notice
    start = len(fake.calls)
    await user.press("Lịch tiếp công dân sắp tới", message=menu)
    recorded = collections.Counter({"answerCallbackQuery": 1, "editMessageText": 1})
    assert calls_since(fake, start) == recorded + SENT
    kept = fake.message(menu.message_id)
    assert (
        kept is not None and kept.text.endswith("✓ Lịch tiếp công dân sắp tới") and kept.reply_markup is None
    )
    assert fake.sent_to(711)[-1].message_id > menu.message_id  # the answer, below the notice


async def test_a_double_tap_says_nothing_twice(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    """The second tap of a double tap reaches the bot after the first turned the message into
    the next question: its button is old, but the citizen reads the current question there.
    Its buttons are brought up to date; nothing is said."""
    user = TelegramUser(polling, fake, 712)
    await consent(user)
    menu = user.keyboard_message()
    (old,) = [b["callback_data"] for b in user.buttons(menu) if "Hướng dẫn" in b["text"]]
    await user.press("Hướng dẫn", message=menu)
    shown = fake.message(menu.message_id)
    assert shown is not None
    text, sent, buttons = shown.text, len(fake.sent_to(712)), copy.deepcopy(shown.reply_markup)
    start = len(fake.calls)
    update = fake.push_callback(712, shown, old)  # the same button again, as the first tap had it
    await user._await_handled(update)
    assert calls_since(fake, start) == {"answerCallbackQuery": 1, "editMessageText": 1}
    again = fake.message(menu.message_id)
    assert again is not None and again.text == text and len(fake.sent_to(712)) == sent
    assert again.reply_markup is not None
    assert again.reply_markup != buttons  # the question's buttons, of its new turn
