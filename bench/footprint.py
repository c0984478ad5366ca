"""Benchmark: what one `tiepdan run` process costs beside a bare aiogram echo bot.

Both run as real processes, in long polling, against the fake Bot API of the test suite
(served here). `tiepdan run` (SQLite, its demo data) serves N citizens, all at once, each
through one complete registration (bench/telegram_updates.py's 18 updates), one update after
another as a person does. The echo bot (bench/echo_bot.py, which imports aiogram and nothing
of ours) is then sent as many typed messages by as many citizens. Printed:

- **memory**: each process's resident set (VmRSS) once it has served its updates, and the
  difference in MB (target: `tiepdan run` within 30 MB of the echo bot);
- **Bot API calls** per pressed button and per typed answer, counted on the fake server for
  each update of each citizen (target: 2 per pressed button).

    python -m bench.footprint [--citizens 10]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.telegram_updates import REGISTRATION
from tests.fakes.telegram_api import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
FIRST_USER = 800_000
QUIET = 0.3  # seconds without a call for the chat: the bot is done with the update
PATIENCE = 60.0


def rss_mb(pid: int) -> float:
    """The process's resident set now, in MB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Process:
    """A bot in a process of its own, polling the fake server."""

    args: list[str]
    env: dict[str, str]
    workdir: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self, fake: FakeTelegram) -> None:
        polls = len(fake.calls_of("getUpdates"))
        with (self.workdir / "bot.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, cwd=self.workdir, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + PATIENCE
        while len(fake.calls_of("getUpdates")) <= polls:  # up: migrated, polling
            if time.monotonic() > deadline or self.process.returncode is not None:
                raise RuntimeError(f"{self.args} did not start; see {self.workdir / 'bot.log'}")
            await asyncio.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass
class Citizen:
    """Sends one update after another, each once the bot is done with the last; counts the
    Bot API calls each update cost (those naming the chat, and the answers to its buttons)."""

    user_id: int
    fake: FakeTelegram
    callbacks: set[str] = field(default_factory=set)
    costs: list[tuple[str, collections.Counter[str]]] = field(default_factory=list)

    def calls(self) -> list[str]:
        chat = str(self.user_id)
        return [
            call.method
            for call in self.fake.calls
            if str(call.params.get("chat_id", "")) == chat
            or call.params.get("callback_query_id") in self.callbacks
        ]

    def shown(self) -> int:
        return sum(1 for shown in self.fake.shown if shown.message.chat_id == self.user_id)

    async def step(self, kind: str, value: str) -> None:
        before, shown = len(self.calls()), self.shown()
        if kind == "text":
            self.fake.push_message(self.user_id, value)
        else:
            message = self.fake.keyboard_of(self.user_id)
            if message is None:
                raise RuntimeError(f"no buttons for {self.user_id}")
            rows = (message.reply_markup or {})["inline_keyboard"]
            labels = [row[0] for row in rows if value.lower() in row[0]["text"].lower()]
            if not labels:
                raise RuntimeError(f"no button {value!r} among {[row[0]['text'] for row in rows]}")
            button = labels[0]
            update = self.fake.push_callback(self.user_id, message, button["callback_data"])
            self.callbacks.add(update["callback_query"]["id"])
        deadline = time.monotonic() + PATIENCE
        while self.shown() == shown:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no answer to {value!r} for {self.user_id}")
            await asyncio.sleep(0.02)
        count, quiet_since = len(self.calls()), time.monotonic()
        while time.monotonic() - quiet_since < QUIET:
            await asyncio.sleep(0.05)
            if len(self.calls()) != count:
                count, quiet_since = len(self.calls()), time.monotonic()
        self.costs.append((kind, collections.Counter(self.calls()[before:])))

    async def talk(self, script: list[tuple[str, str]]) -> None:
        for kind, value in script:
            await self.step(kind, value)


def per_event(costs: list[tuple[str, collections.Counter[str]]], kind: str) -> str:
    counted = [cost for what, cost in costs if what == kind]
    if not counted:
        return "none"
    totals = [sum(cost.values()) for cost in counted]
    methods: collections.Counter[str] = sum(counted, collections.Counter())
    by_method = ", ".join(f"{method} {n / len(counted):.2f}" for method, n in methods.most_common())
    return f"{sum(totals) / len(totals):.2f} (max {max(totals)}) over {len(totals)}: {by_method}"


async def main(citizens: int) -> tuple[float, float]:
    fake = FakeTelegram()
    await fake.start()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            tiepdan = Process(
                [sys.executable, "-m", "bot.cli", "run"],
                env
                | {
                    "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/footprint.db",
                    "TELEGRAM_BOT_TOKEN": TOKEN,
                    "TELEGRAM_API_BASE": fake.base_url,
                    "TELEGRAM_POLLING_TIMEOUT": "1",
                    "LOG_LEVEL": "WARNING",
                },
                workdir,
            )
            people = [Citizen(FIRST_USER + n, fake) for n in range(citizens)]
            try:
                await tiepdan.start(fake)
                await asyncio.gather(*(person.talk(REGISTRATION) for person in people))
                ours = rss_mb(tiepdan.pid)
            finally:
                await tiepdan.stop()

            echo = Process([sys.executable, "-m", "bench.echo_bot", TOKEN, fake.base_url], env, workdir)
            typists = [Citizen(FIRST_USER + citizens + n, fake) for n in range(citizens)]
            script = [("text", f"xin chào {i}") for i in range(len(REGISTRATION))]
            try:
                await echo.start(fake)
                await asyncio.gather(*(person.talk(script) for person in typists))
                baseline = rss_mb(echo.pid)
            finally:
                await echo.stop()
    finally:
        await fake.stop()

    costs = [cost for person in people for cost in person.costs]
    confirmed = sum(1 for m in fake.messages if m.chat_id >= FIRST_USER and "ĐĂNG KÝ THÀNH CÔNG" in m.text)
    print(f"citizens: {citizens}, updates each: {len(REGISTRATION)}; registrations confirmed: {confirmed}")
    print(f"RSS after serving: tiepdan run {ours:.0f} MB, aiogram echo bot {baseline:.0f} MB")
    print(f"  difference: {ours - baseline:+.1f} MB  (target <= +30 MB)")
    print(f"Bot API calls per pressed button: {per_event(costs, 'press')}  (target 2)")
    print(f"Bot API calls per typed answer:   {per_event(costs, 'text')}")
    if fake.violations:
        print(f"Bot API violations: {len(fake.violations)}: {fake.violations[:3]}")
    return ours, baseline


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--citizens", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.citizens))
