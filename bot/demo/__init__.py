"""Demo data for a first run: endpoints and two upcoming sessions, open for registration."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.settings import Settings
from storage.endpoints import read_endpoint_file, upsert_endpoints
from storage.models import Endpoint, Event
from storage.sessions import create_session

DEMO_ENDPOINTS = Path(__file__).with_name("endpoints.yaml")
SESSION_HOUR = time(8, 0)


async def seed(db: AsyncSession, settings: Settings, now: datetime) -> bool:
    """Load the demo data into an empty database. Returns False if it was not empty."""
    if await db.scalar(select(func.count()).select_from(Event)):
        return False
    if not await db.scalar(select(func.count()).select_from(Endpoint)):
        await upsert_endpoints(db, read_endpoint_file(DEMO_ENDPOINTS))
    endpoints = list(await db.scalars(select(Endpoint).where(Endpoint.active.is_(True))))
    today = now.astimezone(settings.tz).date()
    for days_ahead, title in (
        (settings.summary_lead_days + 10, "Tiếp công dân định kỳ của Thường trực HĐND tỉnh"),
        (settings.summary_lead_days + 40, "Tiếp công dân định kỳ của Đoàn ĐBQH tỉnh"),
    ):
        local_start = datetime.combine(today + timedelta(days=days_ahead), SESSION_HOUR, settings.tz)
        await create_session(
            db,
            title=title,
            host="Thường trực HĐND tỉnh",
            starts_at=local_start,
            endpoints=[(endpoint, settings.default_capacity) for endpoint in endpoints],
            online_room="https://meet.example.gov.vn/tiep-cong-dan",
            now=now,
        )
    return True
