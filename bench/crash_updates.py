"""Benchmark: `kill -9` during citizens' traffic, in long polling and in webhook mode.

`tiepdan run` runs as a real subprocess against the fake Bot API of the test suite (served
here, so it outlives the bot). Simulated citizens type as people do: `/start`, the language,
their consent, then `/menu` again and again, each waiting for the answer to the last (up
to PATIENCE, longer than a restart takes). Meanwhile the bot is killed with SIGKILL and
started again, `--kills` times, at random moments; then it runs to the end of the traffic
and is stopped with SIGTERM. Printed:

- **updates lost**: updates Telegram delivered (a poll returned them, or a webhook answered
  200) that were never handled;
- **updates handled twice**: every update here ends at a prompt with buttons, so the
  conversation's turn counter goes up once per handling; more turns than handled updates
  means some update was handled twice;
- **prompts lost**: updates handled to which the citizen got no answer while they waited,
  and citizens whose last buttons are not those of the turn the database has them at.

    python -m bench.crash_updates [--kills 20] [--citizens 10] [--mode polling|webhook|both]
                                  [--database-url postgresql+asyncpg://…/bench]  (emptied!)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select

from bench.common import fresh_database
from bot.channels.telegram.runner import SECRET_HEADER, WEBHOOK_PATH
from bot.dialog.engine import STATE_TURN, decode_option
from storage.db import create_engine, is_sqlite, session_factory
from storage.models import ConversationState, InboundUpdate
from tests.fakes.local_http import free_port
from tests.fakes.telegram_api import TOKEN, FakeTelegram

SECRET = "bench-webhook-secret-0123456789abcdef"
CONSENT = ["/start", "Tiếng Việt", "Tôi đồng ý"]
FIRST_USER = 700_000
PATIENCE = 30.0  # seconds a citizen waits for an answer: more than a restart takes here
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Figures:
    mode: str
    database: str
    kills: int
    updates: int = 0
    lost: int = 0
    twice: int = 0
    prompts_lost: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.database:<10} {self.mode:<8} {self.kills:>3} kills  {self.updates:>5} updates  "
            f"lost {self.lost}  handled twice {self.twice}  prompts lost {self.prompts_lost}  "
            f"({self.seconds:.0f} s)"
        )

    @property
    def clean(self) -> bool:
        return self.lost == self.twice == self.prompts_lost == 0


class Bot:
    """`tiepdan run` in a subprocess, killed and started again."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env, self.workdir = env, workdir
        self.process: asyncio.subprocess.Process | None = None
        self.log = (workdir / "bot.log").open("ab")

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=self.workdir,
            env=self.env,
            stdout=self.log,
            stderr=self.log,
        )

    async def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(sig)
            await asyncio.wait_for(self.process.wait(), timeout=60)


