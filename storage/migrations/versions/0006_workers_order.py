"""Several workers: each update knows its user and its worker; workers say they are alive

`inbound_updates.user_id` (the sender, stored with the update) lets a worker about to
handle a user's update see the older ones of that user another worker has not finished;
`inbound_updates.worker` says who handles it, so that only a dead worker's updates are
taken over. `workers` holds each live worker's heartbeat.

Revision ID: 0006_workers
Revises: 0005_notices
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0006_workers"
down_revision: str | None = "0005_notices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "handled_at IS NULL OR reply_to IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("inbound_updates") as batch:
        batch.add_column(sa.Column("user_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("worker", sa.String(length=100), nullable=True))
    op.create_index(
        "ix_inbound_updates_unfinished",
        "inbound_updates",
        ["channel", "user_id", "id"],
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )
    op.create_table(
        "workers",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("started_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_workers")),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_index("ix_inbound_updates_unfinished", table_name="inbound_updates")
    with op.batch_alter_table("inbound_updates") as batch:
        batch.drop_column("worker")
        batch.drop_column("user_id")
