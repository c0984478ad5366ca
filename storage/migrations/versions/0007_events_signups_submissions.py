"""Events of several kinds: sign-ups (attendance) apart from submissions (what is handed in)

`sessions` becomes `events` (with a compile and a materials deadline), `session_endpoints`
becomes `event_endpoints` (with an optional start of its own: a voter-contact round visits
communes on different days), and `registrations` splits into `sign_ups` (citizen, event,
endpoint, seats, status, code, waitlist) and `submissions` (a reception case summary with
the identity and the review; a voter's petition). Each registration's case becomes one
submission of kind `case`, linked to its sign-up, with the same id.

The new tables are created and filled, then the old ones dropped, on both engines: names
of indexes and constraints follow the new tables. Downgrading puts each case back on its
sign-up; petitions, which the old schema cannot hold, are dropped with their table.

Revision ID: 0007_events
Revises: 0006_workers
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "0007_events"
down_revision: str | None = "0006_workers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = "status != 'cancelled'"


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def _when() -> sa.Column[object]:
    return sa.Column("starts_at", UTCDateTime(timezone=True), nullable=False)


def _event_columns(kind: str, status: str) -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum(kind, "reception", "voter_meeting", "hearing"), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("host", sa.String(length=300), nullable=False),
        _when(),
        sa.Column("status", _enum(status, "scheduled", "rescheduled", "cancelled", "done"), nullable=False),
        sa.Column("online_room", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    ]


def _seat_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("seats_taken", sa.Integer(), nullable=False),
    ]


def _seat_constraints(table: str, events: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.CheckConstraint("capacity > 0", name=op.f(f"ck_{table}_capacity_positive")),
        sa.CheckConstraint(
            "seats_taken >= 0 AND seats_taken <= capacity", name=op.f(f"ck_{table}_seats_within_capacity")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["endpoints.id"], name=op.f(f"fk_{table}_endpoint_id_endpoints")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], [f"{events}.id"], name=op.f(f"fk_{table}_session_id_{events}"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("session_id", "endpoint_id", name=op.f(f"uq_{table}_session_id")),
    ]


def _attendance_columns(status: str) -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("citizen_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("session_endpoint_id", sa.Integer(), nullable=False),
        sa.Column("status", _enum(status, "confirmed", "waitlisted", "cancelled"), nullable=False),
    ]


def _attendance_times() -> list[sa.Column[object]]:
    return [
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(timezone=True), nullable=True),
    ]


def _attendance_constraints(table: str, events: str, seats: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.CheckConstraint("seats >= 1", name=op.f(f"ck_{table}_seats_positive")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f(f"fk_{table}_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["session_endpoint_id"], [f"{seats}.id"], name=op.f(f"fk_{table}_session_endpoint_id_{seats}")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], [f"{events}.id"], name=op.f(f"fk_{table}_session_id_{events}")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("code", name=op.f(f"uq_{table}_code")),
    ]


IDENTITY = ("full_name", "phone", "id_number", "address")
CASE = ("case_type", "field", "summary", "prior_agency", "group_size", "representatives", "attachments")
REVIEW = ("route", "route_note", "forwarded_to", "reviewed_at", "reviewed_by", "outcome", "outcome_at")


def _case_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("id_number", sa.String(length=12), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column(
            "case_type",
            _enum("case_type", "complaint", "denunciation", "petition", "reflection"),
            nullable=False,
        ),
        sa.Column("field", sa.String(length=40), nullable=False),
    ]


def _case_text_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("prior_agency", sa.String(length=300), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=False),
        sa.Column("representatives", sa.JSON(), nullable=False),
        sa.Column("attachments", sa.JSON(), nullable=False),
    ]


def _review_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("route", sa.String(length=10), nullable=True),
        sa.Column("route_note", sa.Text(), nullable=False),
        sa.Column("forwarded_to", sa.String(length=200), nullable=False),
        sa.Column("reviewed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=90), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("outcome_at", UTCDateTime(timezone=True), nullable=True),
    ]


def _index_attendance(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_citizen_id"), table, ["citizen_id"], unique=False)
    op.create_index(f"ix_{table}_queue", table, ["session_endpoint_id", "status", "queued_at"], unique=False)
    op.create_index(
        f"uq_{table}_active_citizen_session",
        table,
        ["citizen_id", "session_id"],
        unique=True,
        sqlite_where=sa.text(ACTIVE),
        postgresql_where=sa.text(ACTIVE),
    )


def _copy(source: str, target: str, columns: Sequence[str], select_from: str | None = None) -> None:
    names = ", ".join(columns)
    op.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {select_from or source}")


def _restart_ids(*tables: str) -> None:
    """PostgreSQL: rows came in with their ids; the next id a sequence gives must follow them."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1), "
            f"MAX(id) IS NOT NULL) FROM {table}"
        )


