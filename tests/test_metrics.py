"""`GET /metrics`: scraped over HTTP from a running `serve`, counters that moved with the work."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.scrape import MetricsPage
from bot.serve import serve
from storage import citizens
from storage.identity import UserKey
from storage.outbox import NoticeKind, StaffRevoked, queue
from tests.conftest import World, make_settings
from tests.fakes.local_http import free_port
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.fakes.zalo_oa import FakeZalo
from tests.support import counted
from tests.test_zalo_oa import serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(exposition: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(url: str) -> tuple[str, Samples]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as answer:
        assert answer.status == 200
        return answer.headers["Content-Type"], parse(await answer.text())


async def scrape_until(url: str, ready: Callable[[Samples], bool], within: float = 20.0) -> Samples:
    """Scrape (once the server listens) until `ready` holds for what it shows."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    samples: Samples = {}
    while loop.time() < deadline:
        try:
            _, samples = await scrape(url)
        except aiohttp.ClientConnectionError:
            samples = {}
        if samples and ready(samples):
            return samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"/metrics never showed what was expected: {sorted(samples)[:40]}")


async def test_metrics_scraped_from_a_serving_bot_show_what_it_did(app: App, world: World) -> None:
    telegram = FakeTelegram()
    await telegram.start()
    settings = app.settings
    settings.web_host, settings.web_port = "127.0.0.1", free_port()
    settings.telegram_bot_token, settings.telegram_api_base = TOKEN, telegram.base_url
    settings.telegram_polling_timeout = 1  # polling: /metrics is served all the same
    url = f"http://127.0.0.1:{settings.web_port}"
    now = app.clock.now()
    async with app.sessions() as db, db.begin():
        member = await citizens.get_or_create(db, UserKey("telegram", "901"), now=now)
        await queue(db, NoticeKind.STAFF_REVOKED, citizen_id=member.id, params=StaffRevoked(), now=now)
        # For a channel this process does not serve: due an hour ago, and waiting.
        waiting = await citizens.get_or_create(db, UserKey("zalo", "z-1"), now=now)
        await queue(
            db,
            NoticeKind.STAFF_REVOKED,
            citizen_id=waiting.id,
            params=StaffRevoked(),
            now=now - timedelta(hours=1),
        )
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, stop))
    try:
        await telegram.wait_until(lambda: telegram.sent_to(901), within=15)  # the notice went out
        telegram.inject("sendMessage", 429, retry_after=1)  # the reply waits a second, then goes
        update = telegram.push_message(901, "/start")
        await telegram.wait_until(lambda: len(telegram.sent_to(901)) > 1, within=15)
        telegram.redeliver(update)  # as Telegram may: stored before, not handled again

        def moved(samples: Samples) -> bool:
            return value(samples, "tiepdan_updates_total", channel="telegram", outcome="duplicate") == 1

        samples = await scrape_until(url, moved)
        content_type, _ = await scrape(url)
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, timeout=30) == 0
        await telegram.stop()
    assert content_type.startswith("text/plain")
    assert value(samples, "tiepdan_updates_total", channel="telegram", outcome="handled") == 1
    assert value(samples, "tiepdan_updates_total", channel="telegram", outcome="failed") == 0  # shown
    # The reply waited out its 429: a second at least from the update accepted to the reply sent.
    assert value(samples, "tiepdan_update_reply_seconds_count", channel="telegram") == 1
    assert (value(samples, "tiepdan_update_reply_seconds_sum", channel="telegram") or 0) >= 1.0
    assert value(samples, "tiepdan_update_reply_seconds_bucket", channel="telegram", le="0.5") == 0
    assert value(samples, "tiepdan_update_reply_seconds_bucket", channel="telegram", le="+Inf") == 1
    assert value(samples, "tiepdan_rate_limited_total", channel="telegram") == 1
    assert value(samples, "tiepdan_notices_total", channel="telegram", result="sent") == 1
    assert value(samples, "tiepdan_outbox_backlog") == 1
    assert value(samples, "tiepdan_outbox_oldest_due_seconds") == 3600  # the clock stands still
    assert value(samples, "tiepdan_scheduler_lock_held") == 1
    assert value(samples, "tiepdan_scheduler_lock_holders") == 1
    assert value(samples, "tiepdan_workers_alive") == 1
    assert value(samples, "tiepdan_database_up") == 1
    assert (value(samples, "process_resident_memory_bytes") or 0) > 0
    assert telegram.violations == []


