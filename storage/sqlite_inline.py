"""SQLite for the async engine without a thread hop per statement.

aiosqlite runs every call (execute, fetch, cursor close, commit…) in its own thread through a
queue: about 59 thread hops per event, which cost more CPU than the statements themselves
(bench/sqlite_driver.py). This driver calls sqlite3 directly in SQLAlchemy's greenlet, on the
event loop, which is quick: a statement of ours takes tens of microseconds. Two things could
make the loop wait, and neither runs inline:

- **the write lock held by another process** (a `tiepdan` command while the bot runs): the
  connection has no busy timeout (SQLite answers "busy" at once), and a statement that was
  refused is tried again after an asyncio sleep, on SQLite's own schedule, until the lock
  timeout is spent: the loop serves everything else meanwhile, as aiosqlite's thread did;
- **the disk**: COMMIT syncs the write-ahead log (and now and then checkpoints it), so it runs
  in the connection's own thread: one hop per writing transaction instead of one per call. (A
  transaction that changed no row, or only the schema, commits on the loop.)

Registered as the SQLAlchemy dialect `sqlite+inline`; `storage.db.create_engine` uses it for
`sqlite+aiosqlite` URLs (what settings and users write).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator
from typing import Any, TypeVar

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine.url import URL
from sqlalchemy.util.concurrency import await_, in_greenlet

T = TypeVar("T")

DRIVER = "inline"
DEFAULT_LOCK_TIMEOUT_S = 5.0  # sqlite3's own default busy timeout
# Pauses between attempts to get a lock, as SQLite's own busy handler sleeps (ms), then 100 ms.
RETRY_DELAYS_MS = (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50)
LAST_DELAY_MS = 100


def is_busy(error: sqlite3.OperationalError) -> bool:
    """SQLite refused a lock another connection holds (SQLITE_BUSY and its extended codes)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


def _delays() -> Iterator[float]:
    yield from (ms / 1000 for ms in RETRY_DELAYS_MS)
    while True:
        yield LAST_DELAY_MS / 1000


def _pause(seconds: float) -> None:
    """Sleep without holding the event loop when called from SQLAlchemy's greenlet."""
    if in_greenlet():
        await_(asyncio.sleep(seconds))
    else:  # a worker thread, or plain sync use
        time.sleep(seconds)


def retry_while_busy(attempt: Callable[[], T], refused: sqlite3.OperationalError, timeout: float) -> T:
    """Try `attempt` again, pausing in between, while SQLite says busy and `timeout` lasts;
    then raise SQLite's last refusal ("database is locked"), as its busy timeout would."""
    deadline = time.monotonic() + timeout
    for delay in _delays():
        if time.monotonic() + delay > deadline:
            raise refused
        _pause(delay)
        try:
            return attempt()
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            refused = error
    raise AssertionError("unreachable: the delays never end")


class DiskThread:
    """A connection's own thread for the calls that wait on the disk or on other connections
    (COMMIT, a checkpoint). Kept for the connection's life, as aiosqlite's was: a hop to it
    costs about 37 µs of CPU here, one through the loop's default executor about 62 µs."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    async def run(self, call: Callable[[], T]) -> T:
        """`call` in the thread. Cancelled meanwhile, this still waits for the call to end
        before it gives up: the loop must not use the connection while the thread does."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="sqlite-disk", daemon=True)
            self._thread.start()
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put((call, done))
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            await asyncio.wait([done])
            raise

    def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, done = job
            result, error = None, None
            try:
                result = call()
            except BaseException as raised:
                error = raised
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                done.get_loop().call_soon_threadsafe(_settle, done, result, error)


def _settle(done: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)


class _Ready(Awaitable[None]):
    """An awaitable that is already done: awaiting it costs two greenlet switches, no loop turn."""

    def __await__(self) -> Generator[None, None, None]:
        return
        yield  # a generator that ends at once


_READY = _Ready()


def _awaited_something() -> None:
    """SQLAlchemy's `AsyncConnection.execute` refuses a driver that awaited nothing (its guard
    against a sync driver), so each statement awaits something already done."""
    if in_greenlet():
        await_(_READY)


