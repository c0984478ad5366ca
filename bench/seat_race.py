"""Benchmark: 1,000 citizens press "Confirm" at once for 30 seats.

The real path: the dialog engine (`Dialog.handle`), each press one event in its own
transaction, as the Telegram pipeline hands it over. One citizen registers step by step up
to the review (`REGISTRATION` without its last press); the others are made as copies of
that citizen and of their conversation (their rows copied as the database has them,
reflected, not through the models), so that all 1,000 stand at the same review with the
same buttons. Then every one presses "Confirm" at once. Checked: exactly 30 seats taken
(the counter and the confirmed registrations), everyone else on the waiting list, nobody
refused by an error. Timed: from the first press to the last answer.

    python -m bench.seat_race [--signups 1000] [--seats 30] [--database-url URL]  (emptied)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    CONFIRM,
    REGISTRATION,
    Figure,
    engine_name,
    registrations_by_status,
    seeded_app,
    tables,
)
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.mapping import CHANNEL
from bot.dialog.engine import Dialog
from bot.dialog.types import Incoming, Reply

SECONDS_TARGET = 3.0
CAPABILITIES = TelegramChannel.capabilities
USER_COLUMNS = ("channel_user_id", "user_id")


def option_for(replies: list[Reply], label: str) -> str:
    """The wire payload of the last prompt's button whose label holds `label`."""
    prompt = next(reply for reply in reversed(replies) if reply.options)
    return next(option.payload for option in prompt.options if label.lower() in option.label.lower())


async def to_review(dialog: Dialog, user_id: str) -> str:
    """One citizen, step by step, up to the review; returns the payload of its Confirm."""
    replies: list[Reply] = []
    for number, (kind, value) in enumerate(REGISTRATION[:-1]):
        incoming = Incoming(CHANNEL, user_id, event_id=f"setup-{number}", language="vi")
        if kind == "text":
            incoming = Incoming(CHANNEL, user_id, text=value, event_id=incoming.event_id, language="vi")
        else:
            option = option_for(replies, value)
            incoming = Incoming(CHANNEL, user_id, option=option, event_id=incoming.event_id, language="vi")
        replies = await dialog.handle(incoming, CAPABILITIES)
    return option_for(replies, CONFIRM)


def user_column(table: Table) -> str | None:
    """The column naming a user on a per-user table (one with a channel); not on a table of
    events (inbound updates), which are not the user's standing."""
    if "channel" not in table.c or "update_id" in table.c:
        return None
    return next((name for name in USER_COLUMNS if name in table.c), None)


async def copy_user(engine: AsyncEngine, user_id: str, copies: list[str]) -> None:
    """Every per-user row of `user_id` once more for each of `copies`: a new id where the
    table numbers its rows, and the copy's own citizen id where a row refers to one."""
    meta = await tables(engine)
    per_user = [(table, column) for table in meta.sorted_tables if (column := user_column(table))]
    # Tables that other tables refer to come first (sorted_tables): the citizens' new ids are
    # known before a row that refers to them is copied.
    citizen_ids: dict[str, int] = {}
    async with engine.begin() as conn:
        for table, column in per_user:
            rows = (
                await conn.execute(
                    select(table).where(table.c.channel == CHANNEL, table.c[column] == user_id)
                )
            ).mappings()
            template = [dict(row) for row in rows]
            if not template:
                continue
            numbered = "id" in table.c and table.c.id.primary_key
            for copy in copies:
                values: list[dict[str, Any]] = []
                for row in template:
                    row = {**row, column: copy}
                    if numbered:
                        del row["id"]
                    if "citizen_id" in row and copy in citizen_ids:
                        row["citizen_id"] = citizen_ids[copy]
                    values.append(row)
                if numbered and table.name == "citizens":
                    for row in values:
                        new_id = await conn.scalar(insert(table).values(**row).returning(table.c.id))
                        citizen_ids[copy] = int(new_id)
                else:
                    await conn.execute(insert(table), values)


async def seats_taken(engine: AsyncEngine) -> int:
    links = (await tables(engine)).tables["event_endpoints"]
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.sum(links.c.seats_taken))) or 0)


class Errors(logging.Handler):
    """Counts the errors logged (an event the engine failed answers with an apology), and
    keeps them off the screen: a thousand tracebacks would bury the figures."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if not self.first and record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.first = f"{type(error).__name__}: {str(error).splitlines()[0][:90]}"

    @contextmanager
    def caught(self) -> Iterator[Errors]:
        root = logging.getLogger()
        root.addHandler(self)
        try:
            yield self
        finally:
            root.removeHandler(self)


@dataclass(frozen=True)
class Race:
    engine: str
    signups: int
    seats: int
    seconds: float
    cpu: float
    taken: int
    statuses: dict[str, int]
    errors: int
    first_error: str

    @property
    def recorded(self) -> int:
        return sum(self.statuses.values())

    @property
    def exact(self) -> bool:
        """No seat given twice, none lost: the counter is the confirmed registrations, and
        every seat went to someone who pressed."""
        return self.taken == self.statuses.get("confirmed", 0) == min(self.seats, self.recorded)

    def print(self) -> None:
        print(
            f"seat race ({self.engine}): {self.signups} press Confirm at once for {self.seats} seats: "
            f"{self.seconds:.2f} s, {self.cpu:.2f} s CPU in this process; seats taken {self.taken}, "
            f"registrations {self.statuses}, errors {self.errors}"
            + (f" (first: {self.first_error})" if self.first_error else "")
        )

    def figures(self) -> list[Figure]:
        return [
            Figure(
                f"seat race: seats taken of {self.seats}",
                f"= {self.seats}",
                str(self.taken),
                self.exact and self.taken == self.seats,
                f"registrations {self.statuses}",
            ),
            Figure(
                "seat race: sign-ups failed",
                "= 0",
                str(self.signups - self.recorded),
                self.recorded == self.signups and not self.errors,
                f"{self.errors} errors logged" + (f", first: {self.first_error}" if self.first_error else ""),
            ),
            Figure(
                f"seat race: {self.signups} sign-ups, time",
                f"< {SECONDS_TARGET:g} s",
                f"{self.seconds:.2f} s",
                self.seconds < SECONDS_TARGET,
                f"{self.cpu:.2f} s CPU in the bot's process",
            ),
        ]


async def race(url: str, signups: int, seats: int) -> Race:
    app = await seeded_app(url, datetime.now(UTC), seats=seats)
    try:
        confirm = await to_review(app.dialog, "90000")
        others = [str(90001 + n) for n in range(signups - 1)]
        await copy_user(app.engine, "90000", others)
        presses = [
            Incoming(CHANNEL, user_id, option=confirm, event_id=f"race-{user_id}", language="vi")
            for user_id in ["90000", *others]
        ]
        with Errors().caught() as errors:
            cpu, started = time.process_time(), time.perf_counter()
            await asyncio.gather(*(app.dialog.handle(press, CAPABILITIES) for press in presses))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        return Race(
            engine_name(url),
            signups,
            seats,
            seconds,
            cpu,
            await seats_taken(app.engine),
            await registrations_by_status(app.engine),
            errors.count,
            errors.first,
        )
    finally:
        await app.close()


async def main(database_url: str | None, signups: int = 1000, seats: int = 30) -> Race:
    with tempfile.TemporaryDirectory() as tmp:
        result = await race(database_url or f"sqlite+aiosqlite:///{tmp}/bench.db", signups, seats)
    result.print()
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--signups", type=int, default=1000)
    parser.add_argument("--seats", type=int, default=30)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.signups, args.seats))
