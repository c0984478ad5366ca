"""Endpoints (điểm cầu): deployment data loaded from a file, searched by name."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def read_endpoint_file(path: Path) -> list[EndpointRow]:
    """Rows from a CSV (header: code,name,area[,address]) or a YAML list of mappings."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            raw: list[dict[str, object]] = list(csv.DictReader(handle))
    elif suffix in (".yaml", ".yml"):
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            loaded = loaded.get("endpoints")
        if not isinstance(loaded, list):
            raise EndpointFileError(f"{path}: expected a list of endpoints")
        raw = loaded
    else:
        raise EndpointFileError(f"{path}: use a .csv or .yaml file")

    rows = []
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise EndpointFileError(f"{path}: entry {number} is not a mapping")
        code = normalize(str(item.get("code") or ""))
        name = normalize(str(item.get("name") or ""))
        if not code or not name:
            raise EndpointFileError(f"{path}: entry {number} needs both code and name")
        rows.append(
            EndpointRow(
                code=code,
                name=name,
                area=normalize(str(item.get("area") or "")),
                address=normalize(str(item.get("address") or "")),
            )
        )
    codes = [row.code for row in rows]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise EndpointFileError(f"{path}: duplicate codes {', '.join(duplicates)}")
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
