"""This process among the workers that share the database (several on PostgreSQL).

Each `tiepdan run` is a worker named after its host and web port (two processes of one
host cannot serve one port, so two live workers never share a name; a worker started
again under its name takes back at once what its previous run left). Every
WORKER_HEARTBEAT_SECONDS it writes that it is alive, then sweeps: the unfinished updates
of a worker not heard of for three heartbeats are taken over (storage/inbound.py). The
number of live workers splits each bot's sending rate: each sends at most its share.

SQLite serves one process: a second worker on the same file is refused at its start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.ratelimit import RateLimiter
from bot.settings import Settings
from storage import workers
from storage.models import WORKER_NAME_MAX

log = logging.getLogger(__name__)

BEATS_BEFORE_DEAD = 3  # heartbeats missed before a worker's updates are taken over


class AnotherWorkerOnSqlite(Exception):
    """A second process on one SQLite database: it serves one process only."""

    def __init__(self, name: str, seconds_ago: float, wait: float) -> None:
        super().__init__(
            f"worker {name} was alive {seconds_ago:.0f} s ago on this SQLite database, which serves "
            f"one process only; use PostgreSQL for several workers (or, if {name} has stopped, "
            f"start again in {wait:.0f} s)"
        )


def worker_name(settings: Settings) -> str:
    return f"{socket.gethostname()}:{settings.web_port}"[-WORKER_NAME_MAX:]


class Presence:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
        *,
        sqlite: bool,
        name: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.sqlite = sqlite
        self.name = name or worker_name(settings)
        self.interval = settings.worker_heartbeat_seconds
        self.dead_after = timedelta(seconds=BEATS_BEFORE_DEAD * self.interval)
        self.live = 1  # workers alive at the last heartbeat, this one included
        self._pacers: list[tuple[RateLimiter, float]] = []
        self._sweeps: list[Callable[[], Awaitable[object]]] = []
        self._task: asyncio.Task[None] | None = None

    def alive_since(self) -> datetime:
        """A worker last seen before this is dead."""
        return self.clock.now() - self.dead_after

    def pacer(self, per_second: float) -> RateLimiter:
        """A limiter at this worker's share of `per_second`, a bot's rate for all workers
        together; kept at the share as workers come and go."""
        limiter = RateLimiter(per_second / self.live, chat_interval=0.0)
        self._pacers.append((limiter, per_second))
        return limiter

    def sweep_with(self, sweep: Callable[[], Awaitable[object]]) -> None:
        """Run `sweep` after every heartbeat (a channel's: take over dead workers' updates)."""
        self._sweeps.append(sweep)

    # --- lifecycle -------------------------------------------------------------------------

    async def join(self) -> None:
        """Alive from now on: before anything is stored under this name, or another worker
        could take it for a dead one's. On SQLite, refuse if another process is alive."""
        if self.sqlite:
            async with self.sessions() as db:
                others = await workers.alive(db, since=self.alive_since())
            others.pop(self.name, None)
            if others:
                name, seen = max(others.items(), key=lambda item: item[1])
                ago = (self.clock.now() - seen).total_seconds()
                raise AnotherWorkerOnSqlite(name, ago, self.dead_after.total_seconds() - ago)
        await self.beat(starting=True)
        log.info("worker %s joined (%d alive)", self.name, self.live)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop beating and leave: what this worker left unfinished is taken over at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with self.sessions() as db, db.begin():
                await workers.leave(db, self.name)
        except Exception:
            log.exception("worker %s could not record that it left", self.name)

    async def _run(self) -> None:
        """A heartbeat every `interval`, whatever the sweeps after it take."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due += self.interval
            await asyncio.sleep(max(0.0, due - loop.time()))
            due = max(due, loop.time() - self.interval)  # after a stall: not a burst of beats
            try:
                await self.beat()
            except Exception:
                log.exception("worker %s: heartbeat failed", self.name)
                continue
            for sweep in self._sweeps:
                try:
                    await sweep()
                except Exception:
                    log.exception("worker %s: sweep failed", self.name)

    async def beat(self, *, starting: bool = False) -> None:
        """Say this worker is alive; count the live ones and share the rates among them."""
        async with self.sessions() as db, db.begin():
            await workers.beat(db, self.name, self.clock.now(), starting=starting)
            live = max(1, await workers.count_alive(db, since=self.alive_since()))
        if live != self.live:
            log.info("worker %s: %d workers alive (were %d)", self.name, live, self.live)
            self.live = live
            for limiter, per_second in self._pacers:
                limiter.set_rate(per_second / live)
