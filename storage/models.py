"""SQLAlchemy 2 models. Portable types only: the same schema runs on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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


class EventKind(enum.StrEnum):
    RECEPTION = "reception"  # tiếp công dân
    VOTER_MEETING = "voter_meeting"  # tiếp xúc cử tri
    HEARING = "hearing"  # phiên giải trình


class EventStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    DONE = "done"


class SignUpStatus(enum.StrEnum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class CaseType(enum.StrEnum):
    COMPLAINT = "complaint"  # khiếu nại
    DENUNCIATION = "denunciation"  # tố cáo
    PETITION = "petition"  # kiến nghị
    REFLECTION = "reflection"  # phản ánh


class SubmissionKind(enum.StrEnum):
    CASE = "case"  # a reception case summary (tóm tắt nội dung vụ việc)
    PETITION = "petition"  # a voter's petition (ý kiến, kiến nghị cử tri)
    REPORT = "report"  # a hearing: an agency's written report (báo cáo giải trình)
    QUESTION = "question"  # a hearing: a citizen's question on one of its topics
    SPEECH = "speech"  # a hearing: a delegate's registration to speak, with a question to an agency


class SubmissionStatus(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"  # folded into another petition on the same matter (`merged_into_id`)


class AnswerLevel(enum.StrEnum):
    """Who must answer a voter's petition."""

    CENTRAL = "central"  # trung ương
    PROVINCE = "province"  # tỉnh
    COMMUNE = "commune"  # xã, phường


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


class Event(Base):
    """A citizen-reception session, a voter-contact conference or an explanation hearing.

    What differs between kinds (deadlines, code prefix, what is collected) is the kind's
    policy in `storage.event_kinds`, not columns. The word "session" (phiên, buổi) stays in
    the column names of the tables that point here: one event's sitting.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind, "event_kind"))
    title: Mapped[str] = mapped_column(String(300))
    # Who presides (reception) or the delegates' group that meets voters (tổ đại biểu).
    host: Mapped[str] = mapped_column(String(300), default="")
    # The first start over its endpoints (each endpoint may start at its own time).
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[EventStatus] = mapped_column(
        _enum(EventStatus, "event_status"), default=EventStatus.SCHEDULED
    )
    online_room: Mapped[str] = mapped_column(String(500), default="")
    # Hearing: the agencies' written reports are due by this time, citizens' questions by this
    # one; the conclusion (kết luận) staff record after it, sent to those whose question was on
    # the list.
    report_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    questions_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    conclusion: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Voter contact: petitions compiled and sent by this time (default: 5 days after the
    # last endpoint's meeting); materials reach the delegates by this time.
    compile_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    materials_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    endpoints: Mapped[list[EventEndpoint]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="EventEndpoint.id"
    )


class EventEndpoint(Base):
    """An endpoint an event connects, with its seats and, when it differs, its own start.

    `seats_taken` is the only counter of confirmed seats; it is changed with a
    conditional UPDATE so concurrent sign-ups can never pass `capacity`.
    """

    __tablename__ = "event_endpoints"
    __table_args__ = (
        UniqueConstraint("session_id", "endpoint_id"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("endpoints.id"))
    capacity: Mapped[int] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    # None: the event's `starts_at`. A voter-contact round visits communes on different days.
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    event: Mapped[Event] = relationship(back_populates="endpoints")
    endpoint: Mapped[Endpoint] = relationship(lazy="joined")


class CatalogVersion(Base):
    """One row: a number every change to `events`, `endpoints` or `event_endpoints` (seats
    taken included) moves on, by triggers (migration 0009; on PostgreSQL at commit, so that
    this row is the last a transaction locks). The turn's read returns it, and what
    `storage.catalog` keeps between events is read again when it has moved."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


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


