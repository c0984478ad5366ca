"""Two real `tiepdan run` workers on one PostgreSQL database, with every update delivered to
both (as a load balancer retrying, or a platform delivering twice, could), against the fake
Bot API of the test suite served here. Used by tests/test_workers.py and bench/workers.py.

1. **Order and exactly once.** Citizens send `/start`, `/language`, `/help`, … one after
   another without waiting for the answers (the next as soon as one worker has stored the
   last), each posted to both workers at once. Every answer is one prompt with buttons that
   carry the conversation's turn, and the three answers differ: so the answers a citizen
   got must be turns 1, 2, 3, … of the kinds they sent, in that order. A turn counter above
   the number of updates handled means an update was handled twice.
2. **A killed worker's update resumed.** The first worker stores an update and starts on
   it, held up by a row lock this driver takes on that citizen's conversation; it is then
   killed (SIGKILL) and the lock let go. The other worker must notice it is dead (no
   heartbeat for three WORKER_HEARTBEAT_SECONDS) and answer the update: timed from the kill.

The Bot API refuses more than FAKE_LIMIT messages a second (429): the workers, each at half
of TELEGRAM_RATE_PER_SECOND, must stay under it together.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, text

from bot.channels.telegram.runner import SECRET_HEADER, WEBHOOK_PATH
from bot.dialog.engine import STATE_TURN, decode_option
from storage.db import create_engine, session_factory
from storage.models import ConversationState, InboundUpdate
from tests.fakes.local_http import free_port
from tests.fakes.telegram_api import TOKEN, FakeTelegram, SentMessage

ROOT = Path(__file__).resolve().parent.parent
SECRET = "workers-webhook-secret-0123456789abcdef"
FAKE_LIMIT = 30  # messages a second the fake Bot API takes, like Telegram
FIRST_USER = 810_000
# What a citizen sends, in turn, and words of the answer that tell which it answers (help
# is told first: it names the other two).
SAYINGS = [("/start", "Xin chào"), ("/language", "chọn ngôn ngữ"), ("/help", "HƯỚNG DẪN")]
TOLD_APART = ["/help", "/start", "/language"]
START_WITHIN_S = 90.0
ANSWERS_WITHIN_S = 60.0
RESUME_WITHIN_S = 90.0


@dataclass
class Figures:
    citizens: int
    updates: int = 0
    handled_twice: int = 0  # a conversation moved on more often than updates were handled
    answered_twice: int = 0  # answers sent again (a worker thought dead, or a crash)
    out_of_order: int = 0  # citizens whose answers came in another order than their updates
    lost: int = 0  # updates stored and never handled, or never answered
    too_many_requests: int = 0
    stored_by: dict[str, int] = field(default_factory=dict)
    started_in: float = 0.0  # both workers, started together, ready
    seconds: float = 0.0  # for the updates of part 1 to be answered
    resumed_in: float | None = None  # from the kill to the answer of the killed worker's update
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        resumed = f"{self.resumed_in:.1f} s" if self.resumed_in is not None else "never"
        stored = " / ".join(str(n) for n in self.stored_by.values())
        return (
            f"2 workers (ready in {self.started_in:.0f} s)  {self.citizens} citizens  "
            f"{self.updates} updates in {self.seconds:.1f} s (stored by {stored})  "
            f"handled twice {self.handled_twice}  answered twice {self.answered_twice}  "
            f"out of order {self.out_of_order}  lost {self.lost}  429s {self.too_many_requests}  "
            f"killed worker's update resumed in {resumed}"
        )


class Worker:
    """`tiepdan run` on a port of its own, serving the Telegram webhook."""

    def __init__(self, env: dict[str, str], workdir: Path, label: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = f"{socket.gethostname()}:{self.port}"  # as bot/workers.py names it
        self.env = env | {"WEB_PORT": str(self.port)}
        self.workdir = workdir
        self.log_path = workdir / f"worker-{label}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.workdir, env=self.env, stdout=log, stderr=log
            )

    async def ready(self, http: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + START_WITHIN_S
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.returncode is None, self.log_tail()
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/healthz") as health:
                    if health.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise AssertionError(f"worker on {self.port} not ready: {self.log_tail()}")

    async def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None or self.process.returncode is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout=60)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


async def post(http: aiohttp.ClientSession, worker: Worker, update: dict[str, Any]) -> int | None:
    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
        async with http.post(
            worker.url + WEBHOOK_PATH,
            json=update,
            headers={SECRET_HEADER: SECRET},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as answer:
            return answer.status
    return None


async def deliver(http: aiohttp.ClientSession, workers: list[Worker], update: dict[str, Any]) -> None:
    """To every worker at once, again until one of them has stored it (answered 200)."""
    while True:
        if 200 in await asyncio.gather(*(post(http, worker, update) for worker in workers)):
            return
        await asyncio.sleep(0.1)


def answers(fake: FakeTelegram, user_id: int) -> list[SentMessage]:
    return [
        message for message in fake.sent_to(user_id) if (message.reply_markup or {}).get("inline_keyboard")
    ]


def turn_of(message: SentMessage) -> int | None:
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        decoded = decode_option(row[0].get("callback_data", ""))
        if decoded is not None:
            return decoded[0]
    return None


def kind_of(message: SentMessage) -> str | None:
    words = dict(SAYINGS)
    return next((saying for saying in TOLD_APART if words[saying] in message.text), None)


async def wait_for(condition: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return bool(condition())


async def citizen(
    http: aiohttp.ClientSession, fake: FakeTelegram, workers: list[Worker], user_id: int, n: int
) -> list[str]:
    said = []
    for number in range(n):
        saying = SAYINGS[number % len(SAYINGS)][0]
        await deliver(http, workers, fake.message_update(user_id, saying))
        said.append(saying)
    return said


async def waiting_on_a_lock(url: str) -> bool:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            return bool(waiting)
    finally:
        await engine.dispose()


async def run_workers(
    database_url: str,
    workdir: Path,
    *,
    citizens: int,
    updates: int,
    heartbeat: float,
    rate: float,
) -> Figures:
    """The whole run on a migrated or empty PostgreSQL database; returns what it measured."""
    figures = Figures(citizens)
    fake = FakeTelegram(per_second_limit=FAKE_LIMIT)
    await fake.start()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "TELEGRAM_WEBHOOK_URL": "https://tiepdan.example.gov.vn",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_RATE_PER_SECOND": str(rate),
        "WORKER_HEARTBEAT_SECONDS": str(heartbeat),
        "WEB_HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    first, second = Worker(env, workdir, "a"), Worker(env, workdir, "b")
    people = [FIRST_USER + n for n in range(citizens)]
    said: dict[int, list[str]] = {}
    try:
        async with aiohttp.ClientSession() as http:
            clock = time.monotonic()
            await asyncio.gather(first.start(), second.start())  # together: start-up under a lock
            await asyncio.gather(first.ready(http), second.ready(http))
            figures.started_in = time.monotonic() - clock
            # 1. Every update to both workers; each citizen's next as soon as the last is stored.
            started = time.monotonic()
            sayings = await asyncio.gather(
                *(citizen(http, fake, [first, second], u, updates) for u in people)
            )
            said = dict(zip(people, sayings, strict=True))
            await wait_for(lambda: all(len(answers(fake, u)) >= updates for u in people), ANSWERS_WITHIN_S)
            figures.seconds = time.monotonic() - started
            for user_id in people:
                got = [(turn_of(m), kind_of(m)) for m in answers(fake, user_id)]
                if got[: len(said[user_id])] != list(enumerate(said[user_id], start=1)):
                    figures.out_of_order += 1
                    figures.problems.append(f"citizen {user_id}: sent {said[user_id]}, answered {got}")
            # 2. The first worker stores an update, starts on it, and is killed.
            await resume_after_kill(http, fake, database_url, first, second, people[0], said, figures)
            await asyncio.sleep(0.5)  # an answer sent twice would come now
            code = await second.stop()
            if code != 0 or "Traceback" in second.log_tail():
                figures.problems.append(f"the surviving worker ended with {code}: {second.log_tail()}")
    finally:
        await first.stop(signal.SIGKILL)
        await second.stop(signal.SIGKILL)
        await fake.stop()
    if fake.violations:
        figures.problems.append(f"Bot API violations: {fake.violations[:5]}")
    figures.too_many_requests = sum(1 for call in fake.calls_of("sendMessage") if call.status == 429)
    await count(database_url, fake, said, {first.name: "a", second.name: "b"}, figures)
    return figures


async def resume_after_kill(
    http: aiohttp.ClientSession,
    fake: FakeTelegram,
    url: str,
    doomed: Worker,
    survivor: Worker,
    user_id: int,
    said: dict[int, list[str]],
    figures: Figures,
) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as holder:
            # The citizen's conversation is locked: the worker that stores the update gets stuck on it.
            await holder.execute(
                select(ConversationState)
                .where(ConversationState.channel == "telegram", ConversationState.user_id == str(user_id))
                .with_for_update()
            )
            update = fake.message_update(user_id, "/start")
            assert await post(http, doomed, update) == 200  # stored by the doomed one…
            assert await post(http, survivor, update) == 200  # …and delivered to the other too
            said[user_id].append("/start")
            if not await wait_for_async(lambda: waiting_on_a_lock(url), within=30):
                figures.problems.append("the first worker never started on the update")
            before = len(answers(fake, user_id))
            await doomed.stop(signal.SIGKILL)
            killed = time.monotonic()
            await holder.rollback()
    finally:
        await engine.dispose()
    if await wait_for(lambda: len(answers(fake, user_id)) > before, RESUME_WITHIN_S):
        figures.resumed_in = time.monotonic() - killed
    else:
        figures.problems.append("the killed worker's update was never answered")


async def wait_for_async(condition: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return True
        await asyncio.sleep(0.05)
    return False


async def count(
    url: str, fake: FakeTelegram, said: dict[int, list[str]], labels: dict[str, str], figures: Figures
) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db:
            rows = (
                await db.execute(
                    select(InboundUpdate.user_id, InboundUpdate.handled_at, InboundUpdate.worker)
                )
            ).all()
            turns = {
                state.user_id: int((state.data or {}).get(STATE_TURN, 0))
                for state in await db.scalars(
                    select(ConversationState).where(ConversationState.channel == "telegram")
                )
            }
    finally:
        await engine.dispose()
    figures.stored_by = {label: 0 for label in labels.values()}
    for user_id, _, worker in rows:
        if user_id is not None and int(user_id) in said:
            label = labels.get(worker or "", "?")
            figures.stored_by[label] = figures.stored_by.get(label, 0) + 1
    for user_id, sayings in said.items():
        figures.updates += len(sayings)
        handled = sum(1 for who, at, _ in rows if who == str(user_id) and at is not None)
        got = len(answers(fake, user_id))
        figures.lost += max(0, len(sayings) - min(handled, got))
        figures.handled_twice += max(0, turns.get(str(user_id), 0) - handled)
        figures.answered_twice += max(0, got - len(sayings))
