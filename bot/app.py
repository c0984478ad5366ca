"""Wiring: settings, database, clock and the dialog engine, built once per process."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.dialog.engine import Dialog
from bot.metrics import Metrics
from bot.settings import Settings
from bot.workers import Presence
from handlers.registry import all_flows
from handlers.staff.access import commands_for
from storage.db import create_engine, is_sqlite, session_factory
from storage.staff import Actor


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    dialog: Dialog
    # The staff commands a role may use, in order: the flows' knowledge, handed to the
    # channels here so that no channel imports a flow (a platform's command menu).
    staff_commands: Callable[[Actor], tuple[str, ...]]
    presence: Presence  # this worker among those sharing the database
    metrics: Metrics  # what GET /metrics shows, this app's own registry

    async def close(self) -> None:
        await self.engine.dispose()


def build_app(settings: Settings, clock: Clock | None = None) -> App:
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    sessions = session_factory(engine)
    clock = clock or SystemClock()
    dialog = Dialog(sessions, settings, clock, all_flows())
    return App(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        dialog=dialog,
        staff_commands=commands_for,
        presence=Presence(sessions, settings, clock, sqlite=is_sqlite(settings.database_url)),
        metrics=Metrics(),
    )


def freeze_startup_objects() -> None:
    """Keep the garbage collector off what start-up made (modules, ORM mappers, pydantic
    models: hundreds of thousands of objects that live as long as the process). Scanned at
    every full collection, they paused the event loop for tens of milliseconds: long enough
    to bunch paced messages into a burst that the platform answers with 429s (see
    bench/README.md). Call it once everything is imported and built, before serving."""
    gc.collect()
    gc.freeze()
