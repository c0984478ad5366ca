"""Nothing lost in a crash, in every channel and mode: updates stored before they are
acknowledged (long polling included), prompts sent again when they may not have gone out,
failing events not replayed forever, unsigned Zalo OA bodies never parsed."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
from aiogram.methods import GetUpdates, TelegramMethod
from sqlalchemy import select

from bot.app import App
from bot.channels.zalo.bot_api import ZaloBotApi
from bot.channels.zalo.bot_channel import CHANNEL as ZALO_BOT
from bot.channels.zalo.bot_channel import event_id_of
from bot.channels.zalo.bot_runner import ZaloBotRunner
from bot.dialog.engine import Dialog
from bot.dialog.flow import Answer, Ctx, Flow, Next
from bot.dialog.types import Reply
from handlers.registry import all_flows
from storage import inbound
from storage.identity import UserKey
from storage.models import ConversationState, InboundUpdate
from tests.conftest import World
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import TOKEN as ZALO_BOT_TOKEN
from tests.fakes.zalo_bot_api import FakeZaloBot, text_update
from tests.fakes.zalo_oa import FakeZalo
from tests.telegram_harness import TelegramUser, make_telegram_bot
from tests.test_zalo_bot import FAST, Finished
from tests.test_zalo_oa import serving


async def stored_ids(app: App, channel: str = "telegram") -> dict[str, InboundUpdate]:
    async with app.sessions() as db:
        rows = await db.scalars(select(InboundUpdate).where(InboundUpdate.channel == channel))
        return {row.update_id: row for row in rows}


async def consent(user: TelegramUser) -> None:
    await user.say("/start")
    await user.press("Tiếng Việt")
    await user.press("Tôi đồng ý")
    assert "DANH MỤC CHÍNH" in user.text


# --- item 2: long polling stores before the offset moves -----------------------------------


async def test_a_polled_update_is_stored_before_the_next_poll_confirms_it(
    app: App, world: World, fake: FakeTelegram
) -> None:
    """getUpdates with `offset` confirms every update below it: Telegram never sends them
    again. Each of them must be in the database by then, or a crash right after loses it."""
    app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(app, fake)
    unsafe: list[str] = []

    async def check(
        make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
    ) -> Any:
        if isinstance(method, GetUpdates) and method.offset:
            stored = await stored_ids(app)
            unsafe.extend(str(u) for u in range(1, method.offset) if str(u) not in stored)
        return await make_request(bot, method)

    telegram.bot.session.middleware(check)
    task = asyncio.create_task(telegram.run_polling())
    try:
        user = TelegramUser(telegram, fake, 901)
        await consent(user)
        await user.say("/menu")
        await fake.wait_until(lambda: len(fake.calls_of("getUpdates")) >= 6)
    finally:
        await telegram.stop()
        await asyncio.wait_for(task, timeout=10)
    assert unsafe == []
    assert all(row.handled_at is not None for row in (await stored_ids(app)).values())


async def test_polling_resumes_updates_stored_but_not_handled(
    app: App, world: World, fake: FakeTelegram
) -> None:
    # The previous process stored the update, let the next poll confirm it, and died.
    update = fake.message_update(902, "/start")
    async with app.sessions() as db, db.begin():
        await inbound.store(db, "telegram", str(update["update_id"]), update, app.clock.now())
    app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(app, fake)
    task = asyncio.create_task(telegram.run_polling())
    try:
        await fake.wait_until(lambda: fake.sent_to(902))
        assert "Xin chào" in fake.sent_to(902)[0].text
    finally:
        await telegram.stop()
        await asyncio.wait_for(task, timeout=10)
    assert (await stored_ids(app))[str(update["update_id"])].handled_at is not None


# --- item 3: a prompt that may not have gone out is sent again ----------------------------


async def test_a_prompt_lost_between_commit_and_send_is_sent_again_at_start(
    app: App, world: World, fake: FakeTelegram
) -> None:
    """The engine moved the citizen on, then the send failed for good (as when the process
    dies between the commit and the send): the next start sends that prompt, buttons and all."""
    app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(app, fake, max_retries=0)
    task = asyncio.create_task(telegram.run_polling())
    user = TelegramUser(telegram, fake, 903)
    try:
        await consent(user)
        sent = len(fake.sent_to(903))
        # The menu choice's answer never reaches the citizen: the edit of the pressed menu
        # into it fails for good (a 5xx; no retry here).
        fake.inject("editMessageText", 500)
        await user.press("Đăng ký tiếp công dân")
        assert user.last == []
    finally:
        await telegram.stop()
        await asyncio.wait_for(task, timeout=10)
    async with app.sessions() as db:
        state = await db.get(ConversationState, ("telegram", "903"))
        assert state is not None and state.flow == "register"  # the database moved them on

    edits = len(fake.calls_of("editMessageText"))
    restarted = make_telegram_bot(app, fake)
    await restarted.resume_unhandled()
    user.telegram = restarted
    # Sent again as a message of its own at the bottom of the chat, not edited into the menu
    # (which may be far up by now).
    [prompt] = fake.sent_to(903)[sent:]
    assert "điểm cầu" in prompt.text.lower() and len(fake.calls_of("editMessageText")) == edits
    # Nothing more is owed: a second start sends nothing again.
    await make_telegram_bot(app, fake).resume_unhandled()
    assert len(fake.sent_to(903)) == sent + 1
    async with app.sessions() as db:
        assert await inbound.replies_owed(db, "telegram") == []
    await restarted.stop()


async def test_the_prompt_sent_again_keeps_its_buttons_working(
    app: App, world: World, fake: FakeTelegram
) -> None:
    app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(app, fake, max_retries=0)
    task = asyncio.create_task(telegram.run_polling())
    user = TelegramUser(telegram, fake, 904)
    await consent(user)
    fake.inject("sendMessage", 500)  # the privacy notice, asked again by /start, is lost
    await user.say("/start")
    sent = len(fake.sent_to(904))
    await telegram.stop()
    await asyncio.wait_for(task, timeout=10)

    restarted = make_telegram_bot(app, fake)
    task = asyncio.create_task(restarted.run_polling())
    user.telegram = restarted
    try:
        await fake.wait_until(lambda: len(fake.sent_to(904)) > sent)
        user.catch_up()
        await user.press("Tôi đồng ý")  # a button of the prompt sent again: same turn, accepted
        assert "DANH MỤC CHÍNH" in user.text
    finally:
        await restarted.stop()
        await asyncio.wait_for(task, timeout=10)


async def test_replies_that_went_out_are_not_sent_again(app: App, world: World, fake: FakeTelegram) -> None:
    app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(app, fake)
    task = asyncio.create_task(telegram.run_polling())
    user = TelegramUser(telegram, fake, 905)
    await consent(user)
    await telegram.stop()
    await asyncio.wait_for(task, timeout=10)
    sent = len(fake.sent_to(905))
    restarted = make_telegram_bot(app, fake)
    assert await restarted.resume_unhandled() == 0
    await restarted.stop()
    assert len(fake.sent_to(905)) == sent


# --- item 9: Zalo events the engine fails on, and unsigned OA bodies -----------------------


def failing_dialog(app: App) -> Dialog:
    """The real engine with one more flow whose step raises: an unexpected failure."""
    boom = Flow("boom", first="fail", needs_consent=False)

    @boom.ask("fail")
    async def ask(ctx: Ctx) -> Reply:
        return Reply("boom prompt")

    @boom.handle("fail")
    async def handle(ctx: Ctx, answer: Answer) -> Next:
        raise RuntimeError("a bug")

    return Dialog(app.sessions, app.settings, app.clock, all_flows() | {"boom": boom})


async def put_at_the_failing_step(app: App, key: UserKey) -> None:
    async with app.sessions() as db, db.begin():
        state = await db.get(ConversationState, (key.channel, key.user_id))
        assert state is not None
        state.flow, state.step, state.data = "boom", "fail", {}


async def test_a_zalo_oa_event_the_engine_fails_on_is_apologised_for_once(
    app: App, world: World, clock: Any
) -> None:
    fake = FakeZalo(clock=clock.now)
    await fake.start()
    try:
        async with serving(app, fake) as served:
            app.dialog = failing_dialog(app)
            assert await served.post(fake.event("follow", "u-boom")) == 200
            await put_at_the_failing_step(app, UserKey("zalo", "u-boom"))
            assert await served.post(fake.text_event("u-boom", "anything")) == 200
            assert "hệ thống gặp sự cố" in fake.sent_to("u-boom")[-1].text
            async with app.sessions() as db:
                assert await inbound.unhandled(db, "zalo") == []  # not replayed at the next start
            sent = len(fake.sent_to("u-boom"))
            assert await served.zalo.start() == 0
            assert len(fake.sent_to("u-boom")) == sent  # no second apology
    finally:
        await fake.stop()


async def test_a_zalo_bot_event_the_engine_fails_on_is_apologised_for_once(app: App, world: World) -> None:
    fake = FakeZaloBot()
    await fake.start()
    finished = Finished()
    api = ZaloBotApi(ZALO_BOT_TOKEN, fake.base_url, retry_base_delay=0.01)
    runner = ZaloBotRunner(app, api=api, backoff=FAST, on_finished=finished)
    app.dialog = failing_dialog(app)
    try:
        start = text_update("u-boom", "/start")
        await runner.accept(start)
        await finished.wait(start)
        await put_at_the_failing_step(app, UserKey(ZALO_BOT, "u-boom"))
        failing = text_update("u-boom", "anything")
        await runner.accept(failing)
        await finished.wait(failing)
        assert "hệ thống gặp sự cố" in fake.sent_to("u-boom")[-1].text
        async with app.sessions() as db:
            assert await inbound.unhandled(db, ZALO_BOT) == []
        assert (await stored_ids(app, ZALO_BOT))[event_id_of(failing)].handled_at is not None
        assert await runner.resume_unhandled() == 0
    finally:
        await runner.stop()
        await fake.stop()


async def test_an_unsigned_body_is_refused_before_it_is_parsed(
    app: App, world: World, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """60 KB of nested brackets would blow the JSON parser's recursion: without a valid
    signature it is never parsed, a clean 401, no traceback."""
    fake = FakeZalo(clock=clock.now)
    await fake.start()
    nested = b"[" * 60_000
    try:
        async with serving(app, fake) as served, aiohttp.ClientSession() as http:
            caplog.set_level(logging.INFO)
            for headers in ({}, {"X-ZEvent-Signature": "mac=" + "0" * 64}):
                async with http.post(served.url, data=nested, headers=headers) as response:
                    assert response.status == 401
            # Signed by Zalo itself (it never would): still a clean 400, not a 500.
            signed = {"X-ZEvent-Signature": fake.sign(b'{"timestamp": "1", "x": ' + nested, "1")}
            async with http.post(served.url, data=b'{"timestamp": "1", "x": ' + nested, headers=signed) as r:
                assert r.status == 400
            # A real event still gets in.
            assert await served.post(fake.event("follow", "u-ok")) == 200
            assert "Xin chào" in fake.sent_to("u-ok")[0].text
    finally:
        await fake.stop()
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert json.dumps(nested.decode()[:20]) not in caplog.text
