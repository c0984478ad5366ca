"""Endpoints (điểm cầu): deployment data loaded from a file, searched by name — with typos,
and by the names communes had before the 2025 mergers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import Table, and_, bindparam, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.datafile import (
    CSV_SUFFIXES,
    DataFileError,
    column_name,
    read_csv,
    read_yaml,
    too_long,
    unknown_keys,
)
from storage.models import Endpoint, ReceptionSession, Registration, SessionEndpoint
from storage.registrations import ACTIVE
from storage.text import fold, normalize


@dataclass(frozen=True)
class EndpointRow:
    code: str
    name: str
    area: str = ""
    address: str = ""
    old_names: str = ""  # pre-merger names, ";" between them: searched, not shown

    @property
    def search_name(self) -> str:
        return fold(" ".join((self.name, self.area, *self.old_names.split(";"))))


@dataclass(frozen=True)
class EndpointInfo:
    """An endpoint as the flows show and choose it."""

    id: int
    code: str
    name: str
    area: str
    address: str
    active: bool


@dataclass(frozen=True)
class EndpointPage:
    items: list[EndpointInfo]
    total: int
    page: int
    pages: int


ENDPOINTS = cast(Table, Endpoint.__table__)


class EndpointFileError(ValueError):
    pass


COLUMNS = ("code", "name", "area", "address", "old_names")
# Headers as an office writes them in Vietnamese, folded (no case, no diacritics).
VIETNAMESE_HEADERS = {
    "ma": "code",
    "ma diem cau": "code",
    "ten": "name",
    "ten diem cau": "name",
    "khu vuc": "area",
    "dia chi": "address",
    "ten cu": "old_names",
    "ten truoc sap nhap": "old_names",
    "old names": "old_names",
}


def _entries(path: Path) -> list[tuple[str, object]]:
    """(where, entry) pairs: "row 2" in a CSV as Excel numbers it, "entry 1" in YAML."""
    suffix = path.suffix.lower()
    try:
        if suffix in CSV_SUFFIXES:
            rows = read_csv(path, COLUMNS[:2], COLUMNS, VIETNAMESE_HEADERS)
            return [(f"row {number}", row) for number, row in rows]
        if suffix in (".yaml", ".yml"):
            return [(f"entry {number}", item) for number, item in enumerate(read_yaml(path, "endpoints"), 1)]
    except DataFileError as error:
        raise EndpointFileError(str(error)) from None
    raise EndpointFileError(f"{path}: use a .csv, .txt (Excel's Unicode Text) or .yaml file")


def _old_names(value: object) -> str:
    """ "Phường 4; Phường 5" (or a YAML list) as one tidy "Phường 4; Phường 5"."""
    parts = value if isinstance(value, list) else str(value or "").split(";")
    return "; ".join(name for name in (normalize(str(part)) for part in parts) if name)


def read_endpoint_file(path: Path) -> list[EndpointRow]:
    """Rows from a CSV (header: code,name,area[,address]) or a YAML list of mappings.

    Every problem is reported at once, with its row; nothing is returned unless the file is right.
    """
    rows, problems = [], []
    for where, item in _entries(path):
        if not isinstance(item, dict):
            problems.append(f"{where} is not a mapping")
            continue
        item = {column_name(str(key), COLUMNS, VIETNAMESE_HEADERS): value for key, value in item.items()}
        unknown = unknown_keys(item, COLUMNS)  # in a CSV only when the header had none, so never
        if unknown:
            problems.append(f"{where}: {unknown}")
        text = {column: normalize(str(item.get(column) or "")) for column in COLUMNS}
        row = EndpointRow(
            text["code"], text["name"], text["area"], text["address"], _old_names(item.get("old_names"))
        )
        if not row.code or not row.name:
            problems.append(f"{where} needs both code and name")
        for column in COLUMNS[:-1]:
            problem = too_long(Endpoint, column, getattr(row, column))
            if problem:
                problems.append(f"{where}: {problem}")
        searched = too_long(Endpoint, "search_name", row.search_name)
        if searched:
            problems.append(f"{where}: name, area and old_names together are too long ({searched})")
        rows.append(row)
    codes = [row.code for row in rows if row.code]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        problems.append(f"duplicate codes {', '.join(duplicates)}")
    if problems:
        raise EndpointFileError(f"{path}: " + "\n".join(problems))
    if not rows:
        raise EndpointFileError(f"{path}: no endpoints in the file")
    return rows


async def upsert_endpoints(db: AsyncSession, rows: Iterable[EndpointRow]) -> tuple[int, int]:
    """Insert new endpoints and update known ones by code. Returns (added, updated).

    A known endpoint keeps its active flag: one an admin deactivated in the chat is not
    brought back by the next import (ENDPOINTS_FILE is imported at every start)."""
    rows = list(rows)
    _forget_searches(db)
    existing = {
        endpoint.code: endpoint
        for endpoint in await db.scalars(
            select(Endpoint).where(Endpoint.code.in_([row.code for row in rows]))
        )
    }
    added = updated = 0
    for row in rows:
        search_name = row.search_name
        endpoint = existing.get(row.code)
        if endpoint is None:
            db.add(
                Endpoint(
                    code=row.code,
                    name=row.name,
                    area=row.area,
                    address=row.address,
                    search_name=search_name,
                    active=True,
                )
            )
            added += 1
        else:
            endpoint.name, endpoint.area, endpoint.address = row.name, row.area, row.address
            endpoint.search_name = search_name
            updated += 1
    await db.flush()
    return added, updated


class Nameable(Protocol):
    """An endpoint as resolving names reads it (an EndpointInfo, or a mapped Endpoint)."""

    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def active(self) -> bool: ...


E = TypeVar("E", bound=Nameable)


@dataclass(frozen=True)
class Resolved(Generic[E]):
    """Endpoints named by code or name: those found, in order, and the names that failed."""

    found: list[E]
    unknown: list[str]
    ambiguous: list[str]  # part of several names ("phường"): not "no such endpoint"
    stopped: list[E] = field(default_factory=list)  # named, but an admin stopped them


def resolve_offered(endpoints: Sequence[E], wanted: Iterable[str]) -> Resolved[E]:
    """As `resolve_endpoints` among the active endpoints; a name that only a stopped endpoint
    has is that endpoint `stopped`, not unknown (the admin may resume it)."""
    active = resolve_endpoints([e for e in endpoints if e.active], wanted)
    if not active.unknown:
        return active
    inactive = resolve_endpoints([e for e in endpoints if not e.active], active.unknown)
    return Resolved(
        active.found,
        inactive.unknown,
        active.ambiguous + inactive.ambiguous,
        [e for e in inactive.found if e not in active.found],
    )


def resolve_endpoints(endpoints: Sequence[E], wanted: Iterable[str]) -> Resolved[E]:
    """Each of `wanted` as a code, a whole name, or a part of exactly one name, diacritics optional."""
    by_code = {endpoint.code.upper(): endpoint for endpoint in endpoints}
    by_name = {fold(endpoint.name): endpoint for endpoint in endpoints}
    found: list[E] = []
    unknown, ambiguous = [], []
    for item in wanted:
        endpoint = by_code.get(item.upper()) or by_name.get(fold(item))
        if endpoint is None:
            partial = [e for name, e in by_name.items() if fold(item) in name]
            if len(partial) > 1:
                ambiguous.append(item)
                continue
            endpoint = partial[0] if partial else None
        if endpoint is None:
            unknown.append(item)
        elif endpoint not in found:
            found.append(endpoint)
    return Resolved(found, unknown, ambiguous)


@lru_cache(maxsize=1 << 16)  # names share few syllables: most pairs come back again
def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            if i > 1 and j > 1 and char == b[j - 2] and a[i - 2] == other:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def typos_allowed(word: str) -> int:
    """Short words must be right ("tan" is not "tay"); longer ones may carry one or two typos."""
    return 0 if len(word) <= 3 else 1 if len(word) <= 7 else 2


def typo_distance(query: str, search_name: str) -> int | None:
    """How many typos separate the words of `query` from words of `search_name`, or None when
    a word matches nothing. A query word may match a word, the start of one ("chan" for
    "chanh"), or two neighbours written together ("cuchi" for "cu chi")."""
    words = search_name.split()
    units = words + [first + second for first, second in pairwise(words)]
    total = 0
    for word in query.split():
        allowed = typos_allowed(word)
        best = min(
            (
                min(edit_distance(word, unit), edit_distance(word, unit[: len(word)]))
                for unit in units
                if abs(len(unit) - len(word)) <= allowed or len(unit) > len(word)
            ),
            default=allowed + 1,
        )
        if best > allowed:
            return None
        total += best
    return total


_COLUMNS = (
    ENDPOINTS.c.id,
    ENDPOINTS.c.code,
    ENDPOINTS.c.name,
    ENDPOINTS.c.area,
    ENDPOINTS.c.address,
    ENDPOINTS.c.active,
)
_ALL = select(*_COLUMNS, ENDPOINTS.c.search_name).order_by(ENDPOINTS.c.search_name, ENDPOINTS.c.id)
_ALL_ACTIVE = _ALL.where(ENDPOINTS.c.active.is_(True))
_BY_CODE = select(*_COLUMNS).where(func.upper(ENDPOINTS.c.code) == bindparam("code"))
_SET_ACTIVE = (
    update(ENDPOINTS)
    .where(ENDPOINTS.c.id == bindparam("endpoint_id"))
    .values(active=bindparam("new_active"))
    .returning(*_COLUMNS)
)
# What a transaction has searched already (in the session's `info`): a step that checks a
# search finds something, then the next step that lists it, read it once.
_SEARCHED = "storage.endpoints.searched"


def _info(row: Any) -> EndpointInfo:
    return EndpointInfo(row.id, row.code, row.name, row.area, row.address, row.active)


def _forget_searches(db: AsyncSession) -> None:
    db.info.pop(_SEARCHED, None)


def _pages(total: int, page: int, page_size: int) -> tuple[int, int]:
    """(pages, the page asked for within them)."""
    pages = max(1, -(-total // page_size))
    return pages, min(max(page, 0), pages - 1)


async def search_endpoints(
    db: AsyncSession, query: str, page: int = 0, page_size: int = 6, *, active_only: bool = True
) -> EndpointPage:
    """Endpoints whose name, area or old names contain every word of `query`, diacritics
    optional; failing that, those closest to it with a few typos ("tan bihn", "cuchi").
    Inactive endpoints only for staff who manage them (`active_only=False`). One read: the
    page with the count of all that match (two past the last page, or with typos)."""
    words = tuple(fold(query).split())
    key = (words, page, page_size, active_only)
    searched: dict[tuple[Any, ...], EndpointPage] = db.info.setdefault(_SEARCHED, {})
    if key not in searched:
        searched[key] = await _search(db, words, page, page_size, active_only)
    return searched[key]


async def _search(
    db: AsyncSession, words: tuple[str, ...], page: int, page_size: int, active_only: bool
) -> EndpointPage:
    condition = and_(
        ENDPOINTS.c.active.is_(True) if active_only else true(),
        *(ENDPOINTS.c.search_name.contains(word, autoescape=True) for word in words),
    )
    matching = select(*_COLUMNS, func.count().over().label("total")).where(condition)
    ordered = matching.order_by(ENDPOINTS.c.search_name, ENDPOINTS.c.id)
    rows = list(await db.execute(ordered.offset(max(page, 0) * page_size).limit(page_size)))
    if rows:
        total = rows[0].total
        pages, page = _pages(total, page, page_size)
        return EndpointPage([_info(row) for row in rows], total, page, pages)
    if page > 0:  # past the last page (fewer endpoints since): the last one
        total = await db.scalar(select(func.count()).select_from(ENDPOINTS).where(condition)) or 0
        if total:
            return await _search(db, words, _pages(total, page, page_size)[1], page_size, active_only)
    if not words:
        return EndpointPage([], 0, 0, 1)
    close = await _close_to(db, " ".join(words), active_only)
    pages, page = _pages(len(close), page, page_size)
    return EndpointPage(close[page * page_size : (page + 1) * page_size], len(close), page, pages)


async def _close_to(db: AsyncSession, query: str, active_only: bool) -> list[EndpointInfo]:
    """The endpoints within a few typos of `query`, the closest first."""
    scored = []
    for row in await db.execute(_ALL_ACTIVE if active_only else _ALL):
        distance = typo_distance(query, row.search_name)
        if distance is not None:
            scored.append((distance, row.search_name, row.id, _info(row)))
    return [endpoint for *_, endpoint in sorted(scored, key=lambda item: item[:3])]


async def all_endpoints(db: AsyncSession) -> list[EndpointInfo]:
    """Every endpoint, active or not, by name."""
    return [_info(row) for row in await db.execute(_ALL)]


async def endpoint_by_code(db: AsyncSession, code: str) -> EndpointInfo | None:
    """The endpoint of that code, in any case, active or not."""
    row = (await db.execute(_BY_CODE, {"code": code.strip().upper()})).first()
    return _info(row) if row else None


async def set_active(db: AsyncSession, endpoint_id: int, active: bool) -> EndpointInfo | None:
    """Offer an endpoint to citizens and staff again, or stop offering it; None if unknown."""
    _forget_searches(db)
    row = (await db.execute(_SET_ACTIVE, {"endpoint_id": endpoint_id, "new_active": active})).first()
    return _info(row) if row else None


async def upcoming_registrations(db: AsyncSession, endpoint_id: int, now: datetime) -> int:
    """Active registrations at an endpoint for sessions still to come (kept when it is deactivated)."""
    return (
        await db.scalar(
            select(func.count())
            .select_from(Registration)
            .join(Registration.session_endpoint)
            .join(Registration.session)
            .where(
                SessionEndpoint.endpoint_id == endpoint_id,
                Registration.status.in_(ACTIVE),
                ReceptionSession.starts_at > now,
            )
        )
        or 0
    )
