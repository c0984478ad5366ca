"""What the issue 11 benchmarks share: the registration script, a seeded database, and the
figures' targets printed with PASS or MISS."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App, build_app
from bot.demo import DEMO_ENDPOINTS
from bot.settings import Settings
from storage import migrate
from storage.db import create_engine, is_sqlite
from storage.endpoints import read_endpoint_file, upsert_endpoints
from storage.models import Endpoint
from storage.sessions import create_session

# One registration as a citizen does it: ("text", ...) is typed, ("press", ...) a button.
REGISTRATION: list[tuple[str, str]] = [
    ("text", "/start"),
    ("press", "Tiếng Việt"),
    ("press", "Tôi đồng ý"),
    ("press", "Đăng ký tiếp công dân"),
    ("text", "tan binh"),
    ("press", "Phường Tân Bình"),
    ("press", "còn"),
    ("text", "Nguyễn Văn An"),
    ("text", "0912 345 678"),
    ("text", "079203001234"),
    ("text", "12 Lý Thường Kiệt, phường Tân Bình"),
    ("press", "Khiếu nại"),
    ("press", "Đất đai"),
    ("text", "Gia đình tôi bị thu hồi đất năm 2024 nhưng chưa nhận được tiền bồi thường."),
    ("press", "Xong"),  # the summary may come in several messages: done
    ("press", "Không gửi tệp"),
    ("press", "Chưa có cơ quan nào"),
    ("press", "Chỉ mình tôi"),
    ("press", "Xác nhận"),
]
CONFIRM = REGISTRATION[-1][1]
ROOT = Path(__file__).resolve().parent.parent


def engine_name(url: str) -> str:
    return "SQLite" if is_sqlite(url) else "PostgreSQL"


def remove_file(path: str) -> None:
    Path(path).unlink(missing_ok=True)


async def fresh_database(url: str) -> None:
    """An empty database: a SQLite file is new each time; a PostgreSQL one is emptied, and
    only if its name says it is for benchmarks or tests."""
    if is_sqlite(url):
        remove_file(url.split("///", 1)[1])
        return
    name = make_url(url).database or ""
    if "bench" not in name and "test" not in name:
        raise SystemExit(f"refusing to empty database {name!r}: its name must contain 'bench' or 'test'")
    engine = create_engine(url)
    try:
        await _alone_on(engine, name)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def _alone_on(engine: AsyncEngine, name: str, patience_s: float = 15) -> None:
    """Refuse a database another process is connected to: two benchmarks on one database
    empty it under each other, and what they print is then nonsense (updates "lost", a
    conversation gone astray). A process of the previous benchmark may take a moment to go."""
    others = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + patience_s
    while True:
        async with engine.connect() as conn:
            connected = await conn.scalar(others)
        if not connected:
            return
        if time.monotonic() > deadline:
            raise SystemExit(
                f"database {name!r} is in use by {connected} other connection(s): one benchmark at a time"
            )
        await asyncio.sleep(0.5)


async def seeded_app(url: str, now: datetime, seats: int = 100_000) -> App:
    """A fresh database with the demo endpoints and one session open at all of them."""
    await fresh_database(url)
    await migrate.upgrade(url)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    app = build_app(settings)
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, read_endpoint_file(DEMO_ENDPOINTS))
        endpoints = list(await db.scalars(select(Endpoint)))
        await create_session(
            db,
            title="Benchmark",
            starts_at=now + timedelta(days=20),
            now=now,
            endpoints=[(endpoint, seats) for endpoint in endpoints],
        )
    return app


async def tables(engine: AsyncEngine) -> MetaData:
    """The schema as the database has it (not as the models say): the checks read it so."""
    meta = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(meta.reflect)
    return meta


async def registrations_by_status(engine: AsyncEngine) -> dict[str, int]:
    registrations = (await tables(engine)).tables["sign_ups"]
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(registrations.c.status, func.count()).group_by(registrations.c.status)
        )
        return {str(status).lower(): int(count) for status, count in rows}


@dataclass(frozen=True)
class Figure:
    """One line of the summary: a measured value against its target."""

    name: str
    target: str  # as printed: "≤ 4", "≥ 0.35×", "" for a figure without a target
    value: str  # as printed
    met: bool | None  # None: no target, or not measured
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: ""}[self.met]
