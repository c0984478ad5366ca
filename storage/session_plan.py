"""A year's plan of sessions from a CSV or YAML file (`tiepdan sessions import FILE`).

Columns / keys:
    date         dd/mm/yyyy (or yyyy-mm-dd), local date
    time         HH:MM, 24 h, local time (TIMEZONE)
    title        required
    host         optional
    kind         reception (default) | voter_meeting | hearing
    endpoints    "all", or endpoint codes or names separated by ";" or "," (in YAML also a
                 list), resolved as /newsession resolves them
    capacity     seats per endpoint, 1 to MAX_CAPACITY (default DEFAULT_CAPACITY)
    online_room  optional link or room name

Every row is checked and every error reported at once, with its row number; nothing is
imported unless the whole file is right. A session whose registration deadline has
already passed is refused (citizens could not register for it) unless the import is
forced. A session with the same title and start that already exists is skipped, so a
corrected file can be imported again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.datafile import CSV_SUFFIXES, DataFileError, read_csv, read_yaml, too_long
from storage.endpoints import resolve_offered
from storage.models import Endpoint, Event, EventKind
from storage.rules import MAX_CAPACITY, summary_deadline
from storage.sessions import create_session
from storage.text import normalize


class SessionFileError(ValueError):
    """What is wrong with the file, every problem on its own line."""


@dataclass(frozen=True)
class PlannedSession:
    row: int
    title: str
    host: str
    kind: EventKind
    starts_at: datetime  # aware, UTC
    endpoints: tuple[str, ...] | None  # codes or names; None: every active endpoint
    capacity: int
    online_room: str


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int


COLUMNS = ("date", "time", "title", "host", "kind", "endpoints", "capacity", "online_room")


def _rows(path: Path) -> list[tuple[int, Any]]:
    """(row number, entry): in a CSV as Excel numbers the rows (the header is row 1)."""
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            return read_csv(path, ("date", "time", "title", "endpoints"), COLUMNS)
        if suffix in (".yaml", ".yml"):
            return list(enumerate(read_yaml(path, "sessions"), start=1))
    except DataFileError as error:
        raise SessionFileError(str(error)) from None
    raise SessionFileError(f"{path}: use a .csv, .txt (Excel's Unicode Text) or .yaml file")


def _date(text: str) -> date:
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(f"date {text!r} is not dd/mm/yyyy")


def _time(text: str) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"time {text!r} is not HH:MM")
    return time(int(match[1]), int(match[2]))


def _endpoints(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list):
        codes = [normalize(str(item)) for item in value]
    else:
        text = normalize(str(value or ""))
        if text.lower() == "all":
            return None
        codes = [part.strip() for part in re.split(r"[;,]", text)]
    codes = [code for code in codes if code]
    if not codes:
        raise ValueError("endpoints missing (write 'all', or endpoint codes or names)")
    return tuple(dict.fromkeys(codes))


def _planned(row: int, item: dict[str, Any], tz: ZoneInfo, default_capacity: int) -> PlannedSession:
    problems = []
    title = normalize(str(item.get("title") or ""))
    if not title:
        problems.append("title missing")
    starts_at = None
    try:
        day, at = _date(normalize(str(item.get("date") or ""))), _time(normalize(str(item.get("time") or "")))
        starts_at = datetime.combine(day, at, tz).astimezone(UTC)
    except ValueError as error:
        problems.append(str(error))
    kind_text = normalize(str(item.get("kind") or "reception"))
    if kind_text not in {kind.value for kind in EventKind}:
        problems.append(f"kind {kind_text!r} is not reception, voter_meeting or hearing")
    capacity_text = normalize(str(item.get("capacity") or default_capacity))
    if not capacity_text.isdecimal() or not 1 <= int(capacity_text) <= MAX_CAPACITY:
        problems.append(f"capacity {capacity_text!r} is not a whole number from 1 to {MAX_CAPACITY}")
    for column in ("title", "host", "online_room"):
        problem = too_long(Event, column, normalize(str(item.get(column) or "")))
        if problem:
            problems.append(problem)
    endpoints: tuple[str, ...] | None = None
    try:
        endpoints = _endpoints(item.get("endpoints"))
    except ValueError as error:
        problems.append(str(error))
    if problems or starts_at is None:
        raise SessionFileError(f"row {row}: " + "; ".join(problems))
    return PlannedSession(
        row=row,
        title=title,
        host=normalize(str(item.get("host") or "")),
        kind=EventKind(kind_text),
        starts_at=starts_at,
        endpoints=endpoints,
        capacity=int(capacity_text),
        online_room=normalize(str(item.get("online_room") or "")),
    )


@dataclass(frozen=True)
class SessionPlan:
    """The rows read from a file, and what is wrong with the others (row number, problem)."""

    sessions: list[PlannedSession]
    problems: list[tuple[int, str]]


def read_session_plan(path: Path, tz: ZoneInfo, default_capacity: int) -> SessionPlan:
    """Parse and check every row; a row that is wrong is kept as its problem. Raises
    SessionFileError only for the file as a whole (its type, its header, no rows)."""
    planned, problems = [], []
    for row, item in _rows(path):
        if not isinstance(item, dict):
            problems.append((row, f"row {row}: not a mapping of date, time, title, …"))
            continue
        try:
            planned.append(_planned(row, item, tz, default_capacity))
        except SessionFileError as error:
            problems.append((row, str(error)))
    if not planned and not problems:
        raise SessionFileError(f"{path}: no sessions in the file")
    return SessionPlan(planned, problems)


def read_session_file(path: Path, tz: ZoneInfo, default_capacity: int) -> list[PlannedSession]:
    """Parse and check every row; raise SessionFileError listing every problem."""
    plan = read_session_plan(path, tz, default_capacity)
    if plan.problems:
        raise SessionFileError("\n".join(problem for _, problem in plan.problems))
    return plan.sessions


async def import_sessions(
    db: AsyncSession,
    planned: list[PlannedSession] | SessionPlan,
    *,
    now: datetime,
    lead_days: int,
    force: bool = False,
) -> ImportResult:
    """All or nothing: rows the file got wrong, unknown endpoints, sessions in the past, or
    (unless `force`) sessions whose registration deadline has passed stop the whole import,
    every one of them reported at once, in row order."""
    problems = list(planned.problems) if isinstance(planned, SessionPlan) else []
    sessions = planned.sessions if isinstance(planned, SessionPlan) else planned
    every = list(await db.scalars(select(Endpoint)))
    active = [endpoint for endpoint in every if endpoint.active]
    chosen: dict[int, list[Endpoint]] = {}
    for plan in sessions:
        resolved = resolve_offered(every, plan.endpoints or ())
        if resolved.unknown:
            problems.append((plan.row, f"row {plan.row}: unknown endpoints {', '.join(resolved.unknown)}"))
        if resolved.stopped:
            names = ", ".join(endpoint.code for endpoint in resolved.stopped)
            problems.append(
                (plan.row, f"row {plan.row}: endpoints stopped: {names} (resume them with /endpoints)")
            )
        if resolved.ambiguous:
            problems.append(
                (
                    plan.row,
                    f"row {plan.row}: several endpoints match {', '.join(resolved.ambiguous)}; "
                    "write the code or the whole name",
                )
            )
        chosen[plan.row] = active if plan.endpoints is None else resolved.found
        if plan.starts_at <= now:
            problems.append((plan.row, f"row {plan.row}: the session would start in the past"))
        elif summary_deadline(plan.starts_at, lead_days) < now and not force:
            problems.append(
                (
                    plan.row,
                    f"row {plan.row}: its registration deadline ({lead_days} days before the start) "
                    "has passed, so no citizen could register; import with --force to create it anyway",
                )
            )
    if problems:
        problems.sort(key=lambda problem: problem[0])  # stable: a row's own problems keep their order
        raise SessionFileError("\n".join(problem for _, problem in problems))
    added = skipped = 0
    for plan in sessions:
        exists = await db.scalar(
            select(Event.id).where(Event.title == plan.title, Event.starts_at == plan.starts_at)
        )
        if exists is not None:
            skipped += 1
            continue
        await create_session(
            db,
            title=plan.title,
            host=plan.host,
            starts_at=plan.starts_at,
            endpoints=[(endpoint, plan.capacity) for endpoint in chosen[plan.row]],
            online_room=plan.online_room,
            kind=plan.kind,
            now=now,
        )
        added += 1
    return ImportResult(added=added, skipped=skipped)