class InlineCursor(sqlite3.Cursor):
    """A statement refused for a lock outside a transaction (BEGIN IMMEDIATE, a PRAGMA) is
    tried again later. Inside a transaction it is not: SQLite then asks for a rollback, and
    ours take every lock at BEGIN IMMEDIATE, so none is refused there.

    A query's rows are all read when it runs, as aiosqlite's adapter did: a statement left
    half-read (a RETURNING result nobody read) would keep its transaction from committing
    ("SQL statements in progress") and hold an old snapshot against checkpoints."""

    __slots__ = ("_rows",)
    connection: InlineConnection

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(connection)
        self._rows: deque[Any] = deque()

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's async results after execute, for drivers that close their
        cursor there: the rows are already read and the statement done."""

    def execute(self, sql: str, parameters: Any = (), /) -> InlineCursor:
        _awaited_something()
        self._run(sqlite3.Cursor.execute, sql, parameters)
        self._rows = deque(sqlite3.Cursor.fetchall(self)) if self.description is not None else deque()
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> InlineCursor:
        _awaited_something()
        self._run(sqlite3.Cursor.executemany, sql, list(seq_of_parameters))  # a list: tried again
        self._rows = deque()
        return self

    def _run(self, method: Callable[[sqlite3.Cursor, str, Any], object], sql: str, parameters: Any) -> None:
        outside = not self.connection.in_transaction
        try:
            method(self, sql, parameters)
        except sqlite3.OperationalError as error:
            if not (outside and is_busy(error)):
                raise
            retry_while_busy(lambda: method(self, sql, parameters), error, self.connection.lock_timeout)

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(self.arraysize if size is None else size, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __next__(self) -> Any:
        if self._rows:
            return self._rows.popleft()
        raise StopIteration


class InlineConnection(sqlite3.Connection):
    """sqlite3's connection with our cursor, and COMMIT (a disk sync) off the event loop."""

    lock_timeout = DEFAULT_LOCK_TIMEOUT_S  # how long a refused lock is asked for again
    commit_in_thread = True  # the benchmark measures it False as well
    _changes_at_last_end = 0  # `total_changes` when the last transaction ended

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disk = DiskThread()

    def close(self) -> None:
        self.disk.stop()
        super().close()

    def cursor(self, factory: Any = InlineCursor) -> Any:
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> InlineCursor:
        cursor: InlineCursor = self.cursor()
        return cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> InlineCursor:
        cursor: InlineCursor = self.cursor()
        return cursor.executemany(sql, parameters)

    def commit(self) -> None:
        if not self.in_transaction:
            return
        # A transaction that changed no row writes nothing to sync: it ends on the loop.
        wrote = self.total_changes != self._changes_at_last_end
        if wrote and self.commit_in_thread and in_greenlet():
            await_(self.disk.run(self._commit))
        else:
            self._commit()
        self._changes_at_last_end = self.total_changes

    def rollback(self) -> None:
        super().rollback()
        self._changes_at_last_end = self.total_changes

    def _commit(self) -> None:
        # Never refused for a lock: in WAL mode a transaction that began IMMEDIATE holds all
        # it needs to commit.
        super().commit()


class InlineSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite under the async engine: `is_async` gives it the asyncio pool; the driver's
    calls return at once, so SQLAlchemy's greenlet never has to wait for them."""

    driver = DRIVER
    is_async = True
    has_terminate = True
    supports_statement_cache = True

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool if cls._is_url_file_db(url) else pool.StaticPool

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        # sqlite3's `timeout` (how long to wait for a lock) becomes ours, asked for again off
        # the loop; SQLite itself must never wait for one.
        lock_timeout = float(cparams.pop("timeout", DEFAULT_LOCK_TIMEOUT_S))
        cparams.update(timeout=0, factory=InlineConnection, check_same_thread=False)
        connection = super().connect(*cargs, **cparams)
        connection.lock_timeout = lock_timeout
        return connection

    def do_terminate(self, dbapi_connection: Any) -> None:
        dbapi_connection.close()  # at once, and it ends the connection's disk thread


async def wal_checkpoint(connection: InlineConnection) -> tuple[int, int, int]:
    """`PRAGMA wal_checkpoint(TRUNCATE)`: (busy, log frames, frames copied). It waits for other
    connections' readers and writer in SQLite's busy handler, up to the lock timeout: so it
    runs in the connection's disk thread, with that busy timeout set for it alone."""

    def run() -> tuple[int, int, int]:
        connection.execute(f"PRAGMA busy_timeout={int(connection.lock_timeout * 1000)}")
        try:
            busy, log_frames, copied = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            connection.execute("PRAGMA busy_timeout=0")
        return busy, log_frames, copied

    return await connection.disk.run(run)


registry.register(f"sqlite.{DRIVER}", __name__, "InlineSQLiteDialect")
