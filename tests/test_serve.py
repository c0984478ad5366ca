"""`tiepdan run` with every messenger configured: one process, one web server for the webhooks."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from bot.app import App
from bot.serve import serve
from tests.conftest import World
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import TOKEN as ZALO_BOT_TOKEN
from tests.fakes.zalo_bot_api import FakeZaloBot, text_update
from tests.fakes.zalo_oa import FakeZalo
from tests.test_zalo_oa import point_at

TELEGRAM_SECRET = "telegram-webhook-secret-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_telegram_and_both_zalo_channels_in_one_process(app: App, world: World) -> None:
    telegram, zalo_bot, zalo_oa = FakeTelegram(), FakeZaloBot(), FakeZalo(clock=app.clock.now)
    for fake in (telegram, zalo_bot, zalo_oa):
        await fake.start()
    settings = app.settings
    settings.web_host, settings.web_port = "127.0.0.1", free_port()
    web = f"http://127.0.0.1:{settings.web_port}"
    settings.telegram_bot_token, settings.telegram_api_base = TELEGRAM_TOKEN, telegram.base_url
    settings.telegram_webhook_url, settings.telegram_webhook_secret = (
        "https://bot.example.gov.vn",
        TELEGRAM_SECRET,
    )
    settings.zalo_bot_token, settings.zalo_bot_api_base = ZALO_BOT_TOKEN, zalo_bot.base_url
    settings.zalo_bot_polling_timeout = 1
    point_at(settings, zalo_oa)
    assert settings.messengers == ["telegram", "zalo_bot", "zalo"]
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, stop))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # until the server listens
                try:
                    async with http.get(f"{web}/healthz") as health:
                        assert health.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            # Telegram by webhook: the route of the shared server, registered with the secret.
            (registered,) = telegram.calls_of("setWebhook")
            assert registered.params["url"] == "https://bot.example.gov.vn/telegram/webhook"
            update = telegram.message_update(901, "/start")
            headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
            async with http.post(f"{web}/telegram/webhook", json=update, headers=headers) as answer:
                assert answer.status == 200
            # Zalo OA by its signed webhook on the same server.
            assert await zalo_oa.post(f"{web}/zalo/oa/webhook", zalo_oa.event("follow", "u-9001")) == 200
        # Zalo Bot API by polling.
        zalo_bot.push(text_update("z-9001", "/start"))
        await telegram.wait_until(lambda: telegram.sent_to(901), within=15)
        await zalo_bot.wait_until(lambda: zalo_bot.sent_to("z-9001"), within=15)
        for _ in range(100):
            if zalo_oa.sent_to("u-9001"):
                break
            await asyncio.sleep(0.05)
        assert "Xin chào" in telegram.sent_to(901)[0].text
        assert "Xin chào" in zalo_bot.sent_to("z-9001")[0].text
        assert "Xin chào" in zalo_oa.sent_to("u-9001")[0].text
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, timeout=30) == 0
        for fake in (telegram, zalo_bot, zalo_oa):
            await fake.stop()
    assert telegram.violations == [] and zalo_oa.violations == []
