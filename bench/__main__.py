"""`make bench`: run every benchmark and print its figures. The crash benchmarks also run on
PostgreSQL when BENCH_DATABASE_URL is set (that database is emptied)."""

from __future__ import annotations

import asyncio
import os

from bench import broadcast, crash_outbox, crash_updates, sqlite_driver, telegram_updates

if __name__ == "__main__":
    asyncio.run(telegram_updates.main(citizens=40, database_url=None))
    print()
    asyncio.run(broadcast.main(recipients=20_000, baseline=300))
    print()
    asyncio.run(sqlite_driver.main(events=1000, rounds=3))
    postgres = os.environ.get("BENCH_DATABASE_URL", "")
    for database_url in [None, postgres] if postgres else [None]:  # None: SQLite
        print()
        asyncio.run(
            crash_updates.main(kills=20, citizens=10, modes=["polling", "webhook"], database_url=database_url)
        )
        print()
        asyncio.run(crash_outbox.main(recipients=2000, kills=20, rate=50.0, database_url=database_url))
