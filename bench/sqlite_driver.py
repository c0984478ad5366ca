"""Benchmark: ways to drive SQLite under SQLAlchemy's async engine (issue 11).

Each event does the least the bot writes for one: read the conversation state by key, write
it, mark the update handled (INSERT … ON CONFLICT DO UPDATE), in one BEGIN IMMEDIATE
transaction on a one-connection pool, on a WAL file with the settings of storage/db.py. The
events run one after another with a turn of the event loop between them (as when each comes
from the network); a ticker task measures how long the loop was held at a time. Measured:
CPU per event (time.process_time, every thread of the process) and wall per event, each as a
ratio to aiosqlite as the bot used it until now, in the same run:

- aiosqlite: every call (execute, fetch, cursor close, commit…) goes to aiosqlite's thread;
- aiosqlite-shaped inline adapter: SQLAlchemy's aiosqlite dialect, given (`async_creator`)
  a connection with aiosqlite's async API whose calls run sqlite3 at once on the loop;
- inline dialect, COMMIT inline: `storage.sqlite_inline` (sqlite3 called in SQLAlchemy's
  greenlet, no await per call), its COMMIT (a disk sync) inline too;
- inline dialect, COMMIT in thread: the same with COMMIT in a worker thread, which is what
  `storage.db.create_engine` now does;
- "…, one run_sync": the event's statements as sync code in one `AsyncConnection.run_sync`
  (one greenlet for the three statements; the bot's storage would have to be written so);
- one thread call per event: the event's Core statements on a sync pysqlite engine, the whole
  transaction in one `asyncio.to_thread` (the bot's storage would have to become sync code);
- sync pysqlite on the loop: the same without the thread, the floor (it blocks the loop for
  a lock held by another process and for every disk sync).

"Core" builds the statements once; "ORM" is the way the bot did it before issue 11 (an
AsyncSession, the state as an ORM object, the INSERT built per call).

    python -m bench.sqlite_driver [--events 1500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from storage.db import SQLITE_BUSY_TIMEOUT_S, create_engine
from storage.models import Base, ConversationState, InboundUpdate

USERS = 100
WARMUP = 100
TICKED = 300  # events run with the ticker
STATE = ConversationState.__table__
INBOUND = InboundUpdate.__table__

# Built once (the "Core" lines).
SELECT_STATE = select(STATE.c.flow, STATE.c.step, STATE.c.data).where(
    STATE.c.channel == bindparam("k_channel"), STATE.c.user_id == bindparam("k_user")
)
UPDATE_STATE = (
    update(STATE)
    .where(STATE.c.channel == bindparam("k_channel"), STATE.c.user_id == bindparam("k_user"))
    .values(step=bindparam("new_step"), data=bindparam("new_data"), updated_at=bindparam("now"))
)
_mark = sqlite_insert(INBOUND).values(
    channel=bindparam("k_channel"),
    update_id=bindparam("update_id"),
    payload=bindparam("payload"),
    received_at=bindparam("now"),
    handled_at=bindparam("now"),
    reply_to=bindparam("k_user"),
)
MARK_HANDLED = _mark.on_conflict_do_update(
    index_elements=[INBOUND.c.channel, INBOUND.c.update_id],
    set_={"handled_at": _mark.excluded.handled_at, "reply_to": _mark.excluded.reply_to},
    where=INBOUND.c.handled_at.is_(None),
)


def event_params(number: int) -> dict[str, Any]:
    return {
        "k_channel": "telegram",
        "k_user": str(number % USERS),
        "update_id": str(number),
        "payload": {},
        "now": datetime.now(UTC),
        "new_step": f"step{number % 7}",
        "new_data": {"turn": number, "name": "Nguyễn Văn An"},
    }


def prepare(engine: Engine, *, busy_timeout_pragma: bool) -> None:
    """The connection settings of storage/db.py, for the engines built here."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA secure_delete=ON")
        if busy_timeout_pragma:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


POOL = {"pool_size": 1, "max_overflow": 0, "pool_timeout": SQLITE_BUSY_TIMEOUT_S, "hide_parameters": True}


def aiosqlite_engine(path: str) -> AsyncEngine:
    """As storage/db.py built it until now."""
    engine = create_async_engine(
        f"sqlite+aiosqlite:///{path}", connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **POOL
    )
    prepare(engine.sync_engine, busy_timeout_pragma=True)
    return engine


