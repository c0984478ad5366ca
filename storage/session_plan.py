"""A year's plan of events from a CSV or YAML file (`tiepdan events import FILE`, also
`tiepdan sessions import FILE`).

Columns / keys:
    date         dd/mm/yyyy (or yyyy-mm-dd), local date
    time         HH:MM, 24 h, local time (TIMEZONE)
    title        required
    host         optional: who presides, or the delegates' group meeting voters
    kind         reception (default) | voter_meeting | hearing
    endpoints    "all", or endpoint codes or names separated by ";" or "," (in YAML also a
                 list), resolved as /newevent resolves them
    capacity     seats per endpoint, 1 to MAX_CAPACITY (default DEFAULT_CAPACITY)
    online_room  optional link or room name
    compile_deadline    voter contact only: petitions compiled by then (dd/mm/yyyy HH:MM;
                 a date alone is 23:59 that day); default: the last meeting + 5 days
    materials_deadline  voter contact only: materials to the delegates by then; default:
                 the first meeting - 5 days
    topics       hearing only, required: its topics in order, separated by ";" (in YAML
                 also a list)
    agencies     hearing only, required: the agencies that must explain, separated by ";",
                 each "name: topic numbers" ("Sở Xây dựng: 1, 2"; a name alone: every
                 topic); in YAML also a list of such strings, or a mapping name -> numbers
    report_deadline     hearing only: the agencies' written reports due by then; default:
                 the start - HEARING_REPORT_DAYS_BEFORE days
    questions_deadline  hearing only: citizens' questions taken until then; default: the
                 start - HEARING_QUESTIONS_DAYS_BEFORE days

A voter-contact round visits its communes on different days: the voter_meeting rows with
the same title are ONE round, each row giving the date and time of its endpoints (and their
capacity). The round's host, online_room and deadlines may be written on one of its rows
only; written on several, they must agree. An endpoint may be in a round once.

Every row is checked and every error reported at once, with its row number; nothing is
imported unless the whole file is right. An event whose sign-up deadline has already passed
is refused (nobody could sign up for it) unless the import is forced. An event with the same
kind, title and start that already exists is skipped, so a corrected file can be imported
again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.datafile import CSV_SUFFIXES, DataFileError, read_csv, read_yaml, too_long
from storage.endpoints import resolve_offered
from storage.event_kinds import (
    EventDates,
    Timing,
    default_compile_deadline,
    default_materials_deadline,
    policy,
)
from storage.hearings import AGENCY_NAME_LONGEST, TOPIC_LONGEST, AgencyTopics, create_hearing
from storage.models import Endpoint, Event, EventKind
from storage.rules import MAX_CAPACITY
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
    compile_deadline: datetime | None = None  # voter contact: as written (None: the default)
    materials_deadline: datetime | None = None
    # A hearing: its topics, the agencies (name, topic numbers from 1) and its deadlines.
    topics: tuple[str, ...] = ()
    agencies: tuple[tuple[str, tuple[int, ...]], ...] = ()
    report_deadline: datetime | None = None
    questions_deadline: datetime | None = None


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int


COLUMNS = (
    "date",
    "time",
    "title",
    "host",
    "kind",
    "endpoints",
    "capacity",
    "online_room",
    "compile_deadline",
    "materials_deadline",
    "topics",
    "agencies",
    "report_deadline",
    "questions_deadline",
)
HEARING_COLUMNS = ("topics", "agencies", "report_deadline", "questions_deadline")
ROUND_FIELDS = ("host", "online_room", "compile_deadline", "materials_deadline")  # one per round


def _rows(path: Path) -> list[tuple[int, Any]]:
    """(row number, entry): in a CSV as Excel numbers the rows (the header is row 1)."""
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            return read_csv(path, ("date", "time", "title", "endpoints"), COLUMNS)
        if suffix in (".yaml", ".yml"):
            try:
                entries = read_yaml(path, "events")
            except DataFileError:
                entries = read_yaml(path, "sessions")  # the key before events had kinds
            return list(enumerate(entries, start=1))
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


def _moment(column: str, text: str, tz: ZoneInfo) -> datetime | None:
    """ "dd/mm/yyyy HH:MM", or a date alone (the end of that day), as UTC; None when blank."""
    if not text:
        return None
    day_text, _, time_text = text.partition(" ")
    try:
        at = _time(time_text.strip()) if time_text.strip() else time(23, 59)
        return datetime.combine(_date(day_text), at, tz).astimezone(UTC)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not dd/mm/yyyy or dd/mm/yyyy HH:MM") from None


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
    deadlines: dict[str, datetime | None] = {}
    for column in ("compile_deadline", "materials_deadline"):
        text = normalize(str(item.get(column) or ""))
        try:
            deadlines[column] = _moment(column, text, tz)
        except ValueError as error:
            problems.append(str(error))
        if text and kind_text != EventKind.VOTER_MEETING.value:
            problems.append(f"{column} is for voter_meeting rounds only")
    hearing = kind_text == EventKind.HEARING.value
    for column in ("report_deadline", "questions_deadline"):
        text = normalize(str(item.get(column) or ""))
        try:
            deadlines[column] = _moment(column, text, tz)
        except ValueError as error:
            problems.append(str(error))
        deadline = deadlines.get(column)
        if starts_at is not None and deadline is not None and deadline >= starts_at:
            problems.append(f"{column} is not before the hearing")
    for column in HEARING_COLUMNS:
        if item.get(column) and not hearing:
            problems.append(f"{column} is for hearings only")
    topics: tuple[str, ...] = ()
    agencies: tuple[tuple[str, tuple[int, ...]], ...] = ()
    if hearing:
        topics = _topics(item.get("topics"), problems)
        agencies = _agencies(item.get("agencies"), len(topics), problems)
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
        compile_deadline=deadlines.get("compile_deadline"),
        materials_deadline=deadlines.get("materials_deadline"),
        topics=topics,
        agencies=agencies,
        report_deadline=deadlines.get("report_deadline"),
        questions_deadline=deadlines.get("questions_deadline"),
    )


def _topics(value: Any, problems: list[str]) -> tuple[str, ...]:
    """A hearing's topics: ";"-separated (or a YAML list), each 3 to 300 characters."""
    items = value if isinstance(value, list) else str(value or "").split(";")
    topics = tuple(normalize(str(item)) for item in items if normalize(str(item)))
    if not topics:
        problems.append("topics missing (a hearing's topics, separated by ';')")
    for topic in topics:
        if not 3 <= len(topic) <= TOPIC_LONGEST:
            problems.append(f"topic {topic[:40]!r} is not 3 to {TOPIC_LONGEST} characters")
    return topics


