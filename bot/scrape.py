"""`GET /metrics`: the registry of bot/metrics.py in Prometheus text format, with the gauges
that describe the database read first (bot/metrics.py counts the rest as work is done).

Served on WEB_HOST:WEB_PORT beside /healthz in every mode. Each worker answers for itself;
the database's gauges are the same at every worker (take their max). A database that does
not answer within SCRAPE_DATABASE_SECONDS leaves them as they were and
`tiepdan_database_up` at 0: the counters are still shown.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App
from bot.scheduler import TICK_LOCK
from storage import gauges

log = logging.getLogger(__name__)

SCRAPE_DATABASE_SECONDS = 3.0  # below Prometheus's default scrape timeout (10 s)


class MetricsPage:
    def __init__(self, app: App) -> None:
        self.app = app

    async def answer(self, request: web.Request) -> web.Response:
        await self.read_database()
        body = generate_latest(self.app.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def read_database(self) -> None:
        metrics, settings = self.app.metrics, self.app.settings
        metrics.workers_alive.set(self.app.presence.live)
        try:
            async with asyncio.timeout(SCRAPE_DATABASE_SECONDS), self.app.sessions() as db:
                now = self.app.clock.now()
                backlog = await gauges.outbox_backlog(db, now)
                if self.app.engine.dialect.name == "postgresql":
                    holders = await gauges.advisory_lock_holders(db, TICK_LOCK)
                else:  # one process: this one, if its scheduler ticks
                    holders = int(metrics.holds_tick_lock)
                expires_at = None
                if "zalo" in settings.messengers:
                    expires_at = await gauges.zalo_token_expires_at(db, settings.zalo_oa_app_id)
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            log.warning("/metrics: the database does not answer (%s)", type(error).__name__)
            metrics.database_up.set(0)
            return
        metrics.database_up.set(1)
        metrics.outbox_backlog.set(backlog.due)
        oldest = backlog.oldest_due_at
        metrics.outbox_oldest.set((now - oldest).total_seconds() if oldest is not None else 0)
        metrics.lock_holders.set(holders)
        if expires_at is not None:
            metrics.zalo_token_left.set((expires_at - now).total_seconds())
