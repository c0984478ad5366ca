"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from storage import sqlite_inline

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
ERASED = "tiepdan.erased"  # in a session's info: personal data was erased in it
TURN_WRITES = "tiepdan.turn_writes"  # in a session's info while a dialog turn is open
START_LOCK = 0x7469_656D  # "tiem": the advisory lock id of a start's preparation


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


POOL_OVERFLOW = 10  # PostgreSQL connections opened beyond the pool at a peak, closed after use


def create_engine(url: str, pool_size: int | None = None, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite every transaction takes the write lock up front.

    SQLite lets only one writer in at a time. A deferred transaction that reads
    first and writes later can fail at once with "database is locked" when two
    of them race; `BEGIN IMMEDIATE` makes the second wait (busy timeout) instead,
    which is what keeps concurrent sign-ups correct on the embedded engine.

    `hide_parameters`: a failing statement's error carries no bound values, so names, phone
    and ID numbers, addresses and summaries never reach a log line or an exception message.

    SQLite runs through `storage.sqlite_inline`: statements on the event loop, no thread hop
    per call as with aiosqlite; a lock held by another process is waited for off the loop.
    """
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        # No ping before each checkout (a round trip per event): a connection found dead is
        # invalidated when used, and the dialog engine runs that event again. `pool_size`:
        # connections kept open (with SQLAlchemy's 5, 200 citizens at once made the bot open and
        # close connections over and over: 299 in one bench run, 27 with 20).
        if pool_size is not None:
            kwargs.update(pool_size=pool_size, max_overflow=POOL_OVERFLOW)
        return create_async_engine(url, **kwargs)

    # aiosqlite logs every statement with its values at DEBUG ("executing …"), which
    # hide_parameters does not reach: with LOG_LEVEL=DEBUG that would log every citizen's data.
    # (Our driver logs nothing; this stays for anything that still opens aiosqlite.)
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    sqlite_url = make_url(url).set(drivername=f"sqlite+{sqlite_inline.DRIVER}")
    database = sqlite_url.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # One connection per process: writers queue on the pool (FIFO, no busy-wait
    # sleeps) instead of contending for SQLite's lock; other processes still wait
    # on the busy timeout. So never open a second session while holding one.
    engine = create_async_engine(
        sqlite_url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},  # the driver waits off the event loop
        pool_size=1,
        max_overflow=0,
        pool_timeout=SQLITE_BUSY_TIMEOUT_S,
        **kwargs,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # What a change frees (an erased name, a deleted row) is overwritten with zeros,
        # not left readable in the file's free space.
        cursor.execute("PRAGMA secure_delete=ON")
        # No PRAGMA busy_timeout: SQLite would wait for a lock on the event loop; the driver
        # asks again for SQLITE_BUSY_TIMEOUT_S (the `timeout` above) without blocking it.
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def one_statement(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for work done in one statement, which is atomic by itself: on PostgreSQL it
    runs without BEGIN and COMMIT around it (one round trip, not three); on SQLite, whose
    transactions cost no round trip, in a transaction as any other."""
    async with sessions() as db:
        if db.get_bind().dialect.name != "postgresql":
            async with db.begin():
                yield db
            return
        await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield db


def dialect_insert(db: AsyncSession, model: type[Any]) -> Any:
    """The INSERT of the session's engine, which knows ON CONFLICT on both of ours."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


async def insert_if_absent(db: AsyncSession, model: type[Any], values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO NOTHING: safe when two workers race to create the same row."""
    await db.execute(dialect_insert(db, model).values(**values).on_conflict_do_nothing())


async def write_with_turn(db: AsyncSession, statement: Any, params: dict[str, Any]) -> None:
    """A write nothing later in the same event reads back (an audit entry, the citizen's
    language or consent). With a dialog turn open (`storage.conversations.open_turn`), it
    goes with the turn's closing write, on PostgreSQL as a part of that one statement;
    otherwise at once.

    `statement` is built once, with parameters named for it alone (`audit_at`, not `at`): the
    turn's writes share one statement's parameters. Each value is given, none left to the
    models' Python-side defaults, which a WITH clause does not get."""
    pending = db.info.get(TURN_WRITES)
    if pending is None:
        await db.execute(statement, params)
    else:
        pending.append((statement, params))


def mark_erased(db: AsyncSession) -> None:
    """Personal data was erased in this session: `scrub_erased` runs after its commit."""
    db.info[ERASED] = True


async def scrub_erased(db: AsyncSession) -> None:
    """After a committed erasure, on SQLite: copy the write-ahead log into the database file
    and empty it, since the WAL still holds the pages as they were before. Call it outside
    any transaction. A checkpoint that other readers hold up is logged; the retention sweep
    checkpoints again within the hour."""
    if not db.info.pop(ERASED, False):
        return
    engine = db.bind
    if not isinstance(engine, AsyncEngine):
        return
    try:
        await checkpoint(engine)
    except Exception:  # the erasure itself is committed: the citizen is not told it failed
        log.exception("the WAL checkpoint after an erasure failed; retried at the next sweep")


async def checkpoint(engine: AsyncEngine) -> None:
    """`PRAGMA wal_checkpoint(TRUNCATE)` on SQLite (nothing to do on PostgreSQL). It runs on
    the driver's connection: SQLAlchemy would open a transaction, in which it cannot run."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert isinstance(driver, sqlite_inline.InlineConnection)  # a live connection, just checked out
        busy, _log_frames, _copied = await sqlite_inline.wal_checkpoint(driver)
    if busy:
        log.warning("a WAL checkpoint was held up by a reader; done again at the next sweep")


@asynccontextmanager
async def start_lock(database_url: str) -> AsyncIterator[None]:
    """One process at a time in the block: on PostgreSQL a session advisory lock, held on a
    connection of its own (a process that dies lets it go with its connection). The second
    of two workers starting together waits, then finds the schema migrated and the demo data
    loaded. SQLite: one process, nothing to do."""
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
