"""Endpoints (điểm cầu): deployment data loaded from a file, searched by name — with typos,
and by the names communes had before the 2025 mergers."""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, cast

from sqlalchemy import Table, bindparam, event, func, select, update
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
from storage.models import Endpoint, Event, EventEndpoint, SignUp
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
    _forget_catalog(db)
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
_ALL = select(*_COLUMNS, ENDPOINTS.c.search_name)
_BY_CODE = select(*_COLUMNS).where(func.upper(ENDPOINTS.c.code) == bindparam("code"))
_SET_ACTIVE = (
    update(ENDPOINTS)
    .where(ENDPOINTS.c.id == bindparam("endpoint_id"))
    .values(active=bindparam("new_active"))
    .returning(*_COLUMNS)
)


def info_of(row: Any) -> EndpointInfo:
    """An EndpointInfo from a mapped Endpoint or a row with its columns."""
    return EndpointInfo(row.id, row.code, row.name, row.area, row.address, row.active)


# --- the catalog: every endpoint, kept in memory ------------------------------------------
#
# Endpoints are deployment data: a few hundred rows, changed by an import or an admin's
# /endpoints. Searching them is read from memory: a change made through this module is seen
# at once in this process (after its commit), one made by another process within
# CATALOG_SECONDS. A stale entry only offers an endpoint: the sessions at it and the
# registration read the database, which refuses a stopped endpoint.

CATALOG_SECONDS = 60.0


@dataclass(frozen=True)
class _Catalog:
    read_at: float  # time.monotonic()
    entries: tuple[tuple[str, EndpointInfo], ...]  # (search name, endpoint), by name then id


_catalogs: weakref.WeakKeyDictionary[object, _Catalog] = weakref.WeakKeyDictionary()  # by database


async def _catalog(db: AsyncSession) -> tuple[tuple[str, EndpointInfo], ...]:
    database = db.get_bind()
    catalog = _catalogs.get(database)
    if catalog is None or time.monotonic() - catalog.read_at > CATALOG_SECONDS:
        rows = await db.execute(_ALL)
        ordered = sorted(((row.search_name, row.id), info_of(row)) for row in rows)
        catalog = _Catalog(time.monotonic(), tuple((name, endpoint) for (name, _), endpoint in ordered))
        _catalogs[database] = catalog
    return catalog.entries


def _forget_catalog(db: AsyncSession) -> None:
    """Endpoints change in this transaction: read them again now, and once it has ended."""
    database = db.get_bind()
    _catalogs.pop(database, None)

    def forget(*_: Any) -> None:
        _catalogs.pop(database, None)

    for ended in ("after_commit", "after_rollback"):
        event.listen(db.sync_session, ended, forget, once=True)


def _pages(total: int, page: int, page_size: int) -> tuple[int, int]:
    """(pages, the page asked for within them)."""
    pages = max(1, -(-total // page_size))
    return pages, min(max(page, 0), pages - 1)


async def search_endpoints(
    db: AsyncSession, query: str, page: int = 0, page_size: int = 6, *, active_only: bool = True
) -> EndpointPage:
    """Endpoints whose name, area or old names contain every word of `query`, diacritics
    optional; failing that, those closest to it with a few typos ("tan bihn", "cuchi").
    Inactive endpoints only for staff who manage them (`active_only=False`). Read from the
    catalog: no statement once it is loaded."""
    words = fold(query).split()
    offered = [(name, e) for name, e in await _catalog(db) if e.active or not active_only]
    found = [endpoint for name, endpoint in offered if all(word in name for word in words)]
    if not found and words:
        found = _close_to(" ".join(words), offered)
    pages, page = _pages(len(found), page, page_size)
    return EndpointPage(found[page * page_size : (page + 1) * page_size], len(found), page, pages)


def _close_to(query: str, offered: list[tuple[str, EndpointInfo]]) -> list[EndpointInfo]:
    """The endpoints within a few typos of `query`, the closest first."""
    scored = []
    for name, endpoint in offered:
        distance = typo_distance(query, name)
        if distance is not None:
            scored.append((distance, name, endpoint.id, endpoint))
    return [endpoint for *_, endpoint in sorted(scored, key=lambda item: item[:3])]


async def all_endpoints(db: AsyncSession) -> list[EndpointInfo]:
    """Every endpoint, active or not, by name (from the catalog)."""
    return [endpoint for _, endpoint in await _catalog(db)]


async def endpoint_by_code(db: AsyncSession, code: str) -> EndpointInfo | None:
    """The endpoint of that code, in any case, active or not."""
    row = (await db.execute(_BY_CODE, {"code": code.strip().upper()})).first()
    return info_of(row) if row else None


async def set_active(db: AsyncSession, endpoint_id: int, active: bool) -> EndpointInfo | None:
    """Offer an endpoint to citizens and staff again, or stop offering it; None if unknown."""
    _forget_catalog(db)
    row = (await db.execute(_SET_ACTIVE, {"endpoint_id": endpoint_id, "new_active": active})).first()
    return info_of(row) if row else None


async def upcoming_registrations(db: AsyncSession, endpoint_id: int, now: datetime) -> int:
    """Active registrations at an endpoint for sessions still to come (kept when it is deactivated)."""
    return (
        await db.scalar(
            select(func.count())
            .select_from(SignUp)
            .join(SignUp.event_endpoint)
            .join(SignUp.event)
            .where(
                EventEndpoint.endpoint_id == endpoint_id,
                SignUp.status.in_(ACTIVE),
                Event.starts_at > now,
            )
        )
        or 0
    )