def _agencies(value: Any, topics: int, problems: list[str]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """ "Sở Xây dựng: 1, 2; UBND xã Bình Chánh" (a name alone: every topic), a YAML list of
    such strings, or a YAML mapping name -> topic numbers."""
    if isinstance(value, dict):
        entries = [(str(name), numbers) for name, numbers in value.items()]
    else:
        items = value if isinstance(value, list) else str(value or "").split(";")
        entries = []
        for item in items:
            name, colon, numbers = (
                normalize(str(item)).rpartition(":") if ":" in str(item) else (normalize(str(item)), "", "")
            )
            if name or colon:
                entries.append((name, numbers if colon else None))
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, numbers in entries:
        name = normalize(name)
        if numbers is None or numbers == "":
            chosen = tuple(range(1, topics + 1))
        else:
            raw = numbers if isinstance(numbers, list) else re.split(r"[,\s]+", str(numbers).strip())
            try:
                chosen = tuple(sorted({int(str(n)) for n in raw if str(n).strip()}))
            except ValueError:
                problems.append(f"agency {name!r}: topics {numbers!r} are not numbers")
                continue
        if not 3 <= len(name) <= AGENCY_NAME_LONGEST:
            problems.append(f"agency {name[:40]!r} is not 3 to {AGENCY_NAME_LONGEST} characters")
            continue
        if not chosen or any(not 1 <= n <= topics for n in chosen):
            problems.append(f"agency {name!r}: topic numbers are 1 to {topics}")
            continue
        key = name.casefold()
        before = found.get(key, (name, ()))
        found[key] = (before[0], tuple(sorted({*before[1], *chosen})))
    if not found and not any("agency" in problem for problem in problems):
        problems.append("agencies missing (e.g. 'Sở Xây dựng: 1, 2; UBND xã Bình Chánh: 2')")
    return tuple(found.values())


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


@dataclass
class _Round:
    """The rows that make one event: a reception session is one row; a voter-contact round
    is every voter_meeting row of its title."""

    rows: list[PlannedSession]
    endpoints: dict[int, tuple[Endpoint, int, datetime]]  # endpoint id -> (endpoint, seats, start)

    @property
    def first(self) -> PlannedSession:
        return self.rows[0]

    def value(self, column: str) -> Any:
        """A round field: the first row's that has one."""
        return next((getattr(row, column) for row in self.rows if getattr(row, column)), None)

    def row_of(self, column: str) -> int:
        """The number of the first row that writes this round field."""
        return next((row.row for row in self.rows if getattr(row, column)), self.first.row)


def _rounds(sessions: list[PlannedSession]) -> list[_Round]:
    rounds: dict[tuple[str, ...], _Round] = {}
    for plan in sessions:
        key = (plan.kind.value, plan.title) if plan.kind == EventKind.VOTER_MEETING else (str(plan.row),)
        rounds.setdefault(key, _Round([], {})).rows.append(plan)
    return list(rounds.values())


def _round_problems(event: _Round, timing: Timing) -> list[tuple[int, str]]:
    """What the rows of one voter-contact round get wrong together."""
    problems = []
    for column in ROUND_FIELDS:
        first = next((row for row in event.rows if getattr(row, column)), None)
        for row in event.rows:
            value = getattr(row, column)
            if first is not None and value and value != getattr(first, column):
                problems.append(
                    (row.row, f"row {row.row}: {column} differs from row {first.row} of the same round")
                )
    if not event.endpoints:
        return problems
    starts = [start for _, _, start in event.endpoints.values()]
    compile_deadline, materials_deadline = event.value("compile_deadline"), event.value("materials_deadline")
    # Named at the row that writes the deadline, where the planner will look for it.
    if compile_deadline is not None and compile_deadline <= max(starts):
        at = event.row_of("compile_deadline")
        problems.append((at, f"row {at}: compile_deadline is not after the round's last meeting"))
    if materials_deadline is not None and materials_deadline >= min(starts):
        at = event.row_of("materials_deadline")
        problems.append((at, f"row {at}: materials_deadline is not before the round's first meeting"))
    return problems


async def import_sessions(
    db: AsyncSession,
    planned: list[PlannedSession] | SessionPlan,
    *,
    now: datetime,
    lead_days: int,
    force: bool = False,
    timing: Timing | None = None,
) -> ImportResult:
    """All or nothing: rows the file got wrong, unknown endpoints, events in the past, the
    rows of a round that disagree, or (unless `force`) events whose sign-up deadline has
    passed stop the whole import, every one of them reported at once, in row order.
    `timing` gives the voter-contact day counts (`lead_days` is the reception's)."""
    timing = replace(timing or Timing(), summary_lead_days=lead_days)
    problems = list(planned.problems) if isinstance(planned, SessionPlan) else []
    sessions = planned.sessions if isinstance(planned, SessionPlan) else planned
    every = list(await db.scalars(select(Endpoint)))
    active = [endpoint for endpoint in every if endpoint.active]
    rounds = _rounds(sessions)
    for event in rounds:
        for plan in event.rows:
            resolved = resolve_offered(every, plan.endpoints or ())
            if resolved.unknown:
                problems.append(
                    (plan.row, f"row {plan.row}: unknown endpoints {', '.join(resolved.unknown)}")
                )
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
            for endpoint in active if plan.endpoints is None else resolved.found:
                if endpoint.id in event.endpoints:
                    problems.append(
                        (plan.row, f"row {plan.row}: endpoint {endpoint.code} is in this round twice")
                    )
                    continue
                event.endpoints[endpoint.id] = (endpoint, plan.capacity, plan.starts_at)
            rule = policy(plan.kind)
            if plan.starts_at <= now:
                problems.append((plan.row, f"row {plan.row}: the session would start in the past"))
            elif plan.kind == EventKind.HEARING:
                questions = plan.questions_deadline or rule.submission_deadline(
                    EventDates(plan.starts_at), timing
                )
                if questions < now and not force:
                    problems.append(
                        (
                            plan.row,
                            f"row {plan.row}: its questions deadline has passed, so no citizen could send a "
                            "question; import with --force to create it anyway",
                        )
                    )
            elif rule.sign_up_deadline(plan.starts_at, timing) < now and not force:
                before = (
                    f"{timing.summary_lead_days} days"
                    if rule.case_with_sign_up
                    else f"{timing.signup_close_days} day(s)"
                )
                problems.append(
                    (
                        plan.row,
                        f"row {plan.row}: its registration deadline ({before} before the start) has "
                        "passed, so no citizen could register; import with --force to create it anyway",
                    )
                )
        if event.first.kind == EventKind.VOTER_MEETING:
            problems.extend(_round_problems(event, timing))
    if problems:
        problems.sort(key=lambda problem: problem[0])  # stable: a row's own problems keep their order
        raise SessionFileError("\n".join(dict.fromkeys(problem for _, problem in problems)))
    added = skipped = 0
    for event in rounds:
        plan = event.first
        per_endpoint = plan.kind == EventKind.VOTER_MEETING
        starts = {endpoint_id: start for endpoint_id, (_, _, start) in event.endpoints.items()}
        first_start = min(starts.values(), default=plan.starts_at)
        exists = await db.scalar(
            select(Event.id).where(
                Event.kind == plan.kind, Event.title == plan.title, Event.starts_at == first_start
            )
        )
        if exists is not None:
            skipped += 1
            continue
        if plan.kind == EventKind.HEARING:
            await _create_hearing(db, event, now=now, timing=timing)
            added += 1
            continue
        await create_session(
            db,
            title=plan.title,
            host=event.value("host") or "",
            starts_at=first_start,
            endpoints=[(endpoint, seats) for endpoint, seats, _ in event.endpoints.values()],
            online_room=event.value("online_room") or "",
            kind=plan.kind,
            now=now,
            endpoint_starts=starts if per_endpoint else None,
            compile_deadline=(
                event.value("compile_deadline") or default_compile_deadline(max(starts.values()), timing)
                if per_endpoint
                else None
            ),
            materials_deadline=(
                event.value("materials_deadline") or default_materials_deadline(first_start, timing)
                if per_endpoint
                else None
            ),
        )
        added += 1
    return ImportResult(added=added, skipped=skipped)


async def _create_hearing(db: AsyncSession, event: _Round, *, now: datetime, timing: Timing) -> None:
    plan = event.first
    await create_hearing(
        db,
        title=plan.title,
        host=plan.host,
        starts_at=plan.starts_at,
        endpoint_ids=list(event.endpoints),
        capacity=plan.capacity,
        online_room=plan.online_room,
        topics=plan.topics,
        agencies=[AgencyTopics(name, numbers) for name, numbers in plan.agencies],
        report_deadline=plan.report_deadline,
        questions_deadline=plan.questions_deadline,
        timing=timing,
        now=now,
    )
