"""The audit log: one row per action that touches personal data or a decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

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
