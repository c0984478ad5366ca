"""Telegram end to end: the real aiogram polling loop over HTTP against the fake Bot API."""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import App
from bot.channels.telegram.runner import TelegramBot
from bot.clock import FrozenClock
from bot.dialog.types import Attachment, Reply
from bot.notify import Outbox
from storage.models import (
    AuditEntry,
    Citizen,
    InboundUpdate,
    SignUp,
    SignUpStatus,
    StaffMember,
    StaffRole,
)
from tests.conftest import World
from tests.fakes.local_http import free_port
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.flows import ID_NUMBER, SUMMARY
from tests.support import ChatUser
from tests.telegram_harness import TelegramUser, make_telegram_bot
from tests.test_telegram_webhook import FUTURE_KIND, assert_unknown_kind_kept_quiet

STICKER = {
    "file_id": "s",
    "file_unique_id": "s",
    "type": "regular",
    "width": 1,
    "height": 1,
    "is_animated": False,
    "is_video": False,
}
VOICE = {"file_id": "v", "file_unique_id": "v", "duration": 2}


async def consent(user: TelegramUser) -> None:
    await user.say("/start")
    await user.press("Tiếng Việt")
    await user.press("Tôi đồng ý")
    assert "DANH MỤC CHÍNH" in user.text


async def test_register_with_buttons_contact_and_a_document(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 501)
    await consent(user)
    # The bot set its command menu for both languages on start.
    assert [c["command"] for c in fake.commands["vi"]] == ["start", "menu", "huy", "trogiup", "ngonngu"]
    assert [c["command"] for c in fake.commands["en"]] == ["start", "menu", "cancel", "help", "language"]

    menu = copy.deepcopy(user.keyboard_message())
    await user.press("Đăng ký tiếp công dân")
    # Two Bot API calls: the button acknowledged, and the pressed message edited into the next
    # question (its buttons replacing the menu's), keeping what it said and the choice made.
    [edited] = user.last
    assert edited.message_id == menu.message_id and len(fake.sent_to(501)) == 1
    assert edited.text.startswith(menu.text + "\n✓ Đăng ký tiếp công dân\n\n")
    assert "Xin Ông/Bà chọn điểm cầu" in user.text and "DANH MỤC CHÍNH" not in user.text
    assert "Phường Số 1" in [button["text"] for button in user.buttons(edited)]
    await user.say("tan binh")
    await user.press("Phường Tân Bình")
    await user.press("07/12/2026")
    await user.say("Nguyễn Văn An")
    [prompt] = user.last
    assert prompt.reply_markup is not None
    assert prompt.reply_markup["keyboard"][0][0] == {
        "text": "📱 Gửi số điện thoại của tôi",
        "request_contact": True,
    }
    await user.share_contact("84912345678")
    assert user.last[0].reply_markup == {"remove_keyboard": True}  # the contact keyboard is removed
    assert "0912 345 678" in user.text
    await user.say(ID_NUMBER)
    await user.say("12 Lý Thường Kiệt, phường Tân Bình")
    await user.press("Khiếu nại")
    await user.press("Đất đai")
    await user.say(SUMMARY)
    await user.press("Xong")
    await user.send_document("quyet-dinh.pdf", "application/pdf", 120_000)
    assert "Đã nhận 1 tệp: quyet-dinh.pdf" in user.text
    await user.send(sticker=STICKER)  # no file: what the step takes is asked again
    assert "Xin gửi tệp (ảnh hoặc tài liệu) hoặc chọn «Tiếp tục»" in user.text
    await user.send(voice=VOICE)
    assert "«voice»: chỉ nhận ảnh JPG/PNG, PDF, DOC hoặc DOCX" in user.text
    await user.press("Tiếp tục")
    await user.press("Chưa có cơ quan nào")
    await user.press("Chỉ mình tôi")
    assert "Tệp đính kèm: quyet-dinh.pdf" in user.text
    await user.press("Xác nhận")
    assert "ĐĂNG KÝ THÀNH CÔNG" in user.text and "TCD-2026-000001" in user.text

    async with app.sessions() as db:
        registration = await db.scalar(select(SignUp))
    assert registration is not None and registration.status == SignUpStatus.CONFIRMED
    assert registration.case.attachments[0]["file_id"] == "file-quyet-dinh.pdf"
    assert registration.case.phone == "+84912345678"

    # Cancel it again from "my registrations".
    await user.press("Đăng ký của tôi")
    await user.press("TCD-2026-000001")
    await user.press("Hủy đăng ký")
    await user.press("Có, hủy đăng ký")
    assert "Đã hủy đăng ký TCD-2026-000001" in user.text


