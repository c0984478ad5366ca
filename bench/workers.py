"""Benchmark: two `tiepdan run` workers on one PostgreSQL database, every update delivered
to both, one of them killed (SIGKILL) while it handles an update.

The run is tests/worker_processes.py (the test suite runs it small, with a one-second
heartbeat); here with more citizens and the production defaults: WORKER_HEARTBEAT_SECONDS=10
(a worker not heard of for 30 s is dead) and TELEGRAM_RATE_PER_SECOND=25, against a fake Bot
API that answers 429 above 30 messages a second, as Telegram does about then. Printed:
updates handled twice (0 expected), answered twice, citizens answered out of order, updates
lost, 429s, and how long after the kill the other worker answered the killed worker's update
(within a minute expected). PostgreSQL only: SQLite serves one process.

    python -m bench.workers --database-url postgresql+asyncpg://…/bench  (emptied!)
                            [--citizens 20] [--updates 30] [--heartbeat 10] [--rate 25]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bench.common import fresh_database
from storage import migrate
from tests.worker_processes import Figures, run_workers


async def main(
    database_url: str, citizens: int = 20, updates: int = 30, heartbeat: float = 10.0, rate: float = 25.0
) -> Figures:
    await fresh_database(database_url)
    await migrate.upgrade(database_url)
    with tempfile.TemporaryDirectory() as workdir:
        figures = await run_workers(
            database_url, Path(workdir), citizens=citizens, updates=updates, heartbeat=heartbeat, rate=rate
        )
    print(figures.line(), flush=True)
    for problem in figures.problems[:5]:
        print(f"  {problem}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database to EMPTY")
    parser.add_argument("--citizens", type=int, default=20)
    parser.add_argument("--updates", type=int, default=30, help="per citizen")
    parser.add_argument("--heartbeat", type=float, default=10.0, help="WORKER_HEARTBEAT_SECONDS")
    parser.add_argument("--rate", type=float, default=25.0, help="TELEGRAM_RATE_PER_SECOND")
    args = parser.parse_args()
    figures = asyncio.run(main(args.database_url, args.citizens, args.updates, args.heartbeat, args.rate))
    clean = not figures.problems and figures.handled_twice == figures.lost == figures.out_of_order == 0
    sys.exit(0 if clean and figures.resumed_in is not None and figures.resumed_in < 60 else 1)
