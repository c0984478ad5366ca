"""Benchmark: citizens registering through Telegram (polling) vs a bare aiogram echo bot.

Three bots in turn, each in a process of its own (bench/worker.py), against the same fake
Bot API server (tests/fakes/telegram_api.py, in a third process, as the real API is remote):
the echo bot, tiepdan's whole stack, and tiepdan with the dialog engine replayed (the
Telegram layer alone). This process is the citizens: each sends its updates one after
another, as a person does, all citizens at once. Measured for each bot, over the same
traffic after one citizen has warmed it up:

- CPU per update: the bot process's CPU time (`time.process_time`, all its threads) over
  the traffic, divided by the updates: the driver's and the fake's work are not in it;
- updates per second of wall time;
- latency, from queueing an update on the server to the bot having finished with it (every
  reply sent): p50 and p99.

    python -m bench.telegram_updates [--citizens 200] [--database-url URL]  (emptied)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bench.common import REGISTRATION, ROOT, Figure, engine_name, registrations_by_status, seeded_app
from storage.db import create_engine
from tests.fakes.telegram_api import callback_update, message_update

CPU_TARGET = 0.35  # the whole stack's CPU per update, as a share of the echo bot's
P99_TARGET = 3.0  # the whole stack's p99 latency, at most this many times the echo bot's

Script = list[tuple[str, str]]


@dataclass
class Run:
    name: str
    updates: int
    seconds: float
    cpu: float  # the bot process's CPU seconds over the traffic
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds

    @property
    def cpu_per_update(self) -> float:
        return self.cpu / self.updates

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"  {self.name:<24} {self.updates:>6} updates  CPU {self.cpu_per_update * 1000:>6.2f} ms/update  "
            f"{self.per_second:>7.1f} updates/s  p50 {self.percentile(0.50) * 1000:>6.0f} ms  "
            f"p99 {self.percentile(0.99) * 1000:>6.0f} ms"
        )


class Worker:
    """A bot process (bench/worker.py), and the lines it sends back."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.ready = asyncio.Event()
        self.done: dict[int, asyncio.Event] = {}
        self._cpu: asyncio.Future[float] | None = None
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, kind: str, api: str, database_url: str = "", recorder: str = "", *more: str
    ) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.worker",
            kind,
            "--api",
            api,
            "--database-url",
            database_url,
            "--recorder",
            recorder,
            *more,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        worker = cls(process)
        await asyncio.wait_for(worker.ready.wait(), timeout=120)
        return worker

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            word, _, value = raw.decode().strip().partition(" ")
            if word == "done":
                self.expect(int(value)).set()
            elif word == "cpu" and self._cpu is not None:
                self._cpu.set_result(float(value))
            elif word == "ready":
                self.ready.set()

    def expect(self, update_id: int) -> asyncio.Event:
        return self.done.setdefault(update_id, asyncio.Event())

    def _send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")

    async def cpu(self) -> float:
        self._cpu = asyncio.get_running_loop().create_future()
        self._send("cpu")
        return await asyncio.wait_for(self._cpu, timeout=30)

    async def quit(self) -> None:
        self._send("quit")
        try:
            await asyncio.wait_for(self.process.wait(), timeout=60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._reading


async def converse(
    http: aiohttp.ClientSession,
    api: str,
    worker: Worker,
    user_id: int,
    script: Script,
    latencies: list[float],
) -> None:
    """One citizen: each update once the bot has finished with the one before."""
    for kind, value in script:
        if kind == "text":
            update = message_update(user_id, value)
        else:
            async with http.get(f"{api}/control/keyboard/{user_id}") as response:
                message: dict[str, Any] = await response.json()
            if not (message or {}).get("reply_markup"):
                raise RuntimeError(f"citizen {user_id} wants {value!r}, but no message has buttons")
            button = next(
                (
                    row[0]
                    for row in message["reply_markup"]["inline_keyboard"]
                    if value.lower() in row[0]["text"].lower()
                ),
                None,
            )
            if button is None:
                async with http.get(f"{api}/control/chat/{user_id}") as response:
                    calls = await response.json()
                raise RuntimeError(f"citizen {user_id} wants {value!r}; the calls for them: {calls}")
            update = callback_update(user_id, message, button["callback_data"])
        started = time.perf_counter()
        async with http.post(f"{api}/control/updates", json=update) as response:
            update_id = (await response.json())["update_id"]
        await asyncio.wait_for(worker.expect(update_id).wait(), timeout=300)
        latencies.append(time.perf_counter() - started)


async def measure(name: str, kind: str, api: str, scripts: dict[int, Script], url: str = "") -> Run:
    """The bot started, warmed up by a first citizen alone (for `layer`: the one whose
    replies are replayed), then the traffic of all the others at once."""
    (recorder, first), *others = scripts.items()
    worker = await Worker.start(kind, api, url, str(recorder))
    try:
        async with aiohttp.ClientSession() as http:
            await converse(http, api, worker, recorder, first, [])
            latencies: list[float] = []
            cpu, started = await worker.cpu(), time.perf_counter()
            try:
                await asyncio.gather(
                    *(converse(http, api, worker, uid, script, latencies) for uid, script in others)
                )
            except RuntimeError as astray:
                raise RuntimeError(f"{name}: {astray}") from astray
            seconds = time.perf_counter() - started
            cpu = await worker.cpu() - cpu
    finally:
        await worker.quit()
    return Run(name, len(latencies), seconds, cpu, latencies)


async def start_fake_server(first_update_id: int = 1) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.telegram_api",
        "--port",
        "0",
        "--first-update-id",
        str(first_update_id),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
    return process, f"http://127.0.0.1:{line.split()[1]}"


@dataclass
class Figures:
    engine: str
    citizens: int
    echo: Run
    full: Run
    layer: Run
    confirmed: int
    violations: int

    def print(self) -> None:
        each = len(REGISTRATION)
        print(f"Telegram updates ({self.engine}): {self.citizens} citizens at once, {each} updates each")
        for run in (self.echo, self.full, self.layer):
            print(run.line())
        confirmed = f"{self.confirmed}/{self.citizens}"
        print(f"  registrations confirmed: {confirmed}; Bot API violations: {self.violations}")

    def figures(self) -> list[Figure]:
        cpu = self.echo.cpu_per_update / self.full.cpu_per_update
        layer = self.echo.cpu_per_update / self.layer.cpu_per_update
        wall = self.full.per_second / self.echo.per_second
        p99 = self.full.percentile(0.99) / self.echo.percentile(0.99)
        complete = self.confirmed == self.citizens and not self.violations
        return [
            Figure(
                "throughput: CPU per update, echo/tiepdan",
                f"≥ {CPU_TARGET}×",
                f"{cpu:.2f}×",
                cpu >= CPU_TARGET and complete,
                f"echo {self.echo.cpu_per_update * 1000:.2f} ms, "
                f"tiepdan {self.full.cpu_per_update * 1000:.2f} ms"
                + ("" if complete else f"; only {self.confirmed}/{self.citizens} confirmed"),
            ),
            Figure(
                "  Telegram layer alone, CPU echo/layer",
                "",
                f"{layer:.2f}×",
                None,
                f"{self.layer.cpu_per_update * 1000:.2f} ms (dialog engine replayed)",
            ),
            Figure(
                "throughput: updates/s, tiepdan/echo (wall)",
                "",
                f"{wall:.2f}×",
                None,
                f"echo {self.echo.per_second:.0f}/s, tiepdan {self.full.per_second:.0f}/s",
            ),
            Figure(
                f"latency: p99 at {self.citizens} citizens, tiepdan/echo",
                f"≤ {P99_TARGET:g}×",
                f"{p99:.1f}×",
                p99 <= P99_TARGET,
                f"echo {self.echo.percentile(0.99) * 1000:.0f} ms, "
                f"tiepdan {self.full.percentile(0.99) * 1000:.0f} ms",
            ),
        ]


async def run(citizens: int, url: str) -> Figures:
    fake, api = await start_fake_server()
    try:
        now = datetime.now(UTC)
        app = await seeded_app(url, now)
        await app.close()  # the workers use the database; this process only reads it at the end
        words: Script = [("text", f"xin chào {i}") for i in range(len(REGISTRATION))]
        echo = await measure("aiogram echo bot", "echo", api, {1000 + n: words for n in range(citizens + 1)})
        full = await measure(
            "tiepdan registration", "tiepdan", api, {2000 + n: REGISTRATION for n in range(citizens + 1)}, url
        )
        engine = create_engine(url)
        try:
            confirmed = (await registrations_by_status(engine)).get("confirmed", 0) - 1  # not the warm-up
        finally:
            await engine.dispose()
        layer = await measure(
            "  Telegram layer alone", "layer", api, {3000 + n: REGISTRATION for n in range(citizens + 1)}, url
        )
        async with aiohttp.ClientSession() as http, http.get(f"{api}/control/violations") as response:
            violations = len(await response.json())
    finally:
        fake.terminate()
        await fake.wait()
    return Figures(engine_name(url), citizens, echo, full, layer, confirmed, violations)


async def main(citizens: int, database_url: str | None) -> Figures:
    with tempfile.TemporaryDirectory() as tmp:
        figures = await run(citizens, database_url or f"sqlite+aiosqlite:///{tmp}/bench.db")
    figures.print()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    figures = asyncio.run(main(args.citizens, args.database_url))
    for figure in figures.figures():
        print(
            f"  {figure.name}: {figure.value} (target {figure.target or '—'}) {figure.verdict}  {figure.note}"
        )
