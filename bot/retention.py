"""Retention: personal data older than RETENTION_DAYS is anonymised (Decree 356/2025)."""

from __future__ import annotations

import logging

from bot.app import App
from storage import citizens

log = logging.getLogger(__name__)


async def sweep(app: App) -> int:
    async with app.sessions() as db, db.begin():
        count = await citizens.anonymise_expired(
            db, now=app.clock.now(), retention_days=app.settings.retention_days
        )
    if count:
        log.info("anonymised %d citizens past the retention period", count)
    return count
