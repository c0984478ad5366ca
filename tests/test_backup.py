"""`tiepdan backup` and `tiepdan restore`: a consistent copy of a live SQLite database, and a
restore that waits for the bot to be stopped, asks first and keeps what it replaces. The last
test follows the README's path with real `tiepdan run` processes."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp
import pytest
from alembic.script import ScriptDirectory

from bot import cli
from storage import migrate
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.worker_processes import ROOT, SECRET, Worker, post, wait_for

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def database_file(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite+aiosqlite:///"))


@pytest.fixture
def command_on(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`tiepdan` run against the test database (and no .env)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    return database_url


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(path)) as connection:  # closed: no lock left held
        return connection.execute(sql).fetchall()


class Writer(threading.Thread):
    """Commits one row after another into the live database until told to stop."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.committed = 0
        self.stop = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")  # as the bot's engine has it
        while not self.stop.is_set():
            connection.execute(
                "INSERT INTO workers (name, started_at, last_seen) VALUES (?, ?, ?)",
                (f"w{self.committed:06d}", "2026-12-01 00:00:00.000000", "2026-12-01 00:00:00.000000"),
            )
            self.committed += 1
        connection.close()


@SQLITE_ONLY
def test_a_backup_taken_while_writes_go_on_holds_every_row_committed_before_it(
    command_on: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = Writer(database_file(command_on))
    writer.start()
    try:
        while writer.committed < 200:
            threading.Event().wait(0.01)
        before = writer.committed
        assert cli.main(["backup", "copy.db"]) == 0
        during = writer.committed
    finally:
        writer.stop.set()
        writer.join()
    assert writer.committed > before  # the writes went on while the copy was taken
    told = capsys.readouterr().out
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert told.startswith("backup written to copy.db (") and f"schema revision {head}" in told
    copy = tmp_path / "copy.db"
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    names = [name for (name,) in rows(copy, "SELECT name FROM workers ORDER BY name")]
    # every row committed before, none torn: the rows of one moment, w000000 … w(n-1)
    assert before <= len(names) <= during + 1
    assert names == [f"w{n:06d}" for n in range(len(names))]
    assert oct(copy.stat().st_mode & 0o777) == "0o600"  # citizens' personal data
    assert not list(tmp_path.glob("copy.db-*")) and not list(tmp_path.glob(".copy.db*"))  # one file


@SQLITE_ONLY
def test_a_backup_never_overwrites_and_goes_into_a_folder_under_its_time(
    command_on: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken.db").write_bytes(b"an older backup")
    assert cli.main(["backup", "taken.db"]) == 1
    assert "taken.db exists" in capsys.readouterr().err
    assert (tmp_path / "taken.db").read_bytes() == b"an older backup"
    (tmp_path / "backups").mkdir()
    assert cli.main(["backup", "backups"]) == 0
    (made,) = (tmp_path / "backups").iterdir()
    assert made.name.startswith("tiepdan-") and made.suffix == ".db"
    assert cli.main(["backup", "nightly/"]) == 0  # a folder not made yet: made, the copy put in it
    (made,) = (tmp_path / "nightly").iterdir()
    assert made.name.startswith("tiepdan-") and made.suffix == ".db"


def test_on_postgresql_backup_and_restore_tell_the_pg_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://tiepdan:s3cret@db.office.vn:5433/tiepdan")
    for command in (["backup", "office.dump"], ["restore", "office.dump", "--yes"]):
        assert cli.main(command) == 2
        told = capsys.readouterr().err
        assert "pg_dump --format=custom -h db.office.vn -p 5433 -U tiepdan --file=office.dump tiepdan" in told
        assert "pg_restore --clean --if-exists --no-owner -h db.office.vn -p 5433 -U tiepdan" in told
        assert "s3cret" not in told
    assert list(tmp_path.iterdir()) == []


@SQLITE_ONLY
def test_restore_asks_first_and_keeps_the_database_it_replaces(
    command_on: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    live = database_file(command_on)
    assert cli.main(["backup", "before.db"]) == 0
    with contextlib.closing(sqlite3.connect(live, isolation_level=None)) as connection:
        connection.execute("INSERT INTO workers VALUES ('after-the-backup', '2026-12-01', '2026-12-01')")
    capsys.readouterr()

    monkeypatch.setattr(sys, "stdin", io.StringIO("no\n"))
    assert cli.main(["restore", "before.db"]) == 2
    assert "restore before.db --yes" in capsys.readouterr().out
    assert rows(live, "SELECT name FROM workers") == [("after-the-backup",)]  # untouched

    monkeypatch.setattr(sys, "stdin", io.StringIO("yes\n"))
    assert cli.main(["restore", "before.db"]) == 0
    assert rows(live, "SELECT name FROM workers") == []
    assert rows(live, "PRAGMA integrity_check") == [("ok",)]
    (kept,) = live.parent.glob(f"{live.name}.before-restore-*")
    assert str(kept) in capsys.readouterr().out
    assert rows(kept, "SELECT name FROM workers") == [("after-the-backup",)]


@SQLITE_ONLY
def test_restore_refuses_what_is_not_a_whole_tiepdan_database(
    command_on: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    live = database_file(command_on)
    size = live.stat().st_size
    (tmp_path / "notes.txt").write_text("not a database")
    with contextlib.closing(sqlite3.connect(tmp_path / "other.db", isolation_level=None)) as other:
        other.execute("CREATE TABLE t (x)")
    for wrong in ("notes.txt", "other.db", "missing.db"):
        assert cli.main(["restore", wrong, "--yes"]) == 1
        assert "nothing restored" in capsys.readouterr().err
    assert live.stat().st_size == size and not list(live.parent.glob("*.before-restore-*"))


@SQLITE_ONLY
def test_restore_refuses_while_another_process_has_the_database_open(
    command_on: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["backup", "b.db"]) == 0
    # An idle connection, as the bot's between two updates: no transaction, just open.
    holder = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL');"
        "c.execute('SELECT count(*) FROM workers').fetchall(); print('open', flush=True); sys.stdin.read()"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", holder, str(database_file(command_on))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == "open\n"
        assert cli.main(["restore", "b.db", "--yes"]) == 2
        assert "cannot restore while the bot runs" in capsys.readouterr().err
    finally:
        process.communicate("")
    assert cli.main(["restore", "b.db", "--yes"]) == 0  # the holder has gone


# --- the README's path: back up a live bot, restore into a stopped one, start on it ------


async def tiepdan(env: dict[str, str], workdir: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


@SQLITE_ONLY
async def test_the_readme_path_backup_of_a_live_bot_restored_into_a_stopped_one(
    database_url: str, tmp_path: Path
) -> None:
    live, other = tmp_path / "live.db", tmp_path / "other.db"
    shutil.copy(database_file(database_url), other)  # a stopped bot's database, to restore into
    fake = FakeTelegram()
    await fake.start()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": fake.base_url,
        "TELEGRAM_WEBHOOK_URL": "https://tiepdan.example.gov.vn",
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "WEB_HOST": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    running = Worker(env | {"DATABASE_URL": f"sqlite+aiosqlite:///{live}"}, tmp_path, "live")
    later = Worker(env | {"DATABASE_URL": f"sqlite+aiosqlite:///{other}"}, tmp_path, "restored")
    first, second = range(820_000, 820_010), range(820_100, 820_140)
    try:
        async with aiohttp.ClientSession() as http:
            await running.start()
            await running.ready(http)
            for user_id in first:
                assert await post(http, running, fake.message_update(user_id, "/start")) == 200
            assert await wait_for(lambda: all(fake.sent_to(u) for u in first), 30)

            async def more() -> None:  # citizens keep writing while the backup is taken
                for user_id in second:
                    await post(http, running, fake.message_update(user_id, "/start"))

            backing_up = tiepdan(running.env, tmp_path, "backup", "backup.db")
            (status, told), _ = await asyncio.gather(backing_up, more())
            assert status == 0, told
            status, told = await tiepdan(running.env, tmp_path, "restore", "backup.db", "--yes")
            assert status == 2 and "cannot restore while the bot runs" in told, told
            assert await running.stop() == 0

            status, told = await tiepdan(later.env, tmp_path, "restore", "backup.db", "--yes")
            assert status == 0, told
            await later.start()
            await later.ready(http)
            returning = first[0]
            assert await post(http, later, fake.message_update(returning, "/help")) == 200
            assert await wait_for(lambda: len(fake.sent_to(returning)) >= 2, 30), later.log_tail()
            assert await later.stop() == 0
    finally:
        await running.stop()
        await later.stop()
        await fake.stop()
    restored_as_backed_up(live, other, first, second)


def restored_as_backed_up(live: Path, restored: Path, first: range, second: range) -> None:
    """The citizens who wrote before the backup, and perhaps some who wrote during it."""
    users = {int(str(u)) for (u,) in rows(restored, "SELECT channel_user_id FROM citizens")}
    assert set(first) <= users <= set(first) | set(second)
    count = "SELECT count(*) FROM endpoints"
    assert rows(restored, count) == rows(live, count) != [(0,)]
    assert list(restored.parent.glob(f"{restored.name}.before-restore-*"))
