"""Fixtures: every database test runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.

With TIEPDAN_REQUIRE_POSTGRES=1 (as in CI) a PostgreSQL test that cannot run fails
instead of being skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

import bot.channels.telegram  # noqa: F401  aiogram as `tiepdan run` has it: its types built when used
from bot.app import App, build_app
from bot.channels.telegram.runner import TelegramBot
from bot.clock import FrozenClock
from bot.settings import Settings
from storage import migrate
from storage.endpoints import EndpointRow, upsert_endpoints
from storage.models import Base, Endpoint
from storage.sessions import create_session
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ChatUser
from tests.telegram_harness import make_telegram_bot

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# Monday 23 November 2026, 09:00 in Vietnam.
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=VN).astimezone(UTC)
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
REQUIRE_POSTGRES = os.environ.get("TIEPDAN_REQUIRE_POSTGRES") == "1"
SKIP_REASON = "PostgreSQL tests skipped: set TEST_DATABASE_URL=postgresql+asyncpg://... to run them"


def pytest_report_header() -> str:
    if POSTGRES_URL:
        return f"databases: SQLite and PostgreSQL ({POSTGRES_URL})"
    return f"databases: SQLite only — {SKIP_REASON}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    import asyncio

    asyncio.run(migrate.upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> str:
    """The PostgreSQL test database, emptied and migrated to head once per run."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("TIEPDAN_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
        pytest.skip(SKIP_REASON)
    import asyncio

    async def reset() -> None:
        from storage.db import create_engine

        engine = create_engine(POSTGRES_URL)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        finally:
            await engine.dispose()
        await migrate.upgrade(POSTGRES_URL)

    try:
        asyncio.run(reset())
    except OSError as error:
        message = f"PostgreSQL at TEST_DATABASE_URL is not reachable: {error}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each engine."""
    if request.param == "sqlite":
        path = tmp_path / "tiepdan.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_ready")
    yield url
    _truncate_postgres(url)


def _truncate_postgres(url: str) -> None:
    import asyncio

    async def truncate() -> None:
        from storage.db import create_engine

        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                # All but the catalog's version, whose one row the migration wrote.
                tables = ", ".join(
                    table.name for table in Base.metadata.sorted_tables if table.name != "catalog_version"
                )
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    asyncio.run(truncate())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


def make_settings(database_url: str, **overrides: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **overrides)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[App]:
    app = build_app(settings, clock)
    yield app
    await app.close()


def local(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> datetime:
    """A moment given in Vietnam time, as the aware UTC datetime the code stores."""
    return datetime(year, month, day, hour, minute, tzinfo=VN).astimezone(UTC)


@dataclass
class World:
    """Endpoints and sessions every flow test can count on."""

    endpoint_ids: dict[str, int]
    first_id: int  # opens registration until 2 Dec 2026 08:00 (VN)
    second_id: int
    first_start: datetime
    second_start: datetime
    # session endpoint ids by (session id, endpoint code)
    seats: dict[tuple[int, str], int]


WORLD_ENDPOINTS = [
    EndpointRow("P-TANBINH", "Phường Tân Bình", "Khu vực phía Tây", "UBND phường Tân Bình"),
    EndpointRow("X-BINHCHANH", "Xã Bình Chánh", "Khu vực phía Nam", "UBND xã Bình Chánh"),
    EndpointRow("DK-CONDAO", "Đặc khu Côn Đảo", "Hải đảo", "UBND đặc khu Côn Đảo"),
    *(EndpointRow(f"P-{n:02d}", f"Phường Số {n}", "Khu vực khác", "") for n in range(1, 11)),
]


@pytest.fixture
async def world(app: App) -> World:
    now = app.clock.now()
    first_start, second_start = local(2026, 12, 7, 8, 0), local(2027, 1, 11, 8, 0)
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, WORLD_ENDPOINTS)
        endpoints = {e.code: e for e in await db.scalars(select(Endpoint))}
        capacities = {"P-TANBINH": 2}
        first = await create_session(
            db,
            title="Tiếp công dân tháng 12",
            starts_at=first_start,
            now=now,
            endpoints=[(e, capacities.get(code, 30)) for code, e in endpoints.items()],
            online_room="https://meet.example/tcd",
        )
        second = await create_session(
            db,
            title="Tiếp công dân tháng 1",
            starts_at=second_start,
            now=now,
            endpoints=[(e, 30) for e in endpoints.values()],
        )
        seats = {
            (session.id, link.endpoint.code): link.id
            for session in (first, second)
            for link in session.endpoints
        }
        return World(
            endpoint_ids={code: e.id for code, e in endpoints.items()},
            first_id=first.id,
            second_id=second.id,
            first_start=first_start,
            second_start=second_start,
            seats=seats,
        )


@pytest.fixture
def chat(app: App) -> ChatUser:
    return ChatUser(app.dialog)


ADMIN_ID = "9000"


@pytest.fixture
async def staff_app(database_url: str, clock: FrozenClock) -> AsyncIterator[App]:
    """The app with `ADMINS=test:9000`."""
    app = build_app(make_settings(database_url, admins=f"test:{ADMIN_ID}"), clock)
    yield app
    await app.close()


@pytest.fixture
def admin(staff_app: App) -> ChatUser:
    return ChatUser(staff_app.dialog, user_id=ADMIN_ID)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    """The fake Bot API, strict: a request the real one would refuse fails the test."""
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], server.violations


@pytest.fixture
async def polling(app: App, fake: FakeTelegram) -> AsyncIterator[TelegramBot]:
    """The app's Telegram bot polling the fake, until the test ends."""
    app.settings.telegram_polling_timeout = 1
    telegram = make_telegram_bot(app, fake)
    task = asyncio.create_task(telegram.run_polling())
    await fake.wait_until(lambda: fake.calls_of("getUpdates"))
    yield telegram
    await telegram.stop()
    await asyncio.wait_for(task, timeout=10)