class _ShapedCursor:
    """aiosqlite's cursor API, each call done at once on the loop."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _ShapedCursor:
        return self

    async def execute(self, sql: str, parameters: Any = None) -> _ShapedCursor:
        self._cursor.execute(sql, parameters or ())
        return self

    async def executemany(self, sql: str, parameters: Any) -> _ShapedCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    arraysize = 1


class _ShapedQueue:
    """SQLAlchemy sets isolation_level through aiosqlite's private queue: run it now."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        function()
        future.set_result(None)


class _ShapedConnection:
    """aiosqlite's connection API over sqlite3, without the thread (a sketch: no busy
    handling; a lock held elsewhere would block the loop for the busy timeout)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = self._connection = connection
        self._tx = _ShapedQueue(connection)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> _ShapedCursor:
        return _ShapedCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        self._conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)


def shaped_engine(path: str) -> AsyncEngine:
    async def connect() -> Any:
        return _ShapedConnection(
            sqlite3.connect(
                path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        )

    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", async_creator=connect, **POOL)
    prepare(engine.sync_engine, busy_timeout_pragma=True)
    return engine


def inline_engine(path: str, *, commit_in_thread: bool) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}", hide_parameters=True)
    if not commit_in_thread:

        @event.listens_for(engine.sync_engine, "connect")
        def _commit_inline(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.commit_in_thread = False

    return engine


def sync_engine(path: str) -> Engine:
    engine = sqlalchemy.create_engine(
        f"sqlite+pysqlite:///{path}", connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, **POOL
    )
    prepare(engine, busy_timeout_pragma=True)
    return engine


# One event each way.


async def core_event(engine: AsyncEngine, number: int) -> None:
    params = event_params(number)
    async with engine.begin() as connection:
        (await connection.execute(SELECT_STATE, params)).one()
        await connection.execute(UPDATE_STATE, params)
        await connection.execute(MARK_HANDLED, params)


def core_statements(connection: Connection, params: dict[str, Any]) -> None:
    connection.execute(SELECT_STATE, params).one()
    connection.execute(UPDATE_STATE, params)
    connection.execute(MARK_HANDLED, params)


async def run_sync_event(engine: AsyncEngine, number: int) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(core_statements, event_params(number))


def sync_core_event(engine: Engine, number: int) -> None:
    with engine.begin() as connection:
        core_statements(connection, event_params(number))


async def orm_event(sessions: async_sessionmaker[Any], number: int) -> None:
    params = event_params(number)
    async with sessions() as db, db.begin():
        state = await db.scalar(
            select(ConversationState)
            .where(
                ConversationState.channel == params["k_channel"],
                ConversationState.user_id == params["k_user"],
            )
            .with_for_update()
        )
        assert state is not None
        state.step = params["new_step"]
        state.data = params["new_data"]
        now = params["now"]
        insert = sqlite_insert(InboundUpdate).values(
            channel="telegram", update_id=params["update_id"], payload={}, received_at=now, handled_at=now
        )
        await db.execute(
            insert.on_conflict_do_update(
                index_elements=[InboundUpdate.channel, InboundUpdate.update_id],
                set_={"handled_at": now, "payload": {}},
                where=InboundUpdate.handled_at.is_(None),
            )
        )


@dataclass
class Figures:
    cpu_ms: float
    wall_ms: float
    hold_ms: float  # p99 over events of the longest the event loop went without a turn
    hops: float  # returns from another thread per event


class ThreadHops:
    """Counts the loop's `call_soon_threadsafe`: how a thread hands a result back (aiosqlite's
    queue and `run_in_executor` alike), once per hop."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> ThreadHops:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        self._loop = loop
        return self

    def __exit__(self, *_exc: object) -> None:
        del self._loop.call_soon_threadsafe  # the class's method again


