"""Reminders take the outbox's one dedupe-key recipe: kind, occasion, recipient

Every notice is now keyed `kind:occasion:citizen_id` (storage.outbox.dedupe_key). Of the
notices queued again at every tick, only reminders lacked the recipient: their keys get it,
or the reminders already queued or sent would be queued once more.

Revision ID: 0005_notices
Revises: 0004_crash
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_notices"
down_revision: str | None = "0004_crash"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECIPIENT = "CAST(citizen_id AS VARCHAR(20))"


def upgrade() -> None:
    op.execute(
        f"UPDATE notifications SET dedupe_key = dedupe_key || ':' || {RECIPIENT} WHERE kind = 'reminder'"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE notifications"
        f" SET dedupe_key = substr(dedupe_key, 1, length(dedupe_key) - length({RECIPIENT}) - 1)"
        " WHERE kind = 'reminder'"
    )
