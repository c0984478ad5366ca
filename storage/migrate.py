"""Alembic driven from code, so `tiepdan db upgrade` needs no alembic.ini.

On PostgreSQL several workers may start together: migrations (and whatever else a start
prepares, see `exclusive`) run one process at a time, under an advisory lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
START_LOCK = 0x7469_656D  # "tiem": the advisory lock id of a start's preparation


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


class MigrationError(Exception):
    """Alembic refused a revision (unknown, or not below the database's): said in its words."""


def revisions() -> list[tuple[str, str]]:
    """(revision, what it does), oldest first."""
    script = ScriptDirectory.from_config(alembic_config(""))
    return [(s.revision, s.doc or "") for s in reversed(list(script.walk_revisions()))]


def check_revision(revision: str) -> None:
    """Raise MigrationError if `revision` names no migration (checked without a database; a
    relative one such as -1 is checked when it is applied)."""
    if revision.startswith(("-", "+")):
        return
    try:
        ScriptDirectory.from_config(alembic_config("")).get_revisions(revision)
    except CommandError as error:
        raise MigrationError(str(error)) from None


async def current(database_url: str) -> str | None:
    """The database's revision (None: no migration applied, as after `downgrade base`)."""
    from storage.db import create_engine  # not at import: the CLI checks revisions without a driver

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


def already_at(current_revision: str | None, revision: str) -> bool:
    """Whether a database at `current_revision` already is at `revision` (a relative one such
    as -1 never is)."""
    if revision == "base":
        return current_revision is None
    if revision.startswith(("-", "+")) or current_revision is None:
        return False
    try:
        script = ScriptDirectory.from_config(alembic_config("")).get_revision(revision)
    except CommandError:
        return False
    return script is not None and script.revision == current_revision


@asynccontextmanager
async def exclusive(database_url: str) -> AsyncIterator[None]:
    """One process at a time in the block: on PostgreSQL a session advisory lock, held on a
    connection of its own (a process that dies lets it go with its connection). The second
    of two workers starting together waits, then finds the schema migrated and the demo data
    loaded. SQLite: one process, nothing to do."""
    from sqlalchemy import text

    from storage.db import create_engine, is_sqlite

    if is_sqlite(database_url):
        yield
        return
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": START_LOCK})
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": START_LOCK})
                await connection.commit()
    finally:
        await engine.dispose()


async def upgrade(database_url: str, revision: str = "head") -> None:
    async with exclusive(database_url):
        await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)


async def downgrade(database_url: str, revision: str) -> None:
    """Revert to `revision` ("base": no tables at all), dropping what came after it."""
    try:
        async with exclusive(database_url):
            await asyncio.to_thread(command.downgrade, alembic_config(database_url), revision)
    except CommandError as error:
        raise MigrationError(str(error)) from None
