"""The outbox's one door: every notice enters here, as a kind and its typed params.

A notice is once per (kind, occasion, recipient): that is its dedupe key, made only here. The
occasion is what the params say makes the notice the one it is: the session's start for a
reminder, the event's time for news of a decision or a change. A second notice with the same
key (from a later tick, a restart, another process) is dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar, get_type_hints

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_insert
from storage.models import Notification


class NoticeKind(StrEnum):
    """The kinds of notice; the values are what the rows store."""

    WAITLIST_PROMOTED = "waitlist_promoted"
    ROUTE_ACCEPT = "route_accept"
    ROUTE_RETURN = "route_return"
    ROUTE_FORWARD = "route_forward"
    OUTCOME = "outcome"
    REMINDER = "reminder"
    SESSION_MOVED = "session_moved"
    SESSION_CANCELLED = "session_cancelled"
    ROUND_MOVED = "round_moved"
    ROUND_CANCELLED = "round_cancelled"
    BROADCAST = "broadcast"
    BROADCAST_DONE = "broadcast_done"
    DEADLINE_EXPORT = "deadline_export"
    CONNECTION_CHECK = "connection_check"
    EMPTY_SESSION = "empty_session"
    ZALO_TOKEN_FAILED = "zalo_token_failed"
    STAFF_REVOKED = "staff_revoked"
    PETITION_ANSWER = "petition_answer"
    # Voter contact, to staff (storage.staff_notices): the compiled report at the compile
    # deadline (Word, then the Excel table), the reminder a day before it while petitions are
    # unclassified, the materials deadline, the attendance per endpoint the day before.
    COMPILE_REPORT = "compile_report"
    COMPILE_TABLE = "compile_table"
    COMPILE_UNCLASSIFIED = "compile_unclassified"
    MATERIALS_DUE = "materials_due"
    ATTENDANCE = "attendance"
    # Explanation hearings (storage.hearing_reports): a late agency's liaisons are reminded at
    # D-3 and D-1 before the report deadline; at the deadline the admins get who filed and who not.
    REPORT_DUE = "report_due"
    HEARING_REPORTS = "hearing_reports"
    # Explanation hearings, to a citizen who sent a question: selected into the hearing or
    # declined (storage.hearing_questions.decide), and the hearing's conclusion (kết luận).
    QUESTION_SELECTED = "question_selected"
    QUESTION_DECLINED = "question_declined"
    HEARING_CONCLUSION = "hearing_conclusion"
    # A hearing moved or cancelled, to whom it concerns: citizens who sent questions, delegates
    # registered to speak, the liaisons of the agencies that must explain.
    HEARING_MOVED = "hearing_moved"
    HEARING_CANCELLED = "hearing_cancelled"


# News of a citizen's own case: worth a template by phone when the chat cannot reach them,
# and a call when nothing can (/undelivered); reminders and broadcasts are not.
ABOUT_THEIR_CASE = frozenset(
    {
        NoticeKind.SESSION_MOVED,
        NoticeKind.SESSION_CANCELLED,
        NoticeKind.ROUND_MOVED,
        NoticeKind.ROUND_CANCELLED,
        NoticeKind.WAITLIST_PROMOTED,
        NoticeKind.ROUTE_ACCEPT,
        NoticeKind.ROUTE_RETURN,
        NoticeKind.ROUTE_FORWARD,
        NoticeKind.OUTCOME,
        NoticeKind.PETITION_ANSWER,
        NoticeKind.HEARING_MOVED,
        NoticeKind.HEARING_CANCELLED,
    }
)


@dataclasses.dataclass(frozen=True)
class NoticeParams:
    """What a notice's renderer reads, stored as JSON in its row (datetimes as ISO text)."""

    # Derived from the data at every outbox tick, so mostly there already: those are looked
    # for first, since on PostgreSQL even an INSERT that conflicts uses up a sequence number.
    queued_again: ClassVar[bool] = False

    def occasion(self, now: datetime) -> str:
        """With the kind and the recipient, what makes this notice the one it is."""
        raise NotImplementedError

    def broadcast(self) -> int | None:
        """The broadcast whose counts this notice is one of (broadcasts.progress)."""
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))
        }


@dataclasses.dataclass(frozen=True)
class AboutRegistration(NoticeParams):
    """A seat from the waiting list, a staff decision on the case, or its outcome."""

    registration_id: int

    def occasion(self, now: datetime) -> str:
        return f"{self.registration_id}:{now.isoformat()}"


@dataclasses.dataclass(frozen=True)
class Reminder(NoticeParams):
    """The reminder `hours` before the session starting at `starts_at` (a moved one gets a new one)."""

    queued_again: ClassVar[bool] = True
    registration_id: int
    hours: int
    starts_at: datetime
    calendar: bool  # with an .ics file of the session

    def occasion(self, now: datetime) -> str:
        return f"{self.registration_id}:{self.hours}h:{self.starts_at.isoformat()}"


@dataclasses.dataclass(frozen=True)
class SessionMoved(NoticeParams):
    registration_id: int
    old: datetime
    new: datetime
    deadline: datetime  # for changes to the registration (the summary deadline)
    reason: str

    def occasion(self, now: datetime) -> str:
        return f"{self.registration_id}:{now.isoformat()}"


