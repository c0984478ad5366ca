"""Benchmark: database round trips and Bot API calls per step of one registration.

One citizen, alone, registers through the real Telegram polling loop against the fake Bot
API (in this process: counts, not time, are measured). A first citizen registers before, so
that what is read once and kept (caches, prepared statements) is as in a running bot.
Each step's database work is counted with SQLAlchemy's engine events (bench/counting.py)
and split into the dialog engine's (the event's own transaction) and the pipeline's
(storing the update, marking it handled); the Bot API calls are those the fake received.

    python -m bench.round_trips [--database-url URL]   (a PostgreSQL database is emptied)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import cast

from bench.common import REGISTRATION, Figure, engine_name, seeded_app
from bench.counting import DIALOG, PIPELINE, RoundTrips, ScopedDialog, Tally
from bot.dialog.engine import Dialog
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram_harness import TelegramUser, make_telegram_bot

ROUND_TRIPS_TARGET = 4  # per typed answer or pressed button (issue 11, on PostgreSQL)
STATEMENTS_TARGET = 40  # per registration
API_CALLS_TARGET = 2  # per pressed button
QUIET = 0.15  # seconds without database work or Bot API call: the step is over


@dataclass(frozen=True)
class Step:
    kind: str  # "text" or "press"
    value: str
    work: Tally
    api_calls: list[str]
    dialog_seen: bool  # the dialog engine was called through app.dialog: its work is told apart

    @property
    def dialog(self) -> Tally:
        """The dialog engine's work; the whole update's if it could not be told apart."""
        return self.work.of(DIALOG) if self.dialog_seen else self.work

    @property
    def pipeline(self) -> Tally:
        return self.work.of(PIPELINE)

    @property
    def what(self) -> str:
        shown = self.value if len(self.value) <= 24 else self.value[:23] + "…"
        return f"{'typed' if self.kind == 'text' else 'pressed'} {shown!r}"


@dataclass(frozen=True)
class Registration:
    engine: str
    steps: list[Step]

    def worst(self, kind: str) -> Step:
        return max((s for s in self.steps if s.kind == kind), key=lambda s: s.dialog.round_trips)

    def median(self, kind: str) -> float:
        return statistics.median(s.dialog.round_trips for s in self.steps if s.kind == kind)

    @property
    def statements(self) -> int:
        return sum(step.dialog.statements for step in self.steps)

    def print(self) -> None:
        print(f"round trips per step of one registration ({self.engine}, one citizen alone):")
        print(f"  {'step':<40} {'dialog':>6} {'stmts':>5} {'pipeline':>8} {'Bot API':>7}")
        for number, step in enumerate(self.steps, 1):
            print(
                f"  {number:>2} {step.what:<37} {step.dialog.round_trips:>6} {step.dialog.statements:>5} "
                f"{step.pipeline.round_trips:>8} {len(step.api_calls):>7}"
            )
        dialog_trips = sum(s.dialog.round_trips for s in self.steps)
        pipeline_trips = sum(s.pipeline.round_trips for s in self.steps)
        pipeline_statements = sum(s.pipeline.statements for s in self.steps)
        print(
            f"  whole registration: dialog {dialog_trips} round trips, {self.statements} statements; "
            f"pipeline {pipeline_trips} round trips, {pipeline_statements} statements (batched under load)"
        )
        worst = sorted(self.steps, key=lambda s: s.dialog.round_trips, reverse=True)[:3]
        print("  worst steps (dialog):")
        for step in worst:
            print(f"    {step.what}: {step.dialog.round_trips} = {step.dialog.breakdown()}")
        typical = min(self.steps[1:], key=lambda s: s.dialog.round_trips)
        print(f"    (least: {typical.what}: {typical.dialog.round_trips} = {typical.dialog.breakdown()})")
        print(f"  pipeline per step, e.g. {self.steps[-2].what}: {self.steps[-2].pipeline.breakdown()}")
        if not self.steps[0].dialog_seen:
            print("  NOTE: app.dialog.handle was never called: the dialog figures are the whole update's")

    def figures(self) -> list[Figure]:
        typed, pressed = self.worst("text"), self.worst("press")
        presses = [s for s in self.steps if s.kind == "press"]
        worst_calls = max(presses, key=lambda s: len(s.api_calls))
        return [
            Figure(
                "round trips, typed answer (worst)",
                f"≤ {ROUND_TRIPS_TARGET}",
                f"{typed.dialog.round_trips} (median {self.median('text'):g})",
                typed.dialog.round_trips <= ROUND_TRIPS_TARGET,
                typed.what,
            ),
            Figure(
                "round trips, pressed button (worst)",
                f"≤ {ROUND_TRIPS_TARGET}",
                f"{pressed.dialog.round_trips} (median {self.median('press'):g})",
                pressed.dialog.round_trips <= ROUND_TRIPS_TARGET,
                pressed.what,
            ),
            Figure(
                "statements per registration",
                f"≤ {STATEMENTS_TARGET}",
                str(self.statements),
                self.statements <= STATEMENTS_TARGET,
                f"{len(self.steps)} updates, the dialog's; the pipeline adds "
                f"{sum(s.pipeline.statements for s in self.steps)} for a citizen alone",
            ),
            Figure(
                "Bot API calls, pressed button (worst)",
                f"≤ {API_CALLS_TARGET}",
                str(len(worst_calls.api_calls)),
                len(worst_calls.api_calls) <= API_CALLS_TARGET,
                ", ".join(worst_calls.api_calls),
            ),
        ]


async def quiet(counter: RoundTrips, fake: FakeTelegram) -> None:
    """Until neither the database nor the Bot API has been used for QUIET seconds."""
    while True:
        seen = (counter.mark(), len(fake.calls))
        await asyncio.sleep(QUIET)
        if (counter.mark(), len(fake.calls)) == seen:
            return


def api_calls(fake: FakeTelegram, since: int) -> list[str]:
    return [call.method for call in fake.calls[since:] if call.method.lower() != "getupdates"]


async def converse(user: TelegramUser, kind: str, value: str) -> None:
    if kind == "text":
        await user.say(value)
    else:
        await user.press(value)


async def measure(url: str, now: datetime) -> Registration:
    app = await seeded_app(url, now)
    app.settings.telegram_polling_timeout = 1
    fake = FakeTelegram()
    await fake.start()
    dialog = ScopedDialog(app.dialog)
    telegram = make_telegram_bot(replace(app, dialog=cast(Dialog, dialog)), fake)
    counter = RoundTrips(app.engine)  # before any work: listeners must not change under it
    polling = asyncio.create_task(telegram.run_polling())
    try:
        for kind, value in REGISTRATION:  # the first citizen: caches and statements warm
            await converse(TelegramUser(telegram, fake, 7001), kind, value)
        user = TelegramUser(telegram, fake, 7002)
        steps = []
        for kind, value in REGISTRATION:
            await quiet(counter, fake)
            mark, calls = counter.mark(), len(fake.calls)
            await converse(user, kind, value)
            await quiet(counter, fake)
            work = counter.since(mark)
            steps.append(Step(kind, value, work, api_calls(fake, calls), dialog.events > 0))
    finally:
        await telegram.stop()
        await polling
        await fake.stop()
        counter.close()
        await app.close()
    return Registration(engine_name(url), steps)


async def main(database_url: str | None) -> Registration:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        registration = await measure(url, datetime.now(UTC))
    registration.print()
    return registration


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(main(args.database_url))
