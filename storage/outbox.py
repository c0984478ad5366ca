"""Writing a notice into the outbox: once per dedupe key, due at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_if_absent
from storage.models import Notification

# News of a citizen's own case: worth a template by phone when the chat cannot reach them,
# and a call when nothing can (/undelivered); reminders and broadcasts are not.
ABOUT_THEIR_CASE = (
    "session_moved",
    "session_cancelled",
    "waitlist_promoted",
    "route_accept",
    "route_return",
    "route_forward",
    "outcome",
)


async def queue_once(
    db: AsyncSession, *, citizen_id: int, kind: str, params: dict[str, Any], dedupe_key: str, now: datetime
) -> None:
    """A notice due now, in the caller's transaction; one with the same key already there (or
    written at the same moment by another process) wins, and this one is dropped."""
    await insert_if_absent(
        db,
        Notification,
        {
            "citizen_id": citizen_id,
            "kind": kind,
            "params": params,
            "due_at": now,
            "dedupe_key": dedupe_key,
            "created_at": now,
            "state": "pending",
            "attempts": 0,
            "result": "",
        },
    )


async def purge_sent(db: AsyncSession, *, before: datetime) -> int:
    """Delete notices sent before `before` (HANDLED_KEEP_DAYS ago). The others stay: failed
    and unreachable ones for staff to call (/undelivered), and with them a broadcast's counts
    (broadcasts.progress). Returns how many."""
    result = await db.execute(
        delete(Notification)
        .where(Notification.state == "sent", Notification.sent_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
