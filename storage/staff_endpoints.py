"""Endpoints as staff name and manage them, as plain data: codes or names typed in a chat
resolved, the names of a scope, those still offered, an admin's search, stop and resume."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import endpoints as catalog
from storage.endpoints import EndpointInfo, info_of
from storage.models import Endpoint


@dataclass(frozen=True)
class Named:
    """Endpoints named by code or name (storage.endpoints.resolve_offered)."""

    found: tuple[EndpointInfo, ...]  # active ones, in the order named
    unknown: tuple[str, ...]
    ambiguous: tuple[str, ...]  # part of several names ("phường"): not "no such endpoint"
    stopped: tuple[EndpointInfo, ...]  # named, but an admin stopped them


async def resolve(db: AsyncSession, wanted: Iterable[str]) -> Named:
    resolved = catalog.resolve_offered(list(await db.scalars(select(Endpoint))), wanted)
    return Named(
        tuple(info_of(endpoint) for endpoint in resolved.found),
        tuple(resolved.unknown),
        tuple(resolved.ambiguous),
        tuple(info_of(endpoint) for endpoint in resolved.stopped),
    )


async def names(db: AsyncSession, endpoint_ids: Iterable[int]) -> list[str]:
    """The names of these endpoints, sorted."""
    return sorted(await db.scalars(select(Endpoint.name).where(Endpoint.id.in_(list(endpoint_ids)))))


async def offered(db: AsyncSession, endpoint_ids: Iterable[int] | None) -> list[EndpointInfo]:
    """The active ones among these endpoints (None: all of them), by name."""
    query = select(Endpoint).where(Endpoint.active.is_(True)).order_by(Endpoint.search_name)
    if endpoint_ids is not None:
        query = query.where(Endpoint.id.in_(list(endpoint_ids)))
    return [info_of(endpoint) for endpoint in await db.scalars(query)]


async def look_up(db: AsyncSession, query: str, shown: int) -> tuple[list[EndpointInfo], int]:
    """The endpoint of that code, else the first `shown` whose name (or old name) matches,
    active or not; and how many match in all."""
    by_code = await catalog.endpoint_by_code(db, query)
    if by_code is not None:
        return [by_code], 1
    page = await catalog.search_endpoints(db, query, page_size=shown, active_only=False)
    return page.items, page.total


async def set_offered(db: AsyncSession, endpoint_id: int, active: bool) -> EndpointInfo | None:
    """Resume or stop offering an endpoint; None if there is no such endpoint."""
    return await catalog.set_active(db, endpoint_id, active=active)