async def test_a_sticker_is_no_file_and_a_voice_note_no_document(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    """At the menu a sticker reads as nothing chosen, never as a document for the attachments
    step; a voice note is a file, told which files are taken there."""
    user = TelegramUser(polling, fake, 512)
    await consent(user)
    for not_a_file in ({"sticker": STICKER}, {"location": {"latitude": 10.8, "longitude": 106.6}}):
        await user.send(**not_a_file)
        assert "Xin lỗi, hệ thống chưa hiểu yêu cầu. Xin Ông/Bà chọn một mục trong danh mục." in user.text
        assert "DANH MỤC CHÍNH" in user.text
        assert "không nhận tệp" not in user.text and "Tệp đính kèm" not in user.text
    await user.send(voice=VOICE)
    assert "Bước này không nhận tệp" in user.text and "ảnh và tài liệu (PDF, Word)" in user.text
    assert "DANH MỤC CHÍNH" in user.text


async def test_old_buttons_and_the_deadline(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot, clock: FrozenClock
) -> None:
    user = TelegramUser(polling, fake, 502)
    await consent(user)
    menu = copy.deepcopy(user.keyboard_message())  # as a stale client still shows it
    await user.press("Lịch tiếp công dân sắp tới")
    # A button of the earlier menu (its keyboard is gone in the client, but a stale
    # client can still send it): answered and the current question asked again.
    await user.press("Đăng ký tiếp công dân", message=menu)
    assert "tin nhắn cũ" in user.text and "LỊCH TIẾP CÔNG DÂN" in user.text

    clock.set(world.first_start - timedelta(days=5, minutes=-1))  # one minute past the deadline
    await user.press("Đăng ký tiếp công dân")
    await user.say("tan binh")
    await user.press("Phường Tân Bình")
    labels = [b["text"] for b in user.buttons(user.keyboard_message())]
    assert not any("07/12/2026" in label for label in labels)
    assert any("11/01/2027" in label for label in labels)


async def test_language_from_telegram_and_long_texts_split(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 503, language_code="en")
    await user.say("hello")
    assert "Welcome!" in user.text
    await user.press("English")
    await user.press("I agree")
    # A reply longer than 4096 characters arrives in several messages, each within the limit.
    await user.press("Register")
    await user.say("x" * 5000)
    assert "No endpoint matches" in user.text
    assert all(len(m.text) <= 4096 for m in fake.messages)
    echoed = [m for m in user.last if "x" * 100 in m.text]
    assert echoed and sum(m.text.count("x") for m in echoed) >= 100


async def test_blocked_users_are_marked_unreachable_and_back(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 504)
    await consent(user)

    async def unreachable() -> bool:
        async with app.sessions() as db:
            citizen = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "504"))
            assert citizen is not None
            return citizen.unreachable

    await user._await_handled(fake.push_member(504, "kicked"))
    assert await unreachable()
    await user._await_handled(fake.push_member(504, "member"))
    assert not await unreachable()
    fake.blocked.add(504)
    await user.say("/menu")
    assert await unreachable()
    assert fake.calls_of("sendMessage")[-1].status == 403
    fake.blocked.clear()
    await user.say("/menu")  # they came back and wrote: reachable again
    assert not await unreachable()
    assert "DANH MỤC CHÍNH" in user.text


