"""The audit log: one row per action that touches personal data or a decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import write_with_turn
from storage.models import AuditEntry


def record(
    db: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: object = "",
    **details: Any,
) -> None:
    db.add(
        AuditEntry(
            at=at,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            details=details,
        )
    )


_ENTRIES = cast(Table, AuditEntry.__table__)
_COLUMNS = ("at", "actor", "action", "target_type", "target_id", "details")
_INSERT = insert(_ENTRIES).values(
    {name: bindparam(f"audit_{name}", type_=_ENTRIES.c[name].type) for name in _COLUMNS}
)


async def write(
    db: AsyncSession,
    *,
    at: datetime,
    actor: str,
    action: str,
    target_type: str = "",
    target_id: object = "",
    **details: Any,
) -> None:
    """As `record`, with one Core INSERT (no unit-of-work flush): in a dialog turn, sent with
    its closing write (`storage.db.write_with_turn`)."""
    params = {
        "audit_at": at,
        "audit_actor": actor,
        "audit_action": action,
        "audit_target_type": target_type,
        "audit_target_id": str(target_id),
        "audit_details": details,
    }
    await write_with_turn(db, _INSERT, params)


@dataclass(frozen=True)
class ConsentEvent:
    """A consent given, refused or withdrawn, as the citizen's own data shows it."""

    at: datetime
    action: str  # one of CONSENT_ACTIONS
    version: str | None  # of the privacy notice


CONSENT_ACTIONS = ("consent.give", "consent.refuse", "consent.withdraw")
_CONSENTS = (
    select(_ENTRIES.c.at, _ENTRIES.c.action, _ENTRIES.c.details)
    .where(_ENTRIES.c.actor == bindparam("actor"), _ENTRIES.c.action.in_(CONSENT_ACTIONS))
    .order_by(_ENTRIES.c.at, _ENTRIES.c.id)
)


async def consents(db: AsyncSession, actor: str) -> list[ConsentEvent]:
    """The consents of one citizen (their actor name), oldest first."""
    rows = await db.execute(_CONSENTS, {"actor": actor})
    return [ConsentEvent(row.at, row.action, (row.details or {}).get("version")) for row in rows]