class Ticker:
    """Notes the longest gap between two turns of the event loop."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def run_events(run_event: Callable[[int], Awaitable[None]], first: int, events: int) -> None:
    for number in range(first, first + events):
        await run_event(number)
        await asyncio.sleep(0)  # the next event comes through the loop


async def measure(run_event: Callable[[int], Awaitable[None]], first: int, events: int) -> Figures:
    """CPU and wall without the ticker (it spins while the loop is idle), then the loop's
    longest hold over a shorter run with it."""
    await run_events(run_event, first, WARMUP)
    first += WARMUP
    cpu, wall = time.process_time(), time.perf_counter()
    await run_events(run_event, first, events)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    first += events
    holds = []
    with Ticker() as ticker, ThreadHops() as hops:
        await asyncio.sleep(0)
        for number in range(first, first + TICKED):
            ticker.longest = 0.0
            await run_event(number)
            await asyncio.sleep(0)
            holds.append(ticker.longest)
    hold = statistics.quantiles(holds, n=100)[98]
    return Figures(cpu / events * 1000, wall / events * 1000, hold * 1000, hops.count / TICKED)


def make_database(path: str) -> None:
    engine = sync_engine(path)
    Base.metadata.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.insert(STATE),
            [
                {"channel": "telegram", "user_id": str(user), "flow": "register", "step": "", "data": {}}
                | {"updated_at": now}
                for user in range(USERS)
            ],
        )
    engine.dispose()


Option = tuple[str, str, Callable[[str], Any], Callable[[Any], Callable[[int], Awaitable[None]]]]


def options() -> Iterator[Option]:
    """(name, workload, engine maker, event runner)."""

    def core(engine: AsyncEngine) -> Callable[[int], Awaitable[None]]:
        return lambda number: core_event(engine, number)

    def orm(engine: AsyncEngine) -> Callable[[int], Awaitable[None]]:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        return lambda number: orm_event(sessions, number)

    def in_run_sync(engine: AsyncEngine) -> Callable[[int], Awaitable[None]]:
        return lambda number: run_sync_event(engine, number)

    def in_thread(engine: Engine) -> Callable[[int], Awaitable[None]]:
        return lambda number: asyncio.to_thread(sync_core_event, engine, number)

    def on_loop(engine: Engine) -> Callable[[int], Awaitable[None]]:
        async def run(number: int) -> None:
            sync_core_event(engine, number)

        return run

    asyncs: list[tuple[str, Callable[[str], AsyncEngine]]] = [
        ("aiosqlite (until now)", aiosqlite_engine),
        ("aiosqlite-shaped adapter, inline", shaped_engine),
        ("inline dialect, COMMIT inline", lambda path: inline_engine(path, commit_in_thread=False)),
        ("inline dialect, COMMIT in thread", lambda path: inline_engine(path, commit_in_thread=True)),
    ]
    for name, make in asyncs:
        yield name, "Core", make, core
    for name, make in (asyncs[0], asyncs[3]):
        yield f"{name.split(' (')[0].split(',')[0]}, one run_sync", "Core", make, in_run_sync
    yield "sync, one thread call per event", "Core", sync_engine, in_thread
    yield "sync pysqlite on the loop (floor)", "Core", sync_engine, on_loop
    for name, make in asyncs:
        yield name, "ORM", make, orm


async def dispose(engine: Any) -> None:
    if isinstance(engine, AsyncEngine):
        await engine.dispose()
    else:
        engine.dispose()


async def main(events: int, rounds: int) -> None:
    chosen = list(options())
    results: dict[tuple[str, str], list[Figures]] = {(name, work): [] for name, work, _, _ in chosen}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for index, (name, work, _, _) in enumerate(chosen):
            paths[name, work] = f"{tmp}/{index}.db"
            make_database(paths[name, work])
        first = 0
        for _ in range(rounds):  # interleaved, so that a noisy moment hits every option alike
            for name, work, make, runner in chosen:
                engine = make(paths[name, work])
                try:
                    results[name, work].append(await measure(runner(engine), first, events))
                finally:
                    await dispose(engine)
                first += WARMUP + events + TICKED
    print(f"SQLite drivers: {events} events × {rounds} rounds each (medians); an event reads the state,")
    print("writes it and marks the update handled in one transaction; ratios to aiosqlite, same workload")
    header = f"{'option':<36}{'work':<5}{'CPU/event':>10}{'ratio':>6}"
    print(header + f"{'wall/event':>11}{'ratio':>6}{'loop held p99':>14}{'hops':>6}")
    for work in ("Core", "ORM"):
        base: Figures | None = None
        for (name, kind), runs in results.items():
            if kind != work:
                continue
            cpu = statistics.median(r.cpu_ms for r in runs)
            wall = statistics.median(r.wall_ms for r in runs)
            hold = statistics.median(r.hold_ms for r in runs)
            hops = statistics.median(r.hops for r in runs)
            if base is None:
                base = Figures(cpu, wall, hold, hops)
            print(
                f"{name:<36}{work:<5}{cpu:>8.3f}ms{cpu / base.cpu_ms:>6.2f}"
                f"{wall:>9.3f}ms{wall / base.wall_ms:>6.2f}{hold:>12.2f}ms{hops:>6.1f}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.rounds))
