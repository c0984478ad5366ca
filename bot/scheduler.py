"""The clock's work: APScheduler only wakes the outbox sender and the retention sweep.

The truth is in the database, so a tick can be missed or repeated safely. With several
processes on PostgreSQL exactly one ticks: the one holding a session-level advisory lock
(the others try again at their next tick and take over if the holder dies). SQLite is one
process, so it always ticks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bot import retention
from bot.app import App
from bot.dialog.types import Channel
from bot.notify import Outbox, TemplateSender

log = logging.getLogger(__name__)

TICK_LOCK = 0x7469_6570  # "tiep": the advisory lock id of the ticking process
SWEEP_EVERY_S = 3600
STOP_GRACE_S = 30.0


class Ticker:
    def __init__(
        self,
        app: App,
        channels: Mapping[str, Channel],
        fallbacks: Mapping[str, TemplateSender] | None = None,
    ) -> None:
        self.app = app
        self.outbox = Outbox(app.sessions, app.settings, app.clock, channels, fallbacks, app.metrics)
        self.scheduler = AsyncIOScheduler()
        self._lock_connection: AsyncConnection | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def holds_lock(self) -> bool:
        """True if this process may tick (always on SQLite); shown at /metrics."""
        held = await self._ask_for_lock()
        self.app.metrics.tick_lock(held)
        return held

    async def _ask_for_lock(self) -> bool:
        if self.app.engine.dialect.name != "postgresql":
            return True
        if self._lock_connection is None:
            self._lock_connection = await self.app.engine.connect()
        try:
            held = await self._lock_connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": TICK_LOCK}
            )
            await self._lock_connection.commit()
            return bool(held)
        except Exception:
            log.exception("could not ask for the tick lock")
            await self._release()
            return False

    async def tick(self) -> None:
        await self._run_if_holder(self.outbox.drain, "outbox tick")

    async def sweep(self) -> None:
        await self._run_if_holder(lambda: retention.sweep(self.app), "retention sweep")

    async def _run_if_holder(self, work: Callable[[], Awaitable[object]], name: str) -> None:
        if self._stopping:
            return
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)  # so that stop() can wait for it to end
        try:
            if await self.holds_lock():
                await work()
        except Exception:
            log.exception("%s failed", name)
        finally:
            self._running.discard(task)

    def start(self) -> None:
        interval = self.app.settings.outbox_interval_seconds
        # max_instances=1: a long drain (a big broadcast) is never run twice at once.
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=interval,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),  # at once: pick up what fell due while down
        )
        self.scheduler.add_job(self.sweep, "interval", seconds=SWEEP_EVERY_S, max_instances=1, coalesce=True)
        self.scheduler.start()

    async def _release(self) -> None:
        """Give the lock up: unlock, and drop the connection rather than pool it."""
        connection, self._lock_connection = self._lock_connection, None
        if connection is None:
            return
        try:
            await connection.execute(text("SELECT pg_advisory_unlock_all()"))
            await connection.commit()
        except Exception:
            log.exception("could not release the tick lock; dropping the connection")
        finally:
            await connection.invalidate()  # a closed database session holds no lock

    async def stop(self) -> None:
        """Stop ticking. A tick in progress sends what it holds, writes the results and ends
        (it must never outlive the database engine); it is cancelled only after STOP_GRACE_S.
        A cancelled database operation can leave a connection half-closed, and
        APScheduler's shutdown cancels running jobs: so the jobs end first, then the scheduler."""
        self._stopping = True
        self.outbox.stop_soon()
        if self.scheduler.running:
            self.scheduler.pause()
        await asyncio.sleep(0)  # a job just submitted starts, sees the stop and returns
        running = list(self._running)
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE_S)
            for task in late:
                log.warning(
                    "a %s did not end within %s s of the stop: cancelled", task.get_name(), STOP_GRACE_S
                )
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self._release()
        self.app.metrics.tick_lock(False)
