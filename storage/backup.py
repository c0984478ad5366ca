"""Backups of an SQLite database with SQLite's online backup API, and their restore.

A backup copies the pages in one step, inside one read transaction: in WAL mode the bot's
writers go on meanwhile, and the copy holds the database as it was when the step began,
every transaction committed before it and none after. It is written beside its name and
renamed when complete and checked, so a file at PATH is always a whole backup.

A restore writes over a database no process has open: it takes SQLite's exclusive lock on
the file, which every open connection of a WAL database stands in the way of (the bot keeps
its connection open while it runs), so a running `tiepdan run` or `tiepdan chat` is found
whether or not it is writing at that moment, and a stopped or killed one is not.
PostgreSQL has pg_dump and pg_restore for both.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

BACKUP_SUFFIX = ".db"


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason to tell the operator."""


class DatabaseInUse(BackupError):
    """A process has the database open: a restore would pull it from under a running bot."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    revision: str  # the schema revision it holds ("" when it has none)


def sqlite_file(database_url: str) -> Path:
    """The file of an SQLite DATABASE_URL."""
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL names no SQLite file")
    return Path(database)


@contextlib.contextmanager
def _connection(path: Path, *, timeout: float = 30.0) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        yield connection
    finally:
        connection.close()


def _check(connection: sqlite3.Connection, what: str) -> str:
    """Raise unless the database is whole and a tiepdan one; its schema revision."""
    try:
        verdict = connection.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"{what} is damaged: {verdict}")
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{what} is not a tiepdan database: {error}") from None
    return str(row[0]) if row else ""


def _new_private_file(path: Path) -> None:
    """An empty file only its owner can read: a backup holds citizens' personal data."""
    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def backup(source: Path, target: Path, now: datetime) -> Backup:
    """Copy the live database `source` to `target` (a new file, or a folder to put it in)."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    if target.is_dir():
        target = target / f"tiepdan-{now:%Y%m%d-%H%M%S}{BACKUP_SUFFIX}"
    if target.exists():
        raise BackupError(f"{target} exists; name a new file")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    _new_private_file(partial)
    try:
        with _connection(source) as live, _connection(partial) as copy:
            live.backup(copy)  # all pages in one step: one read transaction, one moment
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
            revision = _check(copy, "the copy")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return Backup(target, target.stat().st_size, revision)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding the database's exclusive lock until it closes, or DatabaseInUse."""
    with _connection(path, timeout=0) as connection:
        connection.execute("PRAGMA locking_mode=EXCLUSIVE")
        try:
            connection.execute("BEGIN EXCLUSIVE")
            connection.execute("COMMIT")  # in EXCLUSIVE locking mode the lock stays held
        except sqlite3.OperationalError as error:
            raise DatabaseInUse(f"{path} is open in another process ({error})") from None
        yield connection


def _read_only(path: Path) -> str:
    """The URI that opens `path` read-only (never creating it), whatever characters it has."""
    return f"{path.resolve().as_uri()}?mode=ro"


def check_backup(path: Path) -> str:
    """Raise unless `path` is a whole tiepdan database; its schema revision."""
    if not path.is_file():
        raise BackupError(f"there is no backup at {path}")
    with contextlib.closing(sqlite3.connect(_read_only(path), uri=True)) as connection:
        return _check(connection, str(path))


def restore(backup_file: Path, target: Path, now: datetime) -> Path | None:
    """Write `backup_file` over the database `target`, which no process may have open.
    Returns the copy kept of the database replaced (None when there was none)."""
    check_backup(backup_file)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        _new_private_file(target)
        kept = None
    else:
        kept = target.with_name(f"{target.name}.before-restore-{now:%Y%m%d-%H%M%S}")
        if kept.exists():
            raise BackupError(f"{kept} exists; try again in a second")
    with _exclusive(target) as live:
        if kept is not None:
            _new_private_file(kept)
            with _connection(kept) as copy:
                live.backup(copy)
                copy.execute("PRAGMA journal_mode=DELETE")
        with contextlib.closing(sqlite3.connect(_read_only(backup_file), uri=True)) as source:
            source.backup(live)
        # The heartbeats copied are of the processes of the backup's moment, none of which runs
        # on this file (it is held here alone): left, they would keep `tiepdan run` from
        # starting on it until they aged (bot/workers.py refuses a second worker on SQLite).
        if live.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'workers'").fetchone():
            live.execute("DELETE FROM workers")
        _check(live, "the restored database")
    return kept
