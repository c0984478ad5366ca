"""Handled inbound updates keep no payload (the sender's name, what they typed)

Since this revision the payload of an update is emptied when it is handled; this empties
those handled before. Nothing reads a handled update's payload, so nothing is lost.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 18:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

inbound_updates = sa.table(
    "inbound_updates", sa.column("payload", sa.JSON()), sa.column("handled_at", sa.DateTime())
)


def upgrade() -> None:
    op.execute(inbound_updates.update().where(inbound_updates.c.handled_at.is_not(None)).values(payload={}))


def downgrade() -> None:
    pass  # what was emptied cannot come back, and nothing needs it
