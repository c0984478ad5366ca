"""Inbound updates remember whom a reply is owed until it is sent

`reply_to` is set in the transaction that moves the conversation on and cleared once the
replies are sent, so a start after a crash knows whose prompt may not have gone out.

Revision ID: 0004_crash
Revises: 0003
Create Date: 2026-12-01 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_crash"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_updates") as batch:
        batch.add_column(sa.Column("reply_to", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_inbound_updates_reply_owed",
        "inbound_updates",
        ["channel"],
        sqlite_where=sa.text("reply_to IS NOT NULL"),
        postgresql_where=sa.text("reply_to IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_updates_reply_owed", table_name="inbound_updates")
    with op.batch_alter_table("inbound_updates") as batch:
        batch.drop_column("reply_to")
