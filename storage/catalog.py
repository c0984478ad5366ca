"""The seats citizens choose from, kept between events while the catalog does not change.

Citizens read the same few events, endpoints and seats over and over; staff change them
seldom. Every change to those tables (a seat taken or given back included) moves
`catalog_version` on (triggers, migration 0009), and the turn's read returns that number
with the user's state (`storage.conversations.open_turn` puts it in the session's info). A
read through `cached` is then kept for the next events that see the same number, in this
process, for this engine: no statement at all for them. Outside a turn (the scheduler, the
CLI, exports) nothing is kept and every read goes to the database.

What is kept is never older than the number it is kept under: it was read after the turn's
read saw that number, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CatalogVersion

CATALOG_VERSION = "catalog_version"  # in AsyncSession.info: the number the turn's read saw
CURRENT_VERSION = select(CatalogVersion.version).where(CatalogVersion.id == 1).scalar_subquery()

T = TypeVar("T")


@dataclass
class _Kept:
    version: int = -1
    values: dict[Hashable, Any] = field(default_factory=dict)


_kept: WeakKeyDictionary[Engine, _Kept] = WeakKeyDictionary()


async def cached(db: AsyncSession, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """What `read()` returns, kept under `key` while the catalog's version stays the one this
    turn saw."""
    version = db.info.get(CATALOG_VERSION)
    if version is None:
        return await read()
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    kept = _kept.setdefault(engine, _Kept())
    if version > kept.version:  # the catalog changed: what is kept is of an older one
        kept.version, kept.values = version, {}
    elif version < kept.version:  # this turn began before a change another one has seen
        return await read()
    if key in kept.values:
        return kept.values[key]  # type: ignore[no-any-return]
    value = await read()
    if kept.version == version:  # not moved on meanwhile by another turn
        kept.values[key] = value
    return value


def keep(db: AsyncSession, key: Hashable, value: Any) -> None:
    """Keep a value read along with another one (the seats of an endpoint's list, each on
    its own), as `cached` would have."""
    version = db.info.get(CATALOG_VERSION)
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    kept = _kept.get(engine)
    if version is not None and kept is not None and kept.version == version:
        kept.values[key] = value


def changed(db: AsyncSession) -> None:
    """This turn changed the catalog: its later reads go to the database (its version is the
    one from before the change)."""
    db.info.pop(CATALOG_VERSION, None)
