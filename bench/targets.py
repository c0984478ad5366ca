"""Issue 11's targets, measured on SQLite and (with a database URL) on PostgreSQL, each
figure printed with its target and PASS or MISS.

    python -m bench.targets [--database-url postgresql+asyncpg://…/bench]   (emptied!)
                            [--citizens 200] [--signups 1000]

Memory (RSS against the echo bot's) is measured elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from datetime import UTC, datetime

from bench import round_trips, seat_race, telegram_updates
from bench.common import ROOT, Figure


async def measure(database_url: str | None, citizens: int, signups: int) -> list[Figure]:
    figures: list[Figure] = []
    registration = await round_trips.main(database_url)
    figures += registration.figures()
    print()
    updates = await telegram_updates.main(citizens, database_url)
    figures += updates.figures()
    print()
    race = await seat_race.main(database_url, signups)
    figures += race.figures()
    print()
    return figures


def summary(engines: dict[str, list[Figure]]) -> None:
    names = list(engines)
    print("issue 11 targets (the round trips' is set for PostgreSQL; memory is measured elsewhere)")
    width = max(len(figure.name) for figures in engines.values() for figure in figures)
    header = f"  {'figure':<{width}}  {'target':<8}" + "".join(f"  {name:<22}" for name in names)
    print(header)
    rows = zip(*engines.values(), strict=True)
    for row in rows:
        cells = "".join(f"  {(figure.value + ' ' + figure.verdict):<22}" for figure in row)
        print(f"  {row[0].name:<{width}}  {row[0].target:<8}{cells}")
    print("  notes:")
    for name, figures in engines.items():
        for figure in figures:
            if figure.note:
                print(f"    {name}, {figure.name.strip()}: {figure.note}")
    missed = sum(1 for figures in engines.values() for figure in figures if figure.met is False)
    passed = sum(1 for figures in engines.values() for figure in figures if figure.met)
    print(f"  {passed} PASS, {missed} MISS")


def revision() -> str:
    """The commit measured, as `git describe` names it (and whether the tree was changed)."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return described.stdout.strip()


async def main(database_url: str | None, citizens: int = 200, signups: int = 1000) -> None:
    started = time.perf_counter()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {revision()}, {os.cpu_count()} CPUs")
    print()
    engines = {"SQLite": await measure(None, citizens, signups)}
    if database_url:
        engines["PostgreSQL"] = await measure(database_url, citizens, signups)
    summary(engines)
    print(f"  ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="PostgreSQL too (the database is emptied)")
    parser.add_argument("--citizens", type=int, default=200)
    parser.add_argument("--signups", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.citizens, args.signups))
