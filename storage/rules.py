"""The deadline rule and the largest capacity, in one place."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from storage.models import EventStatus

OPEN_STATUSES = (EventStatus.SCHEDULED, EventStatus.RESCHEDULED)
MAX_CAPACITY = 10_000  # seats per endpoint of a session (staff.new.capacity_invalid says so)


def summary_deadline(starts_at: datetime, lead_days: int) -> datetime:
    """The last moment a registration (with its summary) may arrive or change."""
    return starts_at - timedelta(days=lead_days)


class Scheduled(Protocol):
    """A session as the deadline rule reads it (a mapped session or a SessionSeat)."""

    @property
    def status(self) -> EventStatus: ...

    @property
    def starts_at(self) -> datetime: ...


def is_open_for_registration(session: Scheduled, now: datetime, lead_days: int) -> bool:
    """Open while the session is on and the summary still arrives `lead_days` ahead.

    "At least 5 days before" admits the deadline minute itself.
    """
    return session.status in OPEN_STATUSES and now <= summary_deadline(session.starts_at, lead_days)
