"""The catalog's version: a number that every change to events, endpoints and their seats
moves on, so that each worker can keep the open seats between events and know when to read
them again

Revision ID: 0009_catalog_version
Revises: 0008_hearings
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_catalog_version"
down_revision: str | None = "0008_hearings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("events", "endpoints", "event_endpoints")
OPERATIONS = ("INSERT", "UPDATE", "DELETE")
BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    op.execute("INSERT INTO catalog_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        # At commit (a deferred constraint trigger), not at the change: the version's row is
        # then the last lock a transaction takes, and two that change the catalog cannot each
        # hold what the other waits for.
        op.execute(
            "CREATE FUNCTION bump_catalog_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {table}_bump_catalog_version "
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_catalog_version()"
            )
        return
    # SQLite: one writer at a time, so no lock order to keep.
    for table in TABLES:
        for operation in OPERATIONS:
            op.execute(
                f"CREATE TRIGGER {table}_{operation.lower()}_bump_catalog_version "
                f"AFTER {operation} ON {table} BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_bump_catalog_version ON {table}")
        op.execute("DROP FUNCTION bump_catalog_version()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER {table}_{operation.lower()}_bump_catalog_version")
    op.drop_table("catalog_version")