EVENT = ("id", "kind", "title", "host", "starts_at", "status", "online_room", "created_at")
SEAT = ("id", "session_id", "endpoint_id", "capacity", "seats_taken")
ATTENDANCE = (
    "id", "code", "citizen_id", "session_id", "session_endpoint_id", "status",
    "seats", "created_at", "updated_at", "queued_at", "cancelled_at",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "events",
        *_event_columns("event_kind", "event_status"),
        sa.Column("compile_deadline", UTCDateTime(timezone=True), nullable=True),
        sa.Column("materials_deadline", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_starts_at"), "events", ["starts_at"], unique=False)
    op.create_table(
        "event_endpoints",
        *_seat_columns(),
        sa.Column("starts_at", UTCDateTime(timezone=True), nullable=True),
        *_seat_constraints("event_endpoints", "events"),
    )
    op.create_table(
        "sign_ups",
        *_attendance_columns("sign_up_status"),
        *_attendance_times(),
        *_attendance_constraints("sign_ups", "events", "event_endpoints"),
    )
    _index_attendance("sign_ups")
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), nullable=False),
        # Every kind from the start, the hearings' too (0008): a CHECK changed later would
        # make SQLite rebuild a table others point at.
        sa.Column(
            "kind",
            _enum("submission_kind", "case", "petition", "report", "question", "speech"),
            nullable=False,
        ),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sign_up_id", sa.Integer(), nullable=True),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("endpoint_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("status", _enum("submission_status", "active", "withdrawn", "merged"), nullable=False),
        *_case_columns(),
        sa.Column("level", _enum("answer_level", "central", "province", "commune"), nullable=True),
        *_case_text_columns(),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        *_review_columns(),
        sa.CheckConstraint("group_size >= 1", name=op.f("ck_submissions_group_size_positive")),
        sa.CheckConstraint("voters >= 1", name=op.f("ck_submissions_voters_positive")),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["citizens.id"], name=op.f("fk_submissions_citizen_id_citizens")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["endpoints.id"], name=op.f("fk_submissions_endpoint_id_endpoints")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_submissions_event_id_events")),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["submissions.id"], name=op.f("fk_submissions_merged_into_id_submissions")
        ),
        sa.ForeignKeyConstraint(
            ["sign_up_id"], ["sign_ups.id"], name=op.f("fk_submissions_sign_up_id_sign_ups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("code", name=op.f("uq_submissions_code")),
    )
    op.create_index(op.f("ix_submissions_citizen_id"), "submissions", ["citizen_id"], unique=False)
    op.create_index(op.f("ix_submissions_merged_into_id"), "submissions", ["merged_into_id"], unique=False)
    op.create_index(op.f("ix_submissions_sign_up_id"), "submissions", ["sign_up_id"], unique=False)
    op.create_index("ix_submissions_event", "submissions", ["event_id", "kind", "status"], unique=False)

    _copy("sessions", "events", EVENT)
    _copy("session_endpoints", "event_endpoints", SEAT)
    _copy("registrations", "sign_ups", ATTENDANCE)
    case = ("id", "kind", "event_id", "sign_up_id", "citizen_id", "endpoint_id", "status", "voters")
    op.execute(
        f"INSERT INTO submissions ({', '.join(case + IDENTITY + CASE + REVIEW)}, created_at, updated_at) "
        f"SELECT r.id, 'case', r.session_id, r.id, r.citizen_id, se.endpoint_id, 'active', 1, "
        f"{', '.join('r.' + name for name in IDENTITY + CASE + REVIEW)}, r.created_at, r.updated_at "
        "FROM registrations r JOIN session_endpoints se ON se.id = r.session_endpoint_id"
    )
    _restart_ids("events", "event_endpoints", "sign_ups", "submissions")
    _drop_old_reception_tables()


def _drop_old_reception_tables() -> None:
    op.drop_index("uq_registrations_active_citizen_session", table_name="registrations")
    op.drop_index("ix_registrations_queue", table_name="registrations")
    op.drop_index(op.f("ix_registrations_citizen_id"), table_name="registrations")
    op.drop_table("registrations")
    op.drop_table("session_endpoints")
    op.drop_index(op.f("ix_sessions_starts_at"), table_name="sessions")
    op.drop_table("sessions")


def downgrade() -> None:
    op.create_table(
        "sessions",
        *_event_columns("session_kind", "session_status"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_starts_at"), "sessions", ["starts_at"], unique=False)
    op.create_table(
        "session_endpoints", *_seat_columns(), *_seat_constraints("session_endpoints", "sessions")
    )
    op.create_table(
        "registrations",
        *_attendance_columns("registration_status"),
        *_case_columns(),
        *_case_text_columns(),
        *_attendance_times(),
        *_review_columns(),
        sa.CheckConstraint("group_size >= 1", name=op.f("ck_registrations_group_size_positive")),
        *_attendance_constraints("registrations", "sessions", "session_endpoints"),
    )
    _index_attendance("registrations")

    _copy("events", "sessions", EVENT)
    # An endpoint's own start is lost: the event's start stands for all of them.
    _copy("event_endpoints", "session_endpoints", SEAT)
    # A sign-up without a case (voter contact) cannot be a registration; it goes.
    attendance = ", ".join("s." + name for name in ATTENDANCE)
    case = ", ".join("c." + name for name in IDENTITY + CASE + REVIEW)
    op.execute(
        f"INSERT INTO registrations ({', '.join(ATTENDANCE + IDENTITY + CASE + REVIEW)}) "
        f"SELECT {attendance}, {case} FROM sign_ups s "
        "JOIN submissions c ON c.sign_up_id = s.id AND c.kind = 'case'"
    )
    _restart_ids("sessions", "session_endpoints", "registrations")

    op.drop_index("ix_submissions_event", table_name="submissions")
    for column in ("sign_up_id", "merged_into_id", "citizen_id"):
        op.drop_index(op.f(f"ix_submissions_{column}"), table_name="submissions")
    op.drop_table("submissions")
    op.drop_index("uq_sign_ups_active_citizen_session", table_name="sign_ups")
    op.drop_index("ix_sign_ups_queue", table_name="sign_ups")
    op.drop_index(op.f("ix_sign_ups_citizen_id"), table_name="sign_ups")
    op.drop_table("sign_ups")
    op.drop_table("event_endpoints")
    op.drop_index(op.f("ix_events_starts_at"), table_name="events")
    op.drop_table("events")
