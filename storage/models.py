"""SQLAlchemy 2 models. Portable types only: the same schema runs on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SessionKind(enum.StrEnum):
    RECEPTION = "reception"
    VOTER_MEETING = "voter_meeting"
    HEARING = "hearing"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    DONE = "done"


class RegistrationStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class CaseType(enum.StrEnum):
    COMPLAINT = "complaint"  # khiếu nại
    DENUNCIATION = "denunciation"  # tố cáo
    PETITION = "petition"  # kiến nghị
    REFLECTION = "reflection"  # phản ánh


def _enum(kind: type[enum.StrEnum], name: str) -> Enum:
    # Stored as plain strings with a CHECK, so both engines read the same values.
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class Endpoint(Base):
    """A place citizens attend from (commune, ward, special zone or any named place)."""

    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    area: Mapped[str] = mapped_column(String(200), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    # Lower-case, diacritics removed: "tan binh" finds "Tân Bình".
    search_name: Mapped[str] = mapped_column(String(400), index=True)
    active: Mapped[bool] = mapped_column(default=True)


class ReceptionSession(Base):
    """A citizen-reception session (buổi tiếp công dân)."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[SessionKind] = mapped_column(_enum(SessionKind, "session_kind"))
    title: Mapped[str] = mapped_column(String(300))
    host: Mapped[str] = mapped_column(String(300), default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[SessionStatus] = mapped_column(
        _enum(SessionStatus, "session_status"), default=SessionStatus.SCHEDULED
    )
    online_room: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    endpoints: Mapped[list[SessionEndpoint]] = relationship(
        back_populates="session", cascade="all, delete-orphan", order_by="SessionEndpoint.id"
    )


class SessionEndpoint(Base):
    """An endpoint taking part in a session, with its seats.

    `seats_taken` is the only counter of confirmed seats; it is changed with a
    conditional UPDATE so concurrent sign-ups can never pass `capacity`.
    """

    __tablename__ = "session_endpoints"
    __table_args__ = (
        UniqueConstraint("session_id", "endpoint_id"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id"))
    capacity: Mapped[int] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)

    session: Mapped[ReceptionSession] = relationship(back_populates="endpoints")
    endpoint: Mapped[Endpoint] = relationship(lazy="joined")


class Citizen(Base):
    """A person as known on one channel. Personal fields are empty until consent."""

    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    consent_version: Mapped[str | None] = mapped_column(String(32), default=None)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    full_name: Mapped[str | None] = mapped_column(String(100), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    id_number: Mapped[str | None] = mapped_column(String(12), default=None)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    unreachable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Their last message or follow (Zalo OA may answer only within 7 days of it).
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Registration(Base):
    """A citizen's sign-up for a session at an endpoint, with the case summary."""

    __tablename__ = "registrations"
    __table_args__ = (
        # One active registration per citizen per session, on both engines.
        Index(
            "uq_registrations_active_citizen_session",
            "citizen_id",
            "session_id",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_registrations_queue", "session_endpoint_id", "status", "queued_at"),
        CheckConstraint("seats >= 1", name="seats_positive"),
        CheckConstraint("group_size >= 1", name="group_size_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"))
    session_endpoint_id: Mapped[int] = mapped_column(ForeignKey("session_endpoints.id"))
    status: Mapped[RegistrationStatus] = mapped_column(_enum(RegistrationStatus, "registration_status"))
    # Identity as given for this case (Form 03 needs it even if the profile changes).
    full_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    id_number: Mapped[str | None] = mapped_column(String(12))
    address: Mapped[str | None] = mapped_column(String(300))
    case_type: Mapped[CaseType] = mapped_column(_enum(CaseType, "case_type"))
    field: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    prior_agency: Mapped[str] = mapped_column(String(300), default="")
    group_size: Mapped[int] = mapped_column(Integer, default=1)
    representatives: Mapped[list[str]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Seats this registration takes: the people attending (representatives for a group).
    seats: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Waitlist order; reset never, so promotion is first come, first served.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Staff review (Form 03: handling route and follow-up of the result).
    route: Mapped[str | None] = mapped_column(String(10), default=None)  # accept | return | forward
    route_note: Mapped[str] = mapped_column(Text, default="")
    forwarded_to: Mapped[str] = mapped_column(String(200), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reviewed_by: Mapped[str] = mapped_column(String(90), default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    session: Mapped[ReceptionSession] = relationship(lazy="joined")
    session_endpoint: Mapped[SessionEndpoint] = relationship(lazy="joined")


class ConversationState(Base):
    """Where a user is in a conversation, kept in the database so restarts lose nothing."""

    __tablename__ = "conversation_states"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(String(40), default="")
    step: Mapped[str] = mapped_column(String(40), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Notification(Base):
    """Transactional outbox: a notice to send later, written with the change that causes it."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[str] = mapped_column(String(300), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    __table_args__ = (Index("ix_notifications_due", "state", "due_at"),)


class AuditEntry(Base):
    """Who did what, when, to which record."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(90))
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(40), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


WORKER_NAME_MAX = 100
UNFINISHED = "handled_at IS NULL OR reply_to IS NOT NULL"


class InboundUpdate(Base):
    """A platform update, stored before it is acknowledged: handled once, never lost."""

    __tablename__ = "inbound_updates"
    __table_args__ = (
        UniqueConstraint("channel", "update_id"),
        # Small: only updates whose reply may not have gone out yet are in it.
        Index(
            "ix_inbound_updates_reply_owed",
            "channel",
            sqlite_where=text("reply_to IS NOT NULL"),
            postgresql_where=text("reply_to IS NOT NULL"),
        ),
        # Small too: a user's updates not finished yet (not handled, or replies owed), which
        # a worker about to handle a later one of theirs must see finished first.
        Index(
            "ix_inbound_updates_unfinished",
            "channel",
            "user_id",
            "id",
            sqlite_where=text(UNFINISHED),
            postgresql_where=text(UNFINISHED),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    update_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None, index=True)
    # The user owed the replies of this update: set with the conversation change, cleared once
    # they are sent. Still set at start, the process died in between: the prompt goes again.
    reply_to: Mapped[str | None] = mapped_column(String(64), default=None)
    # The sender, known when stored: one user's updates are handled in the order stored.
    user_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # The worker that stored it (or took it over from a dead one) and so handles it.
    worker: Mapped[str | None] = mapped_column(String(WORKER_NAME_MAX), default=None)


class Worker(Base):
    """A `tiepdan run` process serving webhooks, alive while it writes `last_seen`."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(WORKER_NAME_MAX), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class StaffRole(enum.StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"


class StaffMember(Base):
    """An officer or admin of the office, known by channel identity."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    # None: every endpoint; otherwise the endpoint ids this officer works on.
    endpoint_ids: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    see_denouncers: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    invited_by: Mapped[str] = mapped_column(String(90), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Invite(Base):
    """A one-time, expiring code with which an officer joins. Only its hash is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "invite_role"))
    endpoint_ids: Mapped[list[int] | None] = mapped_column(JSON, default=None)
    see_denouncers: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(90))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    used_by: Mapped[str] = mapped_column(String(90), default="")


class Broadcast(Base):
    """A message from the office to many citizens, sent through the outbox."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[str] = mapped_column(String(90))
    audience: Mapped[str] = mapped_column(String(20))  # session | endpoint | all
    target_id: Mapped[int | None] = mapped_column(Integer, default=None)
    text: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="running")  # running | cancelled | done
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class ZaloOAToken(Base):
    """The Zalo OA token pair of one app. The refresh token is single-use: a new pair is
    written here (and committed) before the new access token is used."""

    __tablename__ = "zalo_oa_tokens"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Hash of the settings' refresh token the row was seeded from: a new one in the
    # settings (after an admin granted access again) replaces a pair that stopped working.
    seed_hash: Mapped[str] = mapped_column(String(64))
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
