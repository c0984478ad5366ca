"""`tiepdan run` with every messenger configured: one process, one web server for the webhooks."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot import cli
from bot.app import App, build_app
from bot.serve import Health, serve
from tests.conftest import World, make_settings
from tests.fakes.local_http import free_port, serve_locally
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import TOKEN as ZALO_BOT_TOKEN
from tests.fakes.zalo_bot_api import FakeZaloBot, text_update
from tests.fakes.zalo_oa import FakeZalo
from tests.test_zalo_oa import point_at

TELEGRAM_SECRET = "telegram-webhook-secret-0123456789"


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
            for _ in range(200):  # until the server listens, with every messenger served
                try:
                    async with http.get(f"{web}/healthz") as health:
                        if health.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("/healthz never said the bot is ready")
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


async def get_health(url: str, within: float = 10.0) -> tuple[int, dict[str, object]]:
    """GET /healthz once the server listens."""
    async with aiohttp.ClientSession() as http:
        for _ in range(int(within / 0.05)):
            try:
                async with http.get(f"{url}/healthz") as answer:
                    return answer.status, await answer.json()
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    raise AssertionError(f"nothing listens on {url}")


async def test_healthz_in_polling_mode(app: App, world: World) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    settings = app.settings
    settings.web_host, settings.web_port = "127.0.0.1", free_port()
    settings.telegram_bot_token, settings.telegram_api_base = TELEGRAM_TOKEN, telegram.base_url
    settings.telegram_polling_timeout = 1
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, stop))
    try:
        await telegram.wait_until(lambda: telegram.calls_of("getUpdates"), within=15)
        assert await get_health(f"http://127.0.0.1:{settings.web_port}") == (
            200,
            {"ok": True, "ready": True, "database": "reachable"},
        )
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, timeout=30) == 0
        await telegram.stop()


async def test_healthz_is_ready_only_once_the_webhook_is_registered(app: App, world: World) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    telegram.inject("setWebhook", 502, times=3)  # Telegram answers the registration late
    settings = app.settings
    settings.web_host, settings.web_port = "127.0.0.1", free_port()
    settings.telegram_bot_token, settings.telegram_api_base = TELEGRAM_TOKEN, telegram.base_url
    settings.telegram_webhook_url, settings.telegram_webhook_secret = (
        "https://bot.example.gov.vn",
        TELEGRAM_SECRET,
    )
    web = f"http://127.0.0.1:{settings.web_port}"
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, stop))
    try:
        status, body = await get_health(web)
        assert not [call for call in telegram.calls_of("setWebhook") if call.status == 200]
        assert (status, body) == (503, {"ok": False, "ready": False, "database": "reachable"})
        await telegram.wait_until(lambda: any(c.status == 200 for c in telegram.calls_of("setWebhook")))
        for _ in range(100):  # the registration's answer reaches serve a moment later
            if (await get_health(web))[0] == 200:
                break
            await asyncio.sleep(0.05)
        assert await get_health(web) == (200, {"ok": True, "ready": True, "database": "reachable"})
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, timeout=30) == 0
        await telegram.stop()


async def test_healthz_says_when_the_database_does_not_answer() -> None:
    unreachable = build_app(make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/tiepdan"))
    health = Health(unreachable)
    health.ready = True
    application = web.Application()
    application.router.add_get("/healthz", health.answer)
    runner, url = await serve_locally(application)
    try:
        assert await get_health(url) == (503, {"ok": False, "ready": True, "database": "unreachable"})
    finally:
        await runner.cleanup()
        await unreachable.close()


def test_a_busy_web_port_is_reported_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not as "the database of DATABASE_URL cannot be used"."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/busy.db",
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_BASE": "http://127.0.0.1:1",  # never called: the port is checked first
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.gov.vn",
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "WEB_HOST": "127.0.0.1",
    }.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("WEB_PORT", str(port))
        assert cli.main(["run"]) == 1
    told = capsys.readouterr().err
    assert f"WEB_HOST:WEB_PORT 127.0.0.1:{port} is in use by another program" in told
    assert "DATABASE_URL" not in told and "Traceback" not in told
    assert not (tmp_path / "busy.db").exists()  # told before the database was migrated or seeded
