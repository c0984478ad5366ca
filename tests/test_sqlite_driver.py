"""SQLite through storage.sqlite_inline: statements on the event loop, no thread hop per call,
and a lock held by another process waited for without holding the loop."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import pytest
from aiohttp import web
from sqlalchemy import exc, insert, select, text

from bot import serve
from bot.app import App, build_app
from bot.serve import Health
from storage import db as storage_db
from storage.db import checkpoint
from storage.models import ConversationState
from tests.conftest import NOW, make_settings
from tests.fakes.local_http import serve_locally
from tests.test_serve import get_health

# Another process: takes SQLite's write lock, says so, and keeps it until told on stdin.
LOCK_HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("COMMIT")
"""


class LockHolder:
    """A second process holding the database's write lock (as `tiepdan` commands do)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> LockHolder:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LOCK_HOLDER,
            str(self.path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert await asyncio.wait_for(self.process.stdout.readline(), timeout=30) == b"locked\n"
        return self

    async def release(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        if self.process.returncode is None and not self.process.stdin.is_closing():
            self.process.stdin.write(b"\n")
            await self.process.stdin.drain()
            self.process.stdin.close()
        assert await asyncio.wait_for(self.process.wait(), timeout=30) == 0

    async def __aexit__(self, *_exc: object) -> None:
        await self.release()


class LoopWatch:
    """The longest the event loop was late for a 10 ms tick: how long something held it."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(0.01)
            self.longest = max(self.longest, time.perf_counter() - asked - 0.01)

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self, _type: type[BaseException] | None, _error: BaseException | None, _trace: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
def sqlite_path(sqlite_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "tiepdan.db"
    shutil.copy(sqlite_template, path)
    return path


@pytest.fixture
async def sqlite_app(sqlite_path: Path) -> App:
    app = build_app(make_settings(f"sqlite+aiosqlite:///{sqlite_path}"))
    yield app  # type: ignore[misc]
    await app.close()


async def write_state(app: App, user_id: str) -> None:
    async with app.sessions() as db, db.begin():
        await db.execute(
            insert(ConversationState).values(
                channel="telegram", user_id=user_id, flow="", step="", data={}, updated_at=NOW
            )
        )


async def users_with_state(app: App) -> list[str]:
    async with app.sessions() as db:
        return list(await db.scalars(select(ConversationState.user_id).order_by(ConversationState.user_id)))


async def test_a_write_waits_for_another_process_lock_while_the_bot_still_answers(
    sqlite_app: App, sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve, "DATABASE_PROBE_SECONDS", 0.5)
    health = Health(sqlite_app)
    health.ready = True
    application = web.Application()
    application.router.add_get("/healthz", health.answer)
    runner, url = await serve_locally(application)
    try:
        async with LoopWatch() as watch, LockHolder(sqlite_path) as holder:
            writer = asyncio.create_task(write_state(sqlite_app, "u-1"))
            await asyncio.sleep(0.5)
            assert not writer.done()  # waiting for the other process's lock
            asked = time.monotonic()
            assert await get_health(url) == (503, {"ok": False, "ready": True, "database": "unreachable"})
            assert time.monotonic() - asked < 3  # answered by the probe's time-out, not the lock's
            await holder.release()
            await asyncio.wait_for(writer, timeout=10)  # written once the lock is free
        assert watch.longest < 0.5  # the loop served on; SQLite's busy handler would hold it
        assert await users_with_state(sqlite_app) == ["u-1"]
        assert await get_health(url) == (200, {"ok": True, "ready": True, "database": "reachable"})
    finally:
        await runner.cleanup()


async def test_a_lock_held_past_the_busy_timeout_fails_as_database_is_locked(
    sqlite_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_db, "SQLITE_BUSY_TIMEOUT_S", 0.5)
    app = build_app(make_settings(f"sqlite+aiosqlite:///{sqlite_path}"))
    try:
        async with LoopWatch() as watch, LockHolder(sqlite_path):
            started = time.monotonic()
            with pytest.raises(exc.OperationalError, match="database is locked"):
                await write_state(app, "u-1")
            waited = time.monotonic() - started
        assert 0.4 < waited < 5
        assert watch.longest < 0.3
        await write_state(app, "u-2")  # the connection serves on
        assert await users_with_state(app) == ["u-2"]
    finally:
        await app.close()


async def test_a_wait_for_the_lock_can_be_cancelled(sqlite_app: App, sqlite_path: Path) -> None:
    async with LockHolder(sqlite_path):
        writer = asyncio.create_task(write_state(sqlite_app, "u-1"))
        await asyncio.sleep(0.3)
        writer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writer
    await write_state(sqlite_app, "u-2")
    assert await users_with_state(sqlite_app) == ["u-2"]


async def test_a_checkpoint_waits_for_another_process_writer_off_the_loop(
    sqlite_app: App, sqlite_path: Path
) -> None:
    for number in range(20):
        await write_state(sqlite_app, f"u-{number:02}")
    wal = sqlite_path.with_name(sqlite_path.name + "-wal")
    assert wal.stat().st_size > 0
    async with LoopWatch() as watch, LockHolder(sqlite_path) as holder:
        checkpointing = asyncio.create_task(checkpoint(sqlite_app.engine))
        await asyncio.sleep(0.5)
        assert not checkpointing.done()  # TRUNCATE waits for the writer to finish
        await holder.release()
        await asyncio.wait_for(checkpointing, timeout=10)
    assert watch.longest < 0.5
    assert wal.stat().st_size == 0  # copied into the database and emptied
    assert len(await users_with_state(sqlite_app)) == 20


async def test_statements_run_on_the_loop_and_a_writing_commit_in_a_thread(sqlite_app: App) -> None:
    traced: list[tuple[str, bool]] = []
    loop_thread = threading.current_thread()
    async with sqlite_app.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        driver.set_trace_callback(
            lambda sql: traced.append((sql.split()[0], threading.current_thread() is loop_thread))
        )
        try:
            await connection.execute(text("SELECT 1"))
            await connection.commit()  # nothing written: nothing to sync
            await connection.execute(
                insert(ConversationState).values(
                    channel="telegram", user_id="u-1", flow="", step="", data={}, updated_at=NOW
                )
            )
            await connection.commit()
        finally:
            driver.set_trace_callback(None)
    assert traced == [
        ("BEGIN", True),
        ("SELECT", True),
        ("COMMIT", True),
        ("BEGIN", True),
        ("INSERT", True),
        ("COMMIT", False),  # the disk sync, in a worker thread
    ]


async def test_a_returning_result_left_unread_does_not_stop_the_commit(sqlite_app: App) -> None:
    """The driver reads a query's rows when it runs: SQLite refuses to commit while a
    statement is still being read ("SQL statements in progress")."""
    async with sqlite_app.engine.connect() as connection:
        unread = await connection.execute(
            insert(ConversationState)
            .values(channel="telegram", user_id="u-1", flow="", step="", data={}, updated_at=NOW)
            .returning(ConversationState.user_id)
        )
        await connection.commit()
        assert unread.scalar_one() == "u-1"
    assert await users_with_state(sqlite_app) == ["u-1"]
