"""`make bench`: issue 11's targets (bench/targets.py) on SQLite, and on PostgreSQL when
BENCH_DATABASE_URL is set (that database is emptied); the memory footprint beside the echo
bot, and the SQLite driver options. `make bench BENCH=all` also runs the
broadcast and crash benchmarks (about 15 minutes more; the crash ones on PostgreSQL too). Two
webhook workers on one database run whenever BENCH_DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import os

from bench import broadcast, crash_outbox, crash_updates, footprint, sqlite_driver, targets, workers

if __name__ == "__main__":
    postgres = os.environ.get("BENCH_DATABASE_URL", "")
    asyncio.run(targets.main(postgres or None))
    print()
    asyncio.run(footprint.main(citizens=10))
    print()
    asyncio.run(sqlite_driver.main(events=1000, rounds=3))
    if os.environ.get("BENCH", "") == "all":
        print()
        asyncio.run(broadcast.main(recipients=20_000, baseline=300))
        for database_url in [None, postgres] if postgres else [None]:  # None: SQLite
            print()
            asyncio.run(
                crash_updates.main(
                    kills=20, citizens=10, modes=["polling", "webhook"], database_url=database_url
                )
            )
            print()
            asyncio.run(crash_outbox.main(recipients=2000, kills=20, rate=50.0, database_url=database_url))
    if postgres:  # two workers on one database: PostgreSQL only
        print()
        asyncio.run(workers.main(postgres))
