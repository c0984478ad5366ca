"""`make bench`: run every benchmark and print its figures."""

from __future__ import annotations

import asyncio

from bench import broadcast, crash_outbox, crash_updates, telegram_updates

if __name__ == "__main__":
    asyncio.run(telegram_updates.main(citizens=40, database_url=None))
    print()
    asyncio.run(broadcast.main(recipients=20_000, baseline=300))
    print()
    asyncio.run(crash_updates.main(kills=20, citizens=10, modes=["polling", "webhook"], database_url=None))
    print()
    asyncio.run(crash_outbox.main(recipients=2000, kills=20, rate=50.0, database_url=None))
