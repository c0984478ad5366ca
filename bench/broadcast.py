"""Benchmark: a broadcast through the outbox vs a plain sequential send loop.

The fake Bot API runs in its own process, allows 300 messages a second (Telegram's ~30,
scaled by ten) and answers each request after 50 ms, like a real round trip. The outbox
paces itself just under the limit and sends concurrently; the baseline sends one message
after another, the way simple broadcast helpers do. Reported: the achieved rate as a
fraction of the limit (target >= 0.95), the 429s received, duplicates (must be 0), and the
ratio of the two rates.

    python -m bench.broadcast [--recipients 20000] [--baseline 300]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import insert

from bot.app import build_app, freeze_startup_objects
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.runner import make_bot
from bot.notify import Outbox
from bot.settings import Settings
from storage import broadcasts, migrate
from storage.identity import UserKey
from storage.models import Citizen
from storage.staff import Actor
from tests.fakes.telegram_api import TOKEN

LIMIT = 300.0
DELAY = 0.05


async def start_fake() -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--port",
        "0",
        "--per-second-limit",
        str(LIMIT),
        "--delay",
        str(DELAY),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
    return process, f"http://127.0.0.1:{line.split()[1]}"


async def stats(base_url: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/control/stats") as response:
        result: dict[str, object] = await response.json()
        return result


async def outbox_run(base_url: str, recipients: int) -> tuple[float, float]:
    """Seconds to create the broadcast, seconds to send it."""
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        await migrate.upgrade(url)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=url,
            outbox_rate_per_second=LIMIT * 0.97,
            outbox_chat_interval_seconds=1.0,
        )
        app = build_app(settings)
        started = time.perf_counter()
        async with app.sessions() as db, db.begin():
            await db.execute(
                insert(Citizen),
                [
                    {
                        "channel": "telegram",
                        "channel_user_id": str(100_000 + n),
                        "created_at": now,
                        "consent_version": settings.consent_version,
                        "consent_at": now,
                        "unreachable": False,
                    }
                    for n in range(recipients)
                ],
            )
            actor = Actor(key=UserKey("bench", "admin"), role=None)
            await broadcasts.start(
                db, audience="all", target_id=None, text="Thông báo thử.", actor=actor, now=now
            )
        created = time.perf_counter() - started
        bot = make_bot(TOKEN, base_url, max_retries=5, wait_out_rate_limits=False)  # as the outbox's
        channel = TelegramChannel(bot, app.sessions, app.clock)
        outbox = Outbox(app.sessions, settings, app.clock, {"telegram": channel})
        freeze_startup_objects()  # as `tiepdan run` does before serving
        started = time.perf_counter()
        await outbox.drain()
        sending = time.perf_counter() - started
        await bot.session.close()
        await app.close()
        return created, sending


async def sequential_run(base_url: str, messages: int) -> float:
    bot = make_bot(TOKEN, base_url, max_retries=5)
    started = time.perf_counter()
    for n in range(messages):
        await bot.send_message(900_000 + n, "Thông báo thử.")
    seconds = time.perf_counter() - started
    await bot.session.close()
    return seconds


async def main(recipients: int, baseline: int) -> None:
    fake, base_url = await start_fake()
    try:
        created, sending = await outbox_run(base_url, recipients)
        outbox_stats = await stats(base_url)
        sequential = await sequential_run(base_url, baseline)
    finally:
        fake.terminate()
        await fake.wait()
    rate = recipients / sending
    sequential_rate = baseline / sequential
    statuses = outbox_stats["statuses"]
    assert isinstance(statuses, dict)
    print(f"fake Bot API: limit {LIMIT:.0f} messages/s, {DELAY * 1000:.0f} ms per request, own process")
    print(
        f"outbox broadcast: {recipients} recipients (queued in {created:.1f} s), sent in {sending:.1f} s: "
        f"{rate:.0f} messages/s = {rate / LIMIT:.2f} of the limit (target >= 0.95)"
    )
    print(
        f"  429s received: {statuses.get('429', 0)}; duplicates: {outbox_stats['duplicates']}; "
        f"chats reached: {outbox_stats['chats']}"
    )
    print(f"sequential loop: {baseline} messages in {sequential:.1f} s: {sequential_rate:.1f} messages/s")
    print(f"ratio (outbox / sequential): {rate / sequential_rate:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=300, help="messages for the sequential loop")
    args = parser.parse_args()
    asyncio.run(main(args.recipients, args.baseline))
