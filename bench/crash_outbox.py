"""Benchmark: a 2,000-recipient broadcast while `tiepdan run` is killed again and again.

The bot runs as a real `tiepdan run` subprocess (Telegram long polling) against the fake Bot
API of the test suite, served by this process with a per-second limit (so it can answer
429) and a round-trip delay. The broadcast is queued in the database first. Each time the
bot has delivered its share of the broadcast it is killed with SIGKILL (the database is then
read for what it left claimed: the notices in flight at that moment) and started again; after
the last kill it runs until every recipient has the notice. A second run stops it with
SIGTERM instead, as systemd does.

Printed, per engine: notices lost (recipients who never got it), notices duplicated
(messages beyond one per recipient) against what was in flight at the kills, and the delay
of the last notice after the final restart, in outbox ticks (target: within two).

    python -m bench.crash_outbox [--recipients 2000] [--kills 20] [--rate 50]
        [--database-url postgresql+asyncpg://…]   (that database is emptied first)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select, text

from storage import broadcasts, migrate
from storage.db import create_engine, session_factory
from storage.identity import UserKey
from storage.models import Citizen, Notification
from storage.staff import Actor
from tests.fakes.telegram_api import TOKEN, FakeTelegram

TICK_S = 5.0  # OUTBOX_INTERVAL_SECONDS, the default
ROUND_TRIP_S = 0.05
FIRST_CHAT = 100_000
SPREAD = 0.95  # the kills fall within this share of the broadcast: the last one near its end
FINAL_WITHIN_S = 300.0


@dataclass
class Run:
    """What one run (kills or stops) saw."""

    signal_name: str
    recipients: int
    in_flight: list[int] = field(default_factory=list)  # claimed, unrecorded, at each kill
    delivered_in_flight: list[int] = field(default_factory=list)  # of those, already delivered
    backlog_at_final: int = 0  # recipients still waiting when the final process started
    started_to_ready: float = 0.0  # the final process: start to its first Bot API call (up)
    started_to_first: float = 0.0  # the final process: start to its first notice
    final_delay: float = 0.0  # the final process: start to the last recipient's first notice
    lost: int = 0
    duplicated: int = 0
    statuses: Counter[int] = field(default_factory=Counter)


async def prepare(database_url: str, recipients: int) -> None:
    """An empty database with `recipients` consented Telegram citizens and a broadcast to all."""
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await migrate.upgrade(database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with sessions() as db, db.begin():
        await db.execute(
            insert(Citizen),
            [
                {
                    "channel": "telegram",
                    "channel_user_id": str(FIRST_CHAT + n),
                    "created_at": now,
                    "consent_version": "bench",
                    "consent_at": now,
                    "unreachable": False,
                }
                for n in range(recipients)
            ],
        )
        actor = Actor(key=UserKey("bench", "admin"), role=None)  # not served: no report is sent
        await broadcasts.start(
            db, audience="all", target_id=None, text="Thông báo thử khi máy chủ bị tắt.", actor=actor, now=now
        )
    await engine.dispose()


async def claimed_unrecorded(database_url: str) -> list[int]:
    """The chats of the broadcast notices a dead process left "sending": what it had in flight
    (claimed, no result recorded) when it died."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            chats = await connection.scalars(
                select(Citizen.channel_user_id)
                .join(Notification, Notification.citizen_id == Citizen.id)
                .where(Notification.kind == "broadcast", Notification.state == "sending")
            )
            return [int(chat) for chat in chats]
    finally:
        await engine.dispose()


def delivered(fake: FakeTelegram) -> Counter[int]:
    """Broadcast messages per recipient chat."""
    return Counter(message.chat_id for message in fake.messages if message.chat_id >= FIRST_CHAT)


def first_arrivals(fake: FakeTelegram) -> dict[int, float]:
    """When each recipient's first message arrived (monotonic)."""
    first: dict[int, float] = {}
    for call in fake.calls_of("sendMessage"):
        chat = int(call.params.get("chat_id", 0))
        if call.status == 200 and chat >= FIRST_CHAT:
            first.setdefault(chat, call.at)
    return first


async def start_bot(
    database_url: str, base_url: str, rate: float, workdir: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": base_url,
        "OUTBOX_RATE_PER_SECOND": str(rate),
        "OUTBOX_INTERVAL_SECONDS": str(TICK_S),
        "LOG_LEVEL": "WARNING",
    }
    tiepdan = Path(sys.executable).with_name("tiepdan")
    log = (workdir / "tiepdan.log").open("ab")
    return await asyncio.create_subprocess_exec(
        str(tiepdan), "run", cwd=workdir, env=env, stdout=log, stderr=log
    )  # cwd: no .env of the developer is read