class SignUp(Base):
    """Attendance: a citizen's seat(s) at one endpoint of an event, or a place on its
    waiting list. What they hand in is in `submissions`."""

    __tablename__ = "sign_ups"
    __table_args__ = (
        # One active sign-up per citizen per event, on both engines.
        Index(
            "uq_sign_ups_active_citizen_session",
            "citizen_id",
            "session_id",
            unique=True,
            sqlite_where=text("status != 'cancelled'"),
            postgresql_where=text("status != 'cancelled'"),
        ),
        Index("ix_sign_ups_queue", "session_endpoint_id", "status", "queued_at"),
        CheckConstraint("seats >= 1", name="seats_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    session_endpoint_id: Mapped[int] = mapped_column(ForeignKey("event_endpoints.id"))
    status: Mapped[SignUpStatus] = mapped_column(_enum(SignUpStatus, "sign_up_status"))
    # Seats this sign-up takes: the people attending (representatives for a group).
    seats: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Waitlist order; reset never, so promotion is first come, first served.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    event: Mapped[Event] = relationship(lazy="joined")
    event_endpoint: Mapped[EventEndpoint] = relationship(lazy="joined")
    # A reception sign-up's case (its one submission of kind `case`); None for voter contact.
    case: Mapped[Submission | None] = relationship(
        primaryjoin="and_(Submission.sign_up_id == SignUp.id, Submission.kind == 'case')",
        lazy="joined",
        uselist=False,
        viewonly=True,
    )

    @property
    def starts_here(self) -> datetime:
        """When the event starts at this sign-up's endpoint."""
        return self.event_endpoint.starts_at or self.event.starts_at


class Submission(Base):
    """What a citizen hands in for an event: a reception case summary (one per sign-up), or
    a voter's petition (any number per sign-up, or none: a written petition from a commune
    the round does not connect)."""

    __tablename__ = "submissions"
    __table_args__ = (
        Index("ix_submissions_event", "event_id", "kind", "status"),
        CheckConstraint("group_size >= 1", name="group_size_positive"),
        CheckConstraint("voters >= 1", name="voters_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[SubmissionKind] = mapped_column(_enum(SubmissionKind, "submission_kind"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    sign_up_id: Mapped[int | None] = mapped_column(ForeignKey("sign_ups.id"), index=True, default=None)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"), index=True, default=None)
    # The commune it comes from: the sign-up's endpoint, or the voter's own commune.
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("endpoints.id"), default=None)
    # A petition's own code (TXCT-…); a case goes by its sign-up's code.
    code: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)
    status: Mapped[SubmissionStatus] = mapped_column(
        _enum(SubmissionStatus, "submission_status"), default=SubmissionStatus.ACTIVE
    )
    # Identity as given with it (Form 03 and the compiled report need it even if the
    # profile changes).
    full_name: Mapped[str | None] = mapped_column(String(100), default=None)
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    id_number: Mapped[str | None] = mapped_column(String(12), default=None)
    address: Mapped[str | None] = mapped_column(String(300), default=None)
    case_type: Mapped[CaseType] = mapped_column(_enum(CaseType, "case_type"))
    field: Mapped[str] = mapped_column(String(40))
    level: Mapped[AnswerLevel | None] = mapped_column(_enum(AnswerLevel, "answer_level"), default=None)
    summary: Mapped[str] = mapped_column(Text)
    prior_agency: Mapped[str] = mapped_column(String(300), default="")
    group_size: Mapped[int] = mapped_column(Integer, default=1)
    representatives: Mapped[list[str]] = mapped_column(JSON, default=list)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Petitions on one matter merged into this one: the voters behind it (itself included).
    voters: Mapped[int] = mapped_column(Integer, default=1)
    # A hearing: the topic a question is on, the agency a report is of (or a delegate's question
    # is addressed to), the staff member who filed it (a liaison's report, a delegate's speech),
    # and the order of the speakers (or of the questions selected), set by the admins.
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("hearing_topics.id"), default=None)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True, default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    position: Mapped[int | None] = mapped_column(Integer, default=None)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Staff review (Form 03: handling route and follow-up of the result; a petition: the
    # competent agency it is forwarded to, and the answer).
    route: Mapped[str | None] = mapped_column(String(10), default=None)  # accept | return | forward
    route_note: Mapped[str] = mapped_column(Text, default="")
    forwarded_to: Mapped[str] = mapped_column(String(200), default="")
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    reviewed_by: Mapped[str] = mapped_column(String(90), default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


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
    LIAISON = "liaison"  # đầu mối của một cơ quan giải trình: sees only what is asked of it


class Agency(Base):
    """An agency, company or commune the Standing Committee may call to explain at a hearing."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HearingTopic(Base):
    """A topic of a hearing (nội dung giải trình), in the plan's order."""

    __tablename__ = "hearing_topics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))


class HearingAgency(Base):
    """An agency that must explain at a hearing, on some of its topics, with its written report."""

    __tablename__ = "hearing_agencies"
    __table_args__ = (UniqueConstraint("event_id", "agency_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    topic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


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
    # A liaison's agency; a delegate (đại biểu HĐND) registers to speak at hearings, and may
    # also be an officer or an admin.
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    delegate: Mapped[bool] = mapped_column(default=False)
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
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    delegate: Mapped[bool] = mapped_column(default=False)
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
