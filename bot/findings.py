"""What `tiepdan doctor` reports: one finding per check, naming the setting it judges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"  # works, but look at it
    FAIL = "FAIL"  # blocks service: the doctor exits non-zero


@dataclass(frozen=True)
class Finding:
    status: Status
    subject: str  # the setting judged, e.g. TELEGRAM_BOT_TOKEN
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<4}  {self.subject}: {self.detail}"


def ok(subject: str, detail: str) -> Finding:
    return Finding(Status.OK, subject, detail)


def warn(subject: str, detail: str) -> Finding:
    return Finding(Status.WARN, subject, detail)


def fail(subject: str, detail: str) -> Finding:
    return Finding(Status.FAIL, subject, detail)


def mask(secret: str) -> str:
    """Enough of a token to tell which one is set, never enough to use it."""
    if len(secret) < 12:
        return "***"
    return f"{secret[:4]}…{secret[-2:]} ({len(secret)} characters)"


def span(delta: timedelta) -> str:
    """A duration as an operator reads it: 3 d 4 h, 5 h 12 min, 40 s."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"