@dataclasses.dataclass(frozen=True)
class SessionCancelled(NoticeParams):
    registration_id: int
    reason: str

    def occasion(self, now: datetime) -> str:
        return f"{self.registration_id}:{now.isoformat()}"


@dataclasses.dataclass(frozen=True)
class RoundMoved(NoticeParams):
    """To a voter of a voter-contact round (signed up, or with petitions in it) that moved:
    the old and new start of their endpoint (`endpoint_id`), or of the round's first meeting
    (None), and the petitions' deadline after the move."""

    event_id: int
    endpoint_id: int | None
    old: datetime
    new: datetime
    deadline: datetime
    reason: str

    def occasion(self, now: datetime) -> str:
        return f"{self.event_id}:{now.isoformat()}"


@dataclasses.dataclass(frozen=True)
class RoundCancelled(NoticeParams):
    """To a voter of a voter-contact round that was cancelled."""

    event_id: int
    reason: str

    def occasion(self, now: datetime) -> str:
        return f"{self.event_id}:{now.isoformat()}"


@dataclasses.dataclass(frozen=True)
class HearingMoved(NoticeParams):
    """To someone a hearing concerns (`role`: question | speaker | liaison): it moved from
    `old` to `new`; its deadlines after the move are read from the event."""

    event_id: int
    role: str
    old: datetime
    new: datetime
    reason: str

    def occasion(self, now: datetime) -> str:
        return f"{self.event_id}:{now.isoformat()}"


@dataclasses.dataclass(frozen=True)
class HearingCancelled(NoticeParams):
    """To someone a hearing concerns (`role` as in HearingMoved): it was cancelled."""

    event_id: int
    role: str
    reason: str

    def occasion(self, now: datetime) -> str:
        return f"{self.event_id}:{now.isoformat()}"


@dataclasses.dataclass(frozen=True)
class BroadcastMessage(NoticeParams):
    """One recipient's copy of a broadcast."""

    broadcast_id: int

    def occasion(self, now: datetime) -> str:
        return str(self.broadcast_id)

    def broadcast(self) -> int | None:
        return self.broadcast_id


@dataclasses.dataclass(frozen=True)
class BroadcastDone(NoticeParams):
    """To whoever started the broadcast: it is done, with its figures."""

    broadcast_id: int

    def occasion(self, now: datetime) -> str:
        return str(self.broadcast_id)


@dataclasses.dataclass(frozen=True)
class SessionNotice(NoticeParams):
    """To staff, about the session starting at `starts_at`: again only if it moves."""

    queued_again: ClassVar[bool] = True
    session_id: int
    starts_at: datetime

    def occasion(self, now: datetime) -> str:
        return f"{self.session_id}:{self.starts_at.isoformat()}"


@dataclasses.dataclass(frozen=True)
class RoundDeadline(NoticeParams):
    """To staff, about a round's deadline `due` (compile, materials): again only if it moves."""

    queued_again: ClassVar[bool] = True
    session_id: int
    due: datetime

    def occasion(self, now: datetime) -> str:
        return f"{self.session_id}:{self.due.isoformat()}"


@dataclasses.dataclass(frozen=True)
class TokenFailed(NoticeParams):
    """To admins: the Zalo OA token pair stopped working (once a day each)."""

    queued_again: ClassVar[bool] = True
    reason: str
    failed_at: datetime

    def occasion(self, now: datetime) -> str:
        return now.date().isoformat()


@dataclasses.dataclass(frozen=True)
class StaffRevoked(NoticeParams):
    """To a former staff member."""

    def occasion(self, now: datetime) -> str:
        return now.isoformat()


@dataclasses.dataclass(frozen=True)
class PetitionAnswer(NoticeParams):
    """To each voter behind a petition (merged ones included): the agency's answer. Once per
    voter and petition, even when two of their petitions were merged into it."""

    petition_id: int  # the petition answered (the kept one of a merge)

    def occasion(self, now: datetime) -> str:
        return str(self.petition_id)


@dataclasses.dataclass(frozen=True)
class ReportDue(NoticeParams):
    """To the liaisons of an agency that has not filed its report for a hearing: `days` before
    its deadline `due` (3, then 1). Again only if the deadline moves."""

    queued_again: ClassVar[bool] = True
    event_id: int
    agency_id: int
    due: datetime
    days: int

    def occasion(self, now: datetime) -> str:
        return f"{self.event_id}:{self.agency_id}:{self.days}d:{self.due.isoformat()}"


@dataclasses.dataclass(frozen=True)
class QuestionDecision(NoticeParams):
    """To a citizen: their question on a hearing's topic was selected into it, or declined."""

    question_id: int

    def occasion(self, now: datetime) -> str:
        return str(self.question_id)


@dataclasses.dataclass(frozen=True)
class HearingConclusion(NoticeParams):
    """To each citizen whose question was on a hearing's list: its conclusion, once."""

    event_id: int

    def occasion(self, now: datetime) -> str:
        return str(self.event_id)