async def wait_for_count(fake: FakeTelegram, at_least: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while len(delivered(fake)) < at_least:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def crash_run(
    database_url: str, recipients: int, kills: int, rate: float, how: signal.Signals, workdir: Path
) -> Run:
    await prepare(database_url, recipients)
    fake = FakeTelegram(per_second_limit=rate * 1.2, delay=ROUND_TRIP_S)
    base_url = await fake.start()
    run = Run(how.name, recipients)
    try:
        step = recipients * SPREAD / kills
        for number in range(1, kills + 1):
            bot = await start_bot(database_url, base_url, rate, workdir)
            if not await wait_for_count(fake, int(step * number), within=FINAL_WITHIN_S):
                bot.kill()
                await bot.wait()
                raise RuntimeError(f"no progress before stop {number}: see {workdir}/tiepdan.log")
            bot.send_signal(how)
            await bot.wait()
            await asyncio.sleep(4 * ROUND_TRIP_S)  # requests already on the wire reach the fake
            in_flight = await claimed_unrecorded(database_url)
            reached = delivered(fake)
            run.in_flight.append(len(in_flight))
            run.delivered_in_flight.append(sum(1 for chat in in_flight if reached[chat]))
        run.backlog_at_final = recipients - len(delivered(fake))
        restarted = time.monotonic()
        bot = await start_bot(database_url, base_url, rate, workdir)
        try:
            await wait_for_count(fake, recipients, within=FINAL_WITHIN_S)
            await asyncio.sleep(2 * TICK_S)  # a late duplicate would show by now
        finally:
            bot.send_signal(signal.SIGTERM)
            await bot.wait()
        calls = [call.at for call in fake.calls if call.at >= restarted]
        run.started_to_ready = min(calls, default=restarted) - restarted
        arrivals = [at for at in first_arrivals(fake).values() if at >= restarted]
        if arrivals:
            run.started_to_first = min(arrivals) - restarted
            run.final_delay = max(arrivals) - restarted
        counts = delivered(fake)
        run.lost = recipients - len(counts)
        run.duplicated = sum(n - 1 for n in counts.values())
        run.statuses = Counter(call.status for call in fake.calls_of("sendMessage"))
    finally:
        await fake.stop()
    return run


def report(engine: str, run: Run, rate: float) -> None:
    bound = sum(run.in_flight)
    sending_s = run.backlog_at_final / rate
    print(
        f"{engine}, {len(run.in_flight)} × {run.signal_name} during a {run.recipients}-recipient broadcast:"
    )
    moments = "kills" if run.signal_name == "SIGKILL" else "stops"
    print(
        f"  notices lost: {run.lost}; duplicated: {run.duplicated} "
        f"(in flight at the {moments}: {bound}, at most {max(run.in_flight, default=0)} at one; "
        f"of those already delivered, the answer not yet recorded: {sum(run.delivered_in_flight)}, "
        f"at most {max(run.delivered_in_flight, default=0)} at one)"
    )
    serving = run.final_delay - run.started_to_ready
    print(
        f"  final restart: up after {run.started_to_ready:.1f} s (start-up, migrations), first notice "
        f"after {run.started_to_first:.1f} s, last after {run.final_delay:.1f} s: "
        f"{serving:.1f} s = {serving / TICK_S:.1f} ticks of {TICK_S:.0f} s once up "
        f"(backlog {run.backlog_at_final}: {sending_s:.1f} s of sending at {rate:.0f}/s)"
    )
    print(f"  Bot API answers: {dict(sorted(run.statuses.items()))}")


async def main(recipients: int, kills: int, rate: float, database_url: str | None) -> None:
    print(
        f"fake Bot API in the driver process: limit {rate * 1.2:.0f} messages/s, "
        f"{ROUND_TRIP_S * 1000:.0f} ms per request; OUTBOX_RATE_PER_SECOND={rate:.0f}, "
        f"OUTBOX_INTERVAL_SECONDS={TICK_S:.0f}"
    )
    for how in (signal.SIGKILL, signal.SIGTERM):
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            url = database_url or f"sqlite+aiosqlite:///{workdir}/crash.db"
            engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
            try:
                run = await crash_run(url, recipients, kills, rate, how, workdir)
            except RuntimeError:
                print((workdir / "tiepdan.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
                raise
            report(engine, run, rate)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.recipients, args.kills, args.rate, args.database_url))