async def test_a_repeated_membership_update_changes_nothing(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 511)
    await consent(user)
    kicked = fake.push_member(511, "kicked")
    await user._await_handled(kicked)
    await user._await_handled(fake.push_member(511, "member"))
    fake.redeliver(kicked)  # the same update_id again: they had unblocked the bot since
    await fake.wait_until(lambda: not fake._redelivered)
    await user.say("/menu")  # handled after the repeat: the user's updates are in order
    async with app.sessions() as db:
        citizen = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "511"))
    assert citizen is not None and not citizen.unreachable
    async with app.sessions() as db:
        audit = await db.scalars(select(AuditEntry.action).where(AuditEntry.actor == "telegram:511"))
        assert list(audit).count("citizen.unreachable") == 1  # the repeat is not a second block


async def test_429_and_5xx_are_retried(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 505)
    fake.inject("sendMessage", 429, retry_after=1)
    fake.inject("sendMessage", 502, times=2)
    fake.inject("sendMessage", 500, html=True)
    await user.say("/start")
    assert "Xin chào" in user.text
    statuses = [c.status for c in fake.calls_of("sendMessage")]
    assert statuses == [429, 502, 502, 500, 200]


async def test_polling_survives_an_outage(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    fake.offline = True
    await fake.wait_until(lambda: sum(c.status == 502 for c in fake.calls_of("getUpdates")) >= 3)
    fake.offline = False
    user = TelegramUser(polling, fake, 506)
    await user.say("/start")
    assert "Xin chào" in user.text


async def test_a_polled_update_of_an_unknown_kind_is_marked_handled_without_its_content(
    app: App,
    world: World,
    fake: FakeTelegram,
    polling: TelegramBot,
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
) -> None:
    caplog.set_level(logging.DEBUG)
    update = fake.push_update(**FUTURE_KIND)
    await TelegramUser(polling, fake, 2001).say("/start")  # polled after it
    await polling.inbound.wait_idle()
    assert_unknown_kind_kept_quiet(caplog, recwarn, update["update_id"])
    async with app.sessions() as db:
        row = await db.scalar(
            select(InboundUpdate).where(InboundUpdate.update_id == str(update["update_id"]))
        )
    assert row is not None and row.handled_at is not None and row.payload == {}


async def test_a_duplicated_update_is_handled_once(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 507)
    update = fake.push_message(507, "/start")
    await user._await_handled(update)
    replies = len(fake.sent_to(507))
    fake.redeliver(update)
    await fake.wait_until(lambda: not fake._redelivered)
    # Let the bot finish whatever it would do with it, then check it did nothing.
    await user.press("Tiếng Việt")  # handled after the duplicate: the user's updates are in order
    # Only the press showed something: its message edited into the notice.
    assert len(user.last) == 1 and "THÔNG BÁO XỬ LÝ DỮ LIỆU" in user.text
    texts = [m.text for m in fake.sent_to(507)]
    assert len(texts) == replies and sum(text.count("Xin chào") for text in texts) == 1


async def test_tiepdan_run_serves_telegram_by_polling(fake: FakeTelegram, tmp_path: Path) -> None:
    """`make run` with a token: the real process polls the (fake) Bot API and answers."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "TELEGRAM_POLLING_TIMEOUT": "1",
        "WEB_HOST": "127.0.0.1",  # /healthz is served in polling mode too
        "WEB_PORT": str(port := free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake.wait_until(lambda: fake.calls_of("getUpdates"), within=60)
        fake.push_message(701, "/start")
        await fake.wait_until(lambda: fake.sent_to(701), within=30)
        assert "Xin chào" in fake.sent_to(701)[0].text
        # Served on the port bound before the database was touched.
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as health:
            assert health.status == 200 and (await health.json())["ok"] is True
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"Traceback" not in stderr


async def test_files_are_sent_back_by_reference(app: App, fake: FakeTelegram, polling: TelegramBot) -> None:
    reply = Reply(
        "Hồ sơ",
        files=(
            Attachment("photo", "photo-file-id", "photo.jpg", "image/jpeg", 1000),
            Attachment("document", "doc-file-id", "don.pdf", "application/pdf", 2000),
        ),
    )
    await polling.channel.send("601", [reply])
    assert [c.params.get("photo") for c in fake.calls_of("sendPhoto")] == ["photo-file-id"]
    assert [c.params.get("document") for c in fake.calls_of("sendDocument")] == ["doc-file-id"]


async def test_an_export_reaches_the_admin_as_three_uploaded_files(
    staff_app: App, world: World, fake: FakeTelegram
) -> None:
    """aiogram uploads a file as a part named in the field ("attach://…"), as Telegram takes it."""
    staff_app.settings.admins = "telegram:777"
    staff_app.settings.__dict__.pop("admin_keys", None)  # the cached parse of ADMINS, if made
    staff_app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(staff_app, fake)
    polling = asyncio.create_task(telegram.run_polling())
    try:
        admin = TelegramUser(telegram, fake, 777)
        await admin.say(f"/export {world.first_id}")
        files = [m.document for m in fake.sent_to(777) if m.document is not None]
        assert [name.rsplit(".", 1)[1] for name in files if name] == ["xlsx", "docx", "csv"]
        assert [c.status for c in fake.calls_of("sendDocument")] == [200, 200, 200]
        assert "gõ lệnh cần dùng" in fake.sent_to(777)[-1].text  # and ready for the next command
        assert {c.content_type for c in fake.calls_of("sendDocument")} == {"multipart/form-data"}
    finally:
        await telegram.stop()
        await asyncio.wait_for(polling, timeout=10)


async def test_staff_see_their_commands_in_their_own_chat_menu(app: App, fake: FakeTelegram) -> None:
    app.settings.admins = "telegram:777"
    app.settings.__dict__.pop("admin_keys", None)  # the cached parse of ADMINS, if made
    async with app.sessions() as db, db.begin():
        db.add(
            StaffMember(channel="telegram", user_id="778", role=StaffRole.OFFICER, created_at=app.clock.now())
        )
    telegram = make_telegram_bot(app, fake)
    await telegram.on_startup()
    await telegram.stop()
    vi = [c["command"] for c in fake.chat_commands[(777, "vi")]]
    assert vi[:5] == ["start", "menu", "huy", "trogiup", "ngonngu"]
    assert {"sessions", "review", "broadcast", "undelivered", "staff"} <= set(vi[5:])
    described = {c["command"]: c["description"] for c in fake.chat_commands[(777, "en")]}
    assert not described["broadcast"].startswith("/")  # the description, without the usage
    officer = {c["command"] for c in fake.chat_commands[(778, "vi")]}
    assert "review" in officer and "broadcast" not in officer  # an officer's commands only
    assert [c["command"] for c in fake.commands["vi"]] == ["start", "menu", "huy", "trogiup", "ngonngu"]


async def test_a_new_officer_gets_the_staff_menu_at_once_and_loses_it_when_revoked(
    staff_app: App, fake: FakeTelegram, world: World, admin: ChatUser
) -> None:
    staff_app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(staff_app, fake)
    polling = asyncio.create_task(telegram.run_polling())
    try:
        await admin.say("/invite")
        await admin.press("Tất cả điểm cầu")
        await admin.press("Không")
        code = admin.text.split("Mã mời: ")[1].split()[0]
        officer = TelegramUser(telegram, fake, 779)
        await officer.say(f"/join {code}")
        assert "đã được thêm làm cán bộ" in officer.text
        menu = {c["command"] for c in fake.chat_commands[(779, "vi")]}
        assert {"review", "export", "menu"} <= menu and "broadcast" not in menu  # an officer's, at once
        assert (779, "en") in fake.chat_commands

        await admin.say("/staff")
        await admin.press("telegram:779")
        await admin.press("Có, thu hồi")
        outbox = Outbox(
            staff_app.sessions, staff_app.settings, staff_app.clock, {"telegram": telegram.outbox_channel}
        )
        assert await outbox.send_due() == 1
        assert "đã được thu hồi" in fake.sent_to(779)[-1].text
        assert (779, "vi") not in fake.chat_commands and (779, "en") not in fake.chat_commands
    finally:
        await telegram.stop()
        await asyncio.wait_for(polling, timeout=10)


async def test_a_button_is_answered_even_when_telegram_refuses_the_acknowledgement(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    user = TelegramUser(polling, fake, 508)
    await consent(user)
    # The spinner's answer comes too late (a backlog after a restart), or the user blocked
    # the bot meanwhile; the pressed message cannot be edited (Telegram says so of some old
    # messages): the answer is sent as a message of its own.
    fake.inject("answerCallbackQuery", 400, "Bad Request: query is too old and response timeout expired")
    await user.press("Lịch tiếp công dân sắp tới")
    assert "LỊCH TIẾP CÔNG DÂN" in user.text  # answered within the same update, in order
    fake.inject("answerCallbackQuery", 403)
    fake.inject("editMessageText", 403)
    sent = len(fake.sent_to(508))
    await user.press("Danh mục chính")
    assert "DANH MỤC CHÍNH" in user.text and len(fake.sent_to(508)) == sent + 1
    fake.inject("editMessageText", 400, "Bad Request: message can't be edited")
    await user.press("Đăng ký tiếp công dân")
    assert "điểm cầu" in user.text and len(fake.sent_to(508)) == sent + 2
    assert "Cause exception" not in caplog.text  # nothing escaped to aiogram's catch-all
    assert "query is too old" in caplog.text  # but it is logged


async def test_a_button_on_an_inaccessible_message_is_not_edited(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 509)
    await consent(user)
    menu = user.keyboard_message()
    data = user.buttons(menu)[0]["callback_data"]
    # Telegram sends a message it no longer gives access to as {chat, message_id, date: 0}.
    inaccessible = {
        "chat": {"id": 509, "type": "private", "first_name": "Công dân"},
        "message_id": 1,
        "date": 0,
    }
    update = fake._push(
        {
            "callback_query": {
                "id": "cb-inaccessible",
                "from": {"id": 509, "is_bot": False, "first_name": "Công dân", "language_code": "vi"},
                "message": inaccessible,
                "chat_instance": "ci",
                "data": data,
            }
        }
    )
    await user._await_handled(update)
    assert "điểm cầu" in user.text
    edits = fake.calls_of("editMessageReplyMarkup") + fake.calls_of("editMessageText")
    assert all(int(call.params["message_id"]) != 1 for call in edits)


async def test_a_deep_link_start_and_commands_addressed_to_the_bot(
    app: App, world: World, fake: FakeTelegram, polling: TelegramBot
) -> None:
    user = TelegramUser(polling, fake, 510)
    await consent(user)
    await user.say("/start tiepdan-qr-poster")  # t.me/<bot>?start=… sends the payload after /start
    assert "THÔNG BÁO XỬ LÝ DỮ LIỆU" in user.text and "chưa hiểu" not in user.text
    await user.press("Tôi đồng ý")
    await user.press("Đăng ký tiếp công dân")
    await user.say("/huy@tiepdan_test_bot")  # the form a client sends from a command list
    assert "Đã hủy thao tác" in user.text and "DANH MỤC CHÍNH" in user.text
    await user.say("/trogiup@tiepdan_test_bot")
    assert "HƯỚNG DẪN" in user.text
    await user.say("/menu@tiepdan_test_bot")
    assert "DANH MỤC CHÍNH" in user.text and "chưa hiểu" not in user.text