PARAMS: Mapping[NoticeKind, type[NoticeParams]] = {
    NoticeKind.WAITLIST_PROMOTED: AboutRegistration,
    NoticeKind.ROUTE_ACCEPT: AboutRegistration,
    NoticeKind.ROUTE_RETURN: AboutRegistration,
    NoticeKind.ROUTE_FORWARD: AboutRegistration,
    NoticeKind.OUTCOME: AboutRegistration,
    NoticeKind.REMINDER: Reminder,
    NoticeKind.SESSION_MOVED: SessionMoved,
    NoticeKind.SESSION_CANCELLED: SessionCancelled,
    NoticeKind.ROUND_MOVED: RoundMoved,
    NoticeKind.ROUND_CANCELLED: RoundCancelled,
    NoticeKind.BROADCAST: BroadcastMessage,
    NoticeKind.BROADCAST_DONE: BroadcastDone,
    NoticeKind.DEADLINE_EXPORT: SessionNotice,
    NoticeKind.CONNECTION_CHECK: SessionNotice,
    NoticeKind.EMPTY_SESSION: SessionNotice,
    NoticeKind.ZALO_TOKEN_FAILED: TokenFailed,
    NoticeKind.STAFF_REVOKED: StaffRevoked,
    NoticeKind.PETITION_ANSWER: PetitionAnswer,
    NoticeKind.COMPILE_REPORT: RoundDeadline,
    NoticeKind.COMPILE_TABLE: RoundDeadline,
    NoticeKind.COMPILE_UNCLASSIFIED: RoundDeadline,
    NoticeKind.MATERIALS_DUE: RoundDeadline,
    NoticeKind.ATTENDANCE: SessionNotice,
    NoticeKind.REPORT_DUE: ReportDue,
    NoticeKind.HEARING_REPORTS: RoundDeadline,
    NoticeKind.QUESTION_SELECTED: QuestionDecision,
    NoticeKind.QUESTION_DECLINED: QuestionDecision,
    NoticeKind.HEARING_CONCLUSION: HearingConclusion,
    NoticeKind.HEARING_MOVED: HearingMoved,
    NoticeKind.HEARING_CANCELLED: HearingCancelled,
}


def dedupe_key(kind: NoticeKind, citizen_id: int, params: NoticeParams, now: datetime) -> str:
    """The one recipe: kind, occasion, recipient."""
    return f"{kind.value}:{params.occasion(now)}:{citizen_id}"


async def queue(
    db: AsyncSession, kind: NoticeKind, *, citizen_id: int, params: NoticeParams, now: datetime
) -> None:
    """A notice to `citizen_id`, due now, in the caller's transaction; dropped if one with
    the same dedupe key is there already (or written at the same moment by another process)."""
    await queue_all(db, kind, [(citizen_id, params)], now=now)


async def queue_all(
    db: AsyncSession, kind: NoticeKind, notices: Iterable[tuple[int, NoticeParams]], *, now: datetime
) -> None:
    """Notices of one kind, (recipient's citizen id, params) each, as `queue` does, in one INSERT."""
    rows: dict[str, dict[str, Any]] = {}
    for citizen_id, params in notices:
        if not isinstance(params, PARAMS[kind]):  # the kind and its params go together
            raise TypeError(f"a {kind} notice takes {PARAMS[kind].__name__}, not {type(params).__name__}")
        key = dedupe_key(kind, citizen_id, params, now)
        rows[key] = {
            "citizen_id": citizen_id,
            "kind": kind.value,
            "params": params.to_json(),
            "due_at": now,
            "dedupe_key": key,
            "broadcast_id": params.broadcast(),
            "created_at": now,
            "state": "pending",
            "attempts": 0,
            "result": "",
        }
    if rows and PARAMS[kind].queued_again:
        there = select(Notification.dedupe_key).where(Notification.dedupe_key.in_(list(rows)))
        for key in set(await db.scalars(there)):
            del rows[key]
    if rows:
        await db.execute(dialect_insert(db, Notification).on_conflict_do_nothing(), list(rows.values()))


# Stored as ISO text, read back as datetimes.
DATETIME_FIELDS = {
    cls: frozenset(name for name, hint in get_type_hints(cls).items() if hint is datetime)
    for cls in set(PARAMS.values())
}
P = TypeVar("P", bound=NoticeParams)


def params_of(notice: Notification, cls: type[P]) -> P:
    """The typed params of a stored notice (ValueError if its kind takes others)."""
    if PARAMS[NoticeKind(notice.kind)] is not cls:
        raise ValueError(f"a {notice.kind} notice has no {cls.__name__}")
    dates = DATETIME_FIELDS[cls]
    return cls(**{k: datetime.fromisoformat(v) if k in dates else v for k, v in notice.params.items()})


async def purge_sent(db: AsyncSession, *, before: datetime) -> int:
    """Delete notices sent before `before` (HANDLED_KEEP_DAYS ago). The others stay: failed
    and unreachable ones for staff to call (/undelivered), and with them a broadcast's counts
    (broadcasts.progress). Returns how many."""
    result = await db.execute(
        delete(Notification)
        .where(Notification.state == "sent", Notification.sent_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
