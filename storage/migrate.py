"""Alembic driven from code, so `tiepdan db upgrade` needs no alembic.ini.

On PostgreSQL several workers may start together: migrations (and whatever else a start
prepares, see `storage.db.start_lock`) run one process at a time, under an advisory lock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from storage.db import start_lock

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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


async def upgrade(database_url: str, revision: str = "head") -> None:
    async with start_lock(database_url):
        await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)


async def downgrade(database_url: str, revision: str) -> None:
    """Revert to `revision` ("base": no tables at all), dropping what came after it."""
    try:
        async with start_lock(database_url):
            await asyncio.to_thread(command.downgrade, alembic_config(database_url), revision)
    except CommandError as error:
        raise MigrationError(str(error)) from None


def head() -> str:
    """The revision this code expects the database to be at."""
    revision = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert revision is not None
    return revision
