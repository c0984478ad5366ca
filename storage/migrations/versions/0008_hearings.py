"""Explanation hearings: agencies, a hearing's topics and the agencies that must explain,
liaisons and delegates among the staff, reports, questions and speeches as submissions

Revision ID: 0008_hearings
Revises: 0007_events
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0008_hearings"
down_revision: str | None = "0007_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("admin", "officer")
NEW_ROLES = (*ROLES, "liaison")


def _enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _roles(roles: Sequence[str]) -> None:
    """The staff's and the invites' role CHECK (SQLite rebuilds these tables: none point at them)."""
    for table, name in (("staff", "staff_role"), ("invites", "invite_role")):
        old = NEW_ROLES if roles == ROLES else ROLES
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "role", type_=_enum(name, roles), existing_type=_enum(name, old), nullable=False
            )


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable column pointing at `target`, added in place. SQLite cannot add the constraint
    on its own (alembic would rebuild the table, and the rows pointing at it would fail their
    foreign keys), but takes it written with the column."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
        return
    op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
    op.create_foreign_key(op.f(f"fk_{table}_{column}_{target}"), table, target, [column], ["id"])


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("name", name=op.f("uq_agencies_name")),
    )
    op.create_table(
        "hearing_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_hearing_topics_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hearing_topics")),
    )
    op.create_index(op.f("ix_hearing_topics_event_id"), "hearing_topics", ["event_id"], unique=False)
    op.create_table(
        "hearing_agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("topic_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_hearing_agencies_agency_id_agencies")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_hearing_agencies_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hearing_agencies")),
        sa.UniqueConstraint("event_id", "agency_id", name=op.f("uq_hearing_agencies_event_id")),
    )
    # Added in place, not by rebuilding the table (on SQLite the rows pointing at it would
    # fail the foreign keys).
    op.add_column("events", sa.Column("report_deadline", UTCDateTime(timezone=True), nullable=True))
    op.add_column("events", sa.Column("questions_deadline", UTCDateTime(timezone=True), nullable=True))
    op.add_column("events", sa.Column("conclusion", sa.Text(), nullable=False, server_default=sa.text("''")))
    op.add_column("events", sa.Column("concluded_at", UTCDateTime(timezone=True), nullable=True))
    for table in ("staff", "invites"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
            batch.add_column(sa.Column("delegate", sa.Boolean(), nullable=False, server_default=sa.false()))
            batch.create_foreign_key(
                op.f(f"fk_{table}_agency_id_agencies"), "agencies", ["agency_id"], ["id"]
            )
        with op.batch_alter_table(table) as batch:
            batch.alter_column("delegate", server_default=None)
    _roles(NEW_ROLES)
    for column, table in (("topic_id", "hearing_topics"), ("agency_id", "agencies"), ("staff_id", "staff")):
        _add_reference("submissions", column, table)
    op.add_column("submissions", sa.Column("position", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_submissions_agency_id"), "submissions", ["agency_id"], unique=False)


def downgrade() -> None:
    # What the old schema cannot hold goes: the hearings' submissions, liaisons and their invites.
    op.execute("DELETE FROM submissions WHERE kind IN ('report', 'question', 'speech')")
    op.execute("DELETE FROM staff WHERE role = 'liaison'")
    op.execute("DELETE FROM invites WHERE role = 'liaison'")
    op.drop_index(op.f("ix_submissions_agency_id"), table_name="submissions")
    with op.batch_alter_table("submissions") as batch:  # rebuilt: only its own rows point at it
        for column in ("position", "staff_id", "agency_id", "topic_id"):
            batch.drop_column(column)
    _roles(ROLES)
    for table in ("invites", "staff"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_agency_id_agencies"), type_="foreignkey")
            batch.drop_column("delegate")
            batch.drop_column("agency_id")
    for column in ("concluded_at", "conclusion", "questions_deadline", "report_deadline"):
        op.drop_column("events", column)  # in place (SQLite ≥ 3.35), as they were added
    op.drop_table("hearing_agencies")
    op.drop_index(op.f("ix_hearing_topics_event_id"), table_name="hearing_topics")
    op.drop_table("hearing_topics")
    op.drop_table("agencies")
