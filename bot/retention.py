"""Retention: personal data older than RETENTION_DAYS is anonymised (Decree 356/2025);
handled incoming updates and sent notices older than HANDLED_KEEP_DAYS are deleted."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.app import App
from storage import citizens, inbound, outbox
from storage.db import checkpoint

log = logging.getLogger(__name__)


async def sweep(app: App) -> int:
    """One sweep; returns how many citizens were anonymised."""
    now, settings = app.clock.now(), app.settings
    before = now - timedelta(days=settings.handled_keep_days)
    async with app.sessions() as db, db.begin():
        count = await citizens.anonymise_expired(db, now=now, retention_days=settings.retention_days)
        updates = await inbound.purge_handled(db, before=before)
        notices = await outbox.purge_sent(db, before=before)
    # Every sweep, not only after an erasure: one that a reader held up earlier (or that
    # failed) is finished here, so nothing erased stays in SQLite's log for long.
    await checkpoint(app.engine)
    if count:
        log.info("anonymised %d citizens past the retention period", count)
    if updates or notices:
        log.info(
            "deleted %d handled updates and %d sent notices past %d days",
            updates,
            notices,
            settings.handled_keep_days,
        )
    return count
