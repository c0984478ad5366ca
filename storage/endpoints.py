"""Endpoints (điểm cầu): deployment data loaded from a file, searched by name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.datafile import DataFileError, read_csv, read_yaml, too_long
from storage.models import Endpoint
from storage.text import fold, normalize


@dataclass(frozen=True)
class EndpointRow:
    code: str
    name: str
    area: str = ""
    address: str = ""


@dataclass(frozen=True)
class EndpointPage:
    items: list[Endpoint]
    total: int
    page: int
    pages: int


class EndpointFileError(ValueError):
    pass


COLUMNS = ("code", "name", "area", "address")


def _entries(path: Path) -> list[tuple[str, object]]:
    """(where, entry) pairs: "row 2" in a CSV as Excel numbers it, "entry 1" in YAML."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return [(f"row {number}", row) for number, row in read_csv(path, COLUMNS[:2], COLUMNS)]
        if suffix in (".yaml", ".yml"):
            return [(f"entry {number}", item) for number, item in enumerate(read_yaml(path, "endpoints"), 1)]
    except DataFileError as error:
        raise EndpointFileError(str(error)) from None
    raise EndpointFileError(f"{path}: use a .csv or .yaml file")


def read_endpoint_file(path: Path) -> list[EndpointRow]:
    """Rows from a CSV (header: code,name,area[,address]) or a YAML list of mappings.

    Every problem is reported at once, with its row; nothing is returned unless the file is right.
    """
    rows, problems = [], []
    for where, item in _entries(path):
        if not isinstance(item, dict):
            problems.append(f"{where} is not a mapping")
            continue
        row = EndpointRow(*(normalize(str(item.get(column) or "")) for column in COLUMNS))
        if not row.code or not row.name:
            problems.append(f"{where} needs both code and name")
        for column in COLUMNS:
            problem = too_long(Endpoint, column, getattr(row, column))
            if problem:
                problems.append(f"{where}: {problem}")
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
    """Insert new endpoints and update known ones by code. Returns (added, updated)."""
    rows = list(rows)
    existing = {
        endpoint.code: endpoint
        for endpoint in await db.scalars(
            select(Endpoint).where(Endpoint.code.in_([row.code for row in rows]))
        )
    }
    added = updated = 0
    for row in rows:
        search_name = fold(f"{row.name} {row.area}")
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
            endpoint.search_name, endpoint.active = search_name, True
            updated += 1
    await db.flush()
    return added, updated


@dataclass(frozen=True)
class Resolved:
    """Endpoints named by code or name: those found, in order, and the names that failed."""

    found: list[Endpoint]
    unknown: list[str]
    ambiguous: list[str]  # part of several names ("phường"): not "no such endpoint"


def resolve_endpoints(endpoints: Sequence[Endpoint], wanted: Iterable[str]) -> Resolved:
    """Each of `wanted` as a code, a whole name, or a part of exactly one name, diacritics optional."""
    by_code = {endpoint.code.upper(): endpoint for endpoint in endpoints}
    by_name = {fold(endpoint.name): endpoint for endpoint in endpoints}
    found: list[Endpoint] = []
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


async def search_endpoints(db: AsyncSession, query: str, page: int = 0, page_size: int = 6) -> EndpointPage:
    """Active endpoints whose name or area contains every word of `query`, diacritics optional."""
    words = fold(query).split()
    condition = and_(
        Endpoint.active.is_(True),
        *(Endpoint.search_name.contains(word, autoescape=True) for word in words),
    )
    total = await db.scalar(select(func.count()).select_from(Endpoint).where(condition)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    items = list(
        await db.scalars(
            select(Endpoint)
            .where(condition)
            .order_by(Endpoint.search_name, Endpoint.id)
            .offset(page * page_size)
            .limit(page_size)
        )
    )
    return EndpointPage(items=items, total=total, page=page, pages=pages)