async def test_each_app_counts_in_its_own_registry(database_url: str) -> None:
    """Not prometheus-client's global registry: two apps in one process (tests, a bench) do
    not collide, and neither counts the other's work."""
    first, second = (build_app(make_settings(database_url)) for _ in range(2))
    try:
        first.metrics.update_done("telegram", "handled", 0.2)
        assert counted(first, "tiepdan_updates_total", channel="telegram", outcome="handled") == 1
        assert counted(second, "tiepdan_updates_total", channel="telegram", outcome="handled") == 0
        assert counted(first, "tiepdan_update_reply_seconds_count", channel="telegram") == 1
    finally:
        await first.close()
        await second.close()


async def test_tiepdan_run_serves_metrics_and_json_logs(tmp_path: Path) -> None:
    """The production path: `tiepdan run` with LOG_FORMAT=json, scraped while it serves."""
    fake = FakeTelegram()
    await fake.start()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "TELEGRAM_POLLING_TIMEOUT": "1",
        "WEB_HOST": "127.0.0.1",
        "WEB_PORT": str(port := free_port()),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
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
        for user_id in (701, 702, 703):
            fake.push_message(user_id, "/start")

        def answered(samples: Samples) -> bool:
            return value(samples, "tiepdan_updates_total", channel="telegram", outcome="handled") == 3

        samples = await scrape_until(f"http://127.0.0.1:{port}", answered, within=30)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        await fake.stop()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert value(samples, "tiepdan_update_reply_seconds_count", channel="telegram") == 3
    lines = [json.loads(line) for line in stderr.decode().splitlines()]  # every line is one object
    assert lines and all(set(line) >= {"time", "level", "logger", "message", "ref"} for line in lines)
    assert any(line["logger"] == "alembic.runtime.migration" for line in lines)  # the child's too
    handled = [
        line for line in lines if line["logger"] == "aiogram.event" and "is handled" in line["message"]
    ]
    refs = {line["ref"] for line in handled}
    assert len(handled) == 3 and None not in refs and len(refs) == 3  # one reference id per update


async def test_the_zalo_oa_token_s_remaining_life_is_read_at_a_scrape(
    app: App, world: World, clock: FrozenClock
) -> None:
    page = MetricsPage(app)
    await page.read_database()
    assert math.isnan(counted(app, "tiepdan_zalo_oa_token_expires_in_seconds"))  # no Zalo OA: none
    fake = FakeZalo(clock=clock.now)
    await fake.start()
    try:
        async with serving(app, fake) as served:
            await served.user("u-5001").follow()  # the first send seeds the pair: trusted 2 hours
            clock.advance(timedelta(minutes=30))
            await page.read_database()
    finally:
        await fake.stop()
    assert counted(app, "tiepdan_zalo_oa_token_expires_in_seconds") == 90 * 60


async def test_a_scrape_shows_the_counters_when_the_database_does_not_answer() -> None:
    unreachable = build_app(make_settings("postgresql+asyncpg://nobody@127.0.0.1:1/tiepdan"))
    try:
        unreachable.metrics.update_done("telegram", "handled", 0.1)
        await MetricsPage(unreachable).read_database()
        assert counted(unreachable, "tiepdan_database_up") == 0
        assert counted(unreachable, "tiepdan_updates_total", channel="telegram", outcome="handled") == 1
    finally:
        await unreachable.close()