@dataclass
class Citizen:
    user_id: int
    fake: FakeTelegram
    webhook_url: str | None
    sent: list[int] = field(default_factory=list)  # update ids delivered to the bot
    unanswered: list[int] = field(default_factory=list)  # nothing came back while they waited

    async def type(self, http: aiohttp.ClientSession, words: str, stop: asyncio.Event) -> None:
        before = len(self.fake.sent_to(self.user_id))
        if self.webhook_url is None:
            self.sent.append(self.fake.push_message(self.user_id, words)["update_id"])
        else:
            update = self.fake.message_update(self.user_id, words)
            await self._deliver(http, update)
            self.sent.append(update["update_id"])
        # A person waits for the answer (longer than a restart takes), then a moment more.
        try:
            await self.fake.wait_until(lambda: len(self.fake.sent_to(self.user_id)) > before, within=PATIENCE)
        except AssertionError:  # timed out: they type on
            self.unanswered.append(self.sent[-1])
        await asyncio.sleep(random.uniform(0.05, 0.3))

    async def _deliver(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        """As Telegram does: again until the bot answers 200 (it may be dead meanwhile)."""
        assert self.webhook_url is not None
        while True:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.post(
                    self.webhook_url,
                    json=update,
                    headers={SECRET_HEADER: SECRET},
                    timeout=aiohttp.ClientTimeout(10),
                ) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)

    async def talk(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        for words in CONSENT:
            await self.type(http, words, stop)
        while not stop.is_set():
            await self.type(http, "/menu", stop)

    def last_turn(self) -> int | None:
        """The turn of the last buttons this citizen received."""
        for message in reversed(self.fake.sent_to(self.user_id)):
            markup = message.reply_markup or {}
            for row in markup.get("inline_keyboard", []):
                decoded = decode_option(row[0].get("callback_data", ""))
                if decoded is not None:
                    return decoded[0]
        return None


async def wait_ready(fake: FakeTelegram, mode: str, calls_before: int, within: float = 60) -> None:
    """Until the new process polls, or has registered its webhook."""
    method = "getUpdates" if mode == "polling" else "setWebhook"
    deadline = time.monotonic() + within
    while len(fake.calls_of(method)) <= calls_before:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bot did not start ({method} never called)")
        await asyncio.sleep(0.05)


async def run(database_url: str | None, mode: str, kills: int, citizens: int, workdir: Path) -> Figures:
    url = database_url or f"sqlite+aiosqlite:///{workdir}/{mode}.db"
    await fresh_database(url)
    fake = FakeTelegram()
    await fake.start()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "TELEGRAM_POLLING_TIMEOUT": "1",
        "TELEGRAM_MAX_RETRIES": "3",
        "LOG_LEVEL": "WARNING",
    }
    webhook_url = None
    if mode == "webhook":
        webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        env |= {
            "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(port),
        }
    figures = Figures(mode, "SQLite" if is_sqlite(url) else "PostgreSQL", kills)
    bot = Bot(env, workdir)
    stop = asyncio.Event()
    people = [Citizen(FIRST_USER + n, fake, webhook_url) for n in range(citizens)]
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession() as http:
            method = "getUpdates" if mode == "polling" else "setWebhook"
            await bot.start()
            await wait_ready(fake, mode, 0)
            talking = [asyncio.create_task(person.talk(http, stop)) for person in people]
            for _ in range(kills):
                await asyncio.sleep(random.uniform(0.3, 1.5))  # traffic, then a crash at any point
                await bot.kill()
                if mode == "webhook":
                    fake.webhook.clear()  # as if Telegram had not noticed: set again at start
                calls = len(fake.calls_of(method))
                await bot.start()
                await wait_ready(fake, mode, calls)
            await asyncio.sleep(2)
            stop.set()
            await asyncio.gather(*talking)
            await asyncio.sleep(3)  # the last answers
            await bot.kill(signal.SIGTERM)
    finally:
        await bot.kill()
        await fake.stop()
    figures.seconds = time.monotonic() - started
    await count(url, people, figures)
    return figures


async def count(url: str, people: list[Citizen], figures: Figures) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            rows = await db.execute(select(InboundUpdate.update_id, InboundUpdate.handled_at))
            handled = {int(update_id) for update_id, at in rows if at is not None}
            states = {
                state.user_id: state
                for state in await db.scalars(
                    select(ConversationState).where(ConversationState.channel == "telegram")
                )
            }
    finally:
        await engine.dispose()
    for person in people:
        figures.updates += len(person.sent)
        mine = set(person.sent)
        figures.lost += len(mine - handled)
        state = states.get(str(person.user_id))
        turn = int((state.data or {}).get(STATE_TURN, 0)) if state is not None else 0
        figures.twice += max(0, turn - len(mine & handled))
        # Handled, yet no answer came while they waited: its prompt was lost. And the last
        # buttons they hold must be those of the turn the database has them at.
        lost_prompts = len(set(person.unanswered) & handled)
        answered_last = not person.sent or person.sent[-1] not in person.unanswered
        if answered_last and turn and person.last_turn() != turn:
            lost_prompts += 1
        figures.prompts_lost += lost_prompts


async def main(kills: int, citizens: int, modes: list[str], database_url: str | None) -> list[Figures]:
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for mode in modes:
            figures = await run(database_url, mode, kills, citizens, Path(workdir))
            print(figures.line(), flush=True)
            results.append(figures)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--citizens", type=int, default=10)
    parser.add_argument("--mode", choices=["polling", "webhook", "both"], default="both")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL database to EMPTY (default: SQLite)"
    )
    args = parser.parse_args()
    modes = ["polling", "webhook"] if args.mode == "both" else [args.mode]
    results = asyncio.run(main(args.kills, args.citizens, modes, args.database_url))
    sys.exit(0 if all(figures.clean for figures in results) else 1)
