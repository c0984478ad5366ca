"""The outbox sender: delivers notices written in the same transaction as their cause.

Rows are claimed with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer at a
time anyway), rendered in the recipient's language at send time, sent through the
recipient's channel, and marked so that no notice is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import textwrap
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import calendar, logs
from bot.clock import Clock
from bot.dialog.types import (
    DOCX_TYPE,
    XLSX_TYPE,
    Capabilities,
    Channel,
    Document,
    RateLimited,
    RecipientUnreachable,
    Reply,
    TemplateRefused,
    WindowClosed,
)
from bot.exports import document_translator, export_filename, to_docx, to_xlsx
from bot.hearing_notices import render_hearing_cancelled, render_hearing_moved
from bot.i18n import Translator
from bot.metrics import Metrics
from bot.petition_exports import report_filename
from bot.petition_exports import to_docx as report_docx
from bot.petition_exports import to_xlsx as report_xlsx
from bot.petition_report import petition_report
from bot.ratelimit import RateLimiter
from bot.reception_book import reception_book
from bot.settings import Settings
from storage import (
    broadcasts,
    citizens,
    compilation,
    hearing_questions,
    hearing_reports,
    petition_review,
    reminders,
    staff_notices,
)
from storage.event_kinds import Timing, policy
from storage.identity import UserKey
from storage.models import (
    Agency,
    Broadcast,
    Citizen,
    Endpoint,
    Event,
    EventKind,
    EventStatus,
    Notification,
    SignUp,
    SignUpStatus,
)
from storage.outbox import (
    ABOUT_THEIR_CASE,
    AboutRegistration,
    BroadcastDone,
    BroadcastMessage,
    HearingConclusion,
    NoticeKind,
    PetitionAnswer,
    QuestionDecision,
    Reminder,
    ReportDue,
    RoundCancelled,
    RoundDeadline,
    RoundMoved,
    SessionCancelled,
    SessionMoved,
    SessionNotice,
    TokenFailed,
    params_of,
    queue,
)
from storage.rules import OPEN_STATUSES

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=30)
MIN_LEASE = timedelta(seconds=2)  # a claim's lease is one outbox tick, never shorter than this
HEARTBEATS_PER_LEASE = 3  # a live sender renews its claims this often within one lease
LAPSE_MARGIN = timedelta(milliseconds=20)  # a lease waited for has surely lapsed after this
BATCH = 10  # rows claimed at once at the least: what a killed sender leaves "sending" is small
MIN_WORKERS = 4
LATENCY_BUDGET_S = 0.1  # the round trip of one send the workers can absorb at full rate
TEMPLATE_FIELD_MAX = 100
RENDER_SLICE = 10  # notices rendered between two chances for the workers to run


NOT_HEARD = ("return", "forward")  # decisions after which the citizen need not come to the session


def _route(registration: SignUp) -> str | None:
    """The staff's decision on the sign-up's case (None: none yet, or nothing to decide)."""
    return registration.case.route if registration.case is not None else None


async def _registration(db: AsyncSession, registration_id: int) -> SignUp:
    registration = await db.get(SignUp, registration_id)
    if registration is None:
        raise LookupError(f"registration {registration_id} is gone")
    return registration


async def render_waitlist_promoted(db: AsyncSession, notice: Notification, t: Translator) -> str:
    registration = await _registration(db, params_of(notice, AboutRegistration).registration_id)
    endpoint = registration.event_endpoint.endpoint
    if not policy(registration.event.kind).reviewed:  # a voter's seat: nothing under review
        return t(
            "voters.notice.waitlist_promoted",
            code=registration.code,
            title=registration.event.title,
            when=t.datetime(registration.starts_here),
            endpoint=endpoint.name,
            address=endpoint.address or "—",
        )
    return t(
        "notice.waitlist_promoted",
        code=registration.code,
        when=t.datetime(registration.starts_here),
        endpoint=endpoint.name,
        address=endpoint.address or "—",
        review=t(f"notice.review_state.{_route(registration) or 'pending'}"),
    )


async def render_review(db: AsyncSession, notice: Notification, t: Translator) -> str:
    """The staff's decision or the outcome of the case, told to the citizen."""
    registration = await _registration(db, params_of(notice, AboutRegistration).registration_id)
    case = registration.case
    if case is None:
        raise LookupError(f"registration {registration.id} has no case")
    kind = notice.kind
    if kind == NoticeKind.ROUTE_ACCEPT and registration.status == SignUpStatus.WAITLISTED:
        kind = "route_accept_waitlisted"  # accepted, but without a seat yet: not "come on time"
    return t(
        f"notice.{kind}",
        code=registration.code,
        when=t.datetime(registration.starts_here),
        agency=case.forwarded_to,
        note=case.route_note or "—",
        outcome=case.outcome,
    )


def reminder_message(hours: int, starts_at: datetime, due_at: datetime, t: Translator) -> str:
    """The first reminder says "today" or "tomorrow" only when it is so in the office's time
    zone (it can go late, after a restart, or early with REMINDER_HOURS=48)."""
    if hours < 24:
        return "notice.reminder_soon"
    days = (starts_at.astimezone(t.tz).date() - due_at.astimezone(t.tz).date()).days
    return {0: "notice.reminder_today", 1: "notice.reminder_day"}.get(days, "notice.reminder_ahead")


async def render_reminder(db: AsyncSession, notice: Notification, t: Translator) -> Reply | None:
    """None when the reminder no longer fits: the registration was cancelled or the session moved."""
    params = params_of(notice, Reminder)
    registration = await db.get(SignUp, params.registration_id)
    if registration is None or registration.status != SignUpStatus.CONFIRMED:
        return None
    if _route(registration) in NOT_HEARD:  # they were told they need not come
        return None
    session, starts_at = registration.event, registration.starts_here
    if starts_at != params.starts_at or session.status not in OPEN_STATUSES:
        return None
    endpoint = registration.event_endpoint.endpoint
    fields = {
        "code": registration.code,
        "title": session.title,
        "when": t.datetime(starts_at),
        "endpoint": endpoint.name,
        "address": endpoint.address or "—",
        "room": session.online_room or "—",
    }
    message = reminder_message(params.hours, starts_at, notice.due_at, t)
    if session.kind == EventKind.VOTER_MEETING:  # a conference with the delegates, no CCCD asked
        message = f"voters.{message}"
    text = t(message, **fields)
    if not params.calendar:
        return Reply(text)
    event = calendar.session_event(
        code=registration.code or str(registration.id),
        title=session.title,
        starts_at=starts_at,
        location=t("notice.calendar_location", **fields),
        description=t("notice.calendar_description", **fields),
        online_room=session.online_room,
        issued_at=notice.created_at,
    )
    return Reply(text, document=event)


async def render_session_moved(db: AsyncSession, notice: Notification, t: Translator) -> str:
    params = params_of(notice, SessionMoved)
    registration = await _registration(db, params.registration_id)
    # A short-notice move: no deadline left to tell, nothing to change.
    closed = params.deadline <= notice.created_at
    return t(
        "notice.session_moved_closed" if closed else "notice.session_moved",
        code=registration.code,
        title=registration.event.title,
        when=t.datetime(registration.event.starts_at),
        old=t.datetime(params.old),
        new=t.datetime(params.new),
        reason=params.reason,
        deadline=t.datetime(params.deadline),
    )


async def render_session_cancelled(db: AsyncSession, notice: Notification, t: Translator) -> str:
    params = params_of(notice, SessionCancelled)
    registration = await _registration(db, params.registration_id)
    return t(
        "notice.session_cancelled",
        code=registration.code,
        title=registration.event.title,
        when=t.datetime(registration.event.starts_at),
        reason=params.reason,
    )


async def _event(db: AsyncSession, event_id: int) -> Event:
    event = await db.get(Event, event_id)
    if event is None:
        raise LookupError(f"event {event_id} is gone")
    return event


async def render_round_moved(db: AsyncSession, notice: Notification, t: Translator) -> str:
    """To a voter of a voter-contact round: the meeting of their endpoint (or the round's
    first one) moved; petitions are taken until the deadline said."""
    params = params_of(notice, RoundMoved)
    event = await _event(db, params.event_id)
    endpoint = await db.get(Endpoint, params.endpoint_id) if params.endpoint_id is not None else None
    fields = {
        "title": event.title,
        "old": t.datetime(params.old),
        "new": t.datetime(params.new),
        "reason": params.reason,
        "deadline": t.datetime(params.deadline),
    }
    if endpoint is None:
        return t("notice.round_moved", **fields)
    return t("notice.round_moved_at", endpoint=endpoint.name, **fields)


async def render_round_cancelled(db: AsyncSession, notice: Notification, t: Translator) -> str:
    params = params_of(notice, RoundCancelled)
    event = await _event(db, params.event_id)
    return t(
        "notice.round_cancelled", title=event.title, when=t.datetime(event.starts_at), reason=params.reason
    )


async def _broadcast(db: AsyncSession, broadcast_id: int) -> Broadcast:
    broadcast = await db.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise LookupError(f"broadcast {broadcast_id} is gone")
    return broadcast


async def render_broadcast(db: AsyncSession, notice: Notification, t: Translator) -> str:
    broadcast = await _broadcast(db, params_of(notice, BroadcastMessage).broadcast_id)
    return t("notice.broadcast", text=broadcast.text)


async def render_broadcast_done(db: AsyncSession, notice: Notification, t: Translator) -> str:
    broadcast = await _broadcast(db, params_of(notice, BroadcastDone).broadcast_id)
    done = await broadcasts.progress(db, broadcast)
    return t(
        "notice.broadcast_done",
        id=broadcast.id,
        total=done.total,
        sent=done.sent,
        failed=done.failed,
        unreachable=done.unreachable,
    )


def _days_left(starts_at: datetime, now: datetime, t: Translator) -> int:
    """Calendar days from the send to the session, in the reader's zone: 01/12 → 04/12 is 3."""
    return (starts_at.astimezone(t.tz).date() - now.astimezone(t.tz).date()).days


async def render_staff_notice(db: AsyncSession, notice: Notification, t: Translator) -> Reply | None:
    """The deadline export (with the XLSX, or the DOCX), the connection check and the empty-session flag."""
    params = params_of(notice, SessionNotice)
    session = await db.get(Event, params.session_id)
    if session is None or session.status not in OPEN_STATUSES:
        return None
    if session.kind == EventKind.VOTER_MEETING:  # endpoints meet on days of their own
        return await render_round_start(db, notice, t)
    if session.starts_at != params.starts_at:
        return None  # the session moved: a notice for the new time comes instead
    fields = {
        "id": session.id,
        "title": session.title,
        "when": t.datetime(session.starts_at),
        "room": session.online_room or "—",
        "days": _days_left(session.starts_at, notice.claimed_at or notice.due_at, t),
    }
    if session.kind == EventKind.HEARING:  # no sign-ups nor summaries: only the line is tested
        if notice.kind != NoticeKind.CONNECTION_CHECK:
            return None  # queued before hearings were left out of them
        return Reply(t("hreports.connection_check", **fields))
    if notice.kind != NoticeKind.DEADLINE_EXPORT:
        return Reply(t(f"notice.{notice.kind}", **fields))
    # The admin it goes to reads the denouncers' names: the audit log names them, at the send.
    recipient = await db.get(Citizen, notice.citizen_id)
    if recipient is None:
        raise LookupError(f"citizen {notice.citizen_id} is gone")
    document_t = document_translator(t)  # Form 03 in Vietnamese; the notice in the admin's language
    book = await reception_book(
        db,
        session.id,
        endpoint_ids=None,
        reveal_denouncers=True,
        actor=citizens.actor_of(recipient),
        now=notice.claimed_at or notice.due_at,
        t=document_t,
    )
    docx = Document(export_filename(book, "docx"), to_docx(book, document_t), DOCX_TYPE)
    return Reply(
        t("notice.deadline_export", rows=book.row_count, **fields),
        document=Document(export_filename(book, "xlsx"), to_xlsx(book, document_t), XLSX_TYPE),
        document_fallback=docx,  # Zalo OA takes Word files only
    )


# The compile and materials deadlines' day counts are no settings (yet): the kind policy's.
ROUND_TIMING = Timing()


async def render_round_start(db: AsyncSession, notice: Notification, t: Translator) -> Reply | None:
    """A round's endpoints meeting at one start: their attendance to the admins when sign-ups
    close, the connection test to their officers the day before. None if they moved."""
    params = params_of(notice, SessionNotice)
    info = await compilation.round_info(db, params.session_id, ROUND_TIMING)
    rows = [row for row in await compilation.attendance(db, info, None) if row.starts_at == params.starts_at]
    if not rows or info.status not in OPEN_STATUSES:
        return None
    fields = {"id": info.id, "title": info.title, "when": t.datetime(params.starts_at)}
    if notice.kind == NoticeKind.CONNECTION_CHECK:
        names = ", ".join(row.name for row in rows)
        return Reply(
            t("notice.connection_check_round", endpoints=names, room=info.online_room or "—", **fields)
        )
    lines = [
        t(
            "notice.attendance_line",
            name=row.name,
            attending=row.attending,
            capacity=row.capacity,
            signed_up=row.signed_up,
            waitlisted=row.waitlisted,
        )
        for row in rows
    ]
    total = sum(row.attending for row in rows)
    return Reply(t("notice.attendance", lines="\n".join(lines), total=total, **fields))


async def render_round_deadline(db: AsyncSession, notice: Notification, t: Translator) -> Reply | None:
    """To the admins: the compiled report at the compile deadline (Word; the Excel table in a
    notice of its own), the reminder a day before while petitions are unclassified, the
    materials deadline. None if the round was cancelled or the deadline moved."""
    params = params_of(notice, RoundDeadline)
    info = await compilation.round_info(db, params.session_id, ROUND_TIMING)
    if info.status == EventStatus.CANCELLED:
        return None
    materials = notice.kind == NoticeKind.MATERIALS_DUE
    if params.due != (info.materials_deadline if materials else info.compile_deadline):
        return None
    fields = {
        "id": info.id,
        "title": info.title,
        "when": t.datetime(info.starts_at),
        "deadline": t.datetime(params.due),
    }
    if materials:
        return Reply(t("notice.materials_due", **fields))
    if notice.kind == NoticeKind.COMPILE_UNCLASSIFIED:
        count = await compilation.unclassified(db, info.id)
        return Reply(t("notice.compile_unclassified", count=count, **fields)) if count else None
    # The admin it goes to reads the denouncers' names (as Form 03 at its deadline): the audit
    # log names them, at the send.
    recipient = await db.get(Citizen, notice.citizen_id)
    if recipient is None:
        raise LookupError(f"citizen {notice.citizen_id} is gone")
    document_t = document_translator(t)  # the report in Vietnamese; the notice in the admin's language
    report = await petition_report(
        db,
        info.id,
        timing=ROUND_TIMING,
        endpoint_ids=None,
        reveal_denouncers=True,
        actor=citizens.actor_of(recipient),
        now=notice.claimed_at or notice.due_at,
        t=document_t,
    )
    if notice.kind == NoticeKind.COMPILE_TABLE:
        table = Document(report_filename(report, "xlsx"), report_xlsx(report, document_t), XLSX_TYPE)
        return Reply(t("notice.compile_table", **fields), document=table)
    word = Document(report_filename(report, "docx"), report_docx(report, document_t), DOCX_TYPE)
    text = t("notice.compile_report", petitions=report.petitions, voters=report.voters, **fields)
    return Reply(text, document=word)


async def render_zalo_token_failed(db: AsyncSession, notice: Notification, t: Translator) -> str:
    """To admins: the Zalo OA token pair stopped working; an OA admin must grant access again."""
    params = params_of(notice, TokenFailed)
    return t("notice.zalo_token_failed", reason=params.reason, when=t.datetime(params.failed_at))


async def render_staff_revoked(db: AsyncSession, notice: Notification, t: Translator) -> Reply:
    """To a former staff member: told, and their chat menu set back to a citizen's."""
    return Reply(t("notice.staff_revoked"), staff_menu=True)


PETITION_TEXT_SHOWN = 160  # characters of the voter's own petition recalled in the answer


async def render_petition_answer(db: AsyncSession, notice: Notification, t: Translator) -> str | None:
    """To a voter behind a petition (merged ones included): their petition's code and its text,
    shortened, the agency that answered and the answer."""
    params = params_of(notice, PetitionAnswer)
    answer = await petition_review.answer_for(db, params.petition_id, notice.citizen_id)
    if answer is None:  # their petition is gone (their data deleted): nothing to tell
        return None
    return t(
        "notice.petition_answer",
        codes=", ".join(answer.codes),
        title=answer.title,
        text=textwrap.shorten(answer.summary, PETITION_TEXT_SHOWN, placeholder=" …"),
        agency=answer.agency,
        answer=answer.outcome,
    )


def _same_deadline(event: Event, due: datetime) -> bool:
    """A hearing's report deadline as the notice knew it: a moved one gets a notice of its own.
    (Without a deadline of its own, the default from the settings cannot have moved since the tick.)"""
    return event.report_deadline is None or event.report_deadline == due


async def render_report_due(db: AsyncSession, notice: Notification, t: Translator) -> str | None:
    """To a liaison of an agency that has not filed its report: the hearing, the deadline and the
    days left. None if it was filed meanwhile, or the hearing was cancelled or its deadline moved."""
    params = params_of(notice, ReportDue)
    event = await db.get(Event, params.event_id)
    agency = await db.get(Agency, params.agency_id)
    if event is None or agency is None or event.status not in OPEN_STATUSES:
        return None
    if not _same_deadline(event, params.due) or params.agency_id in await hearing_reports.reports_of(
        db, event.id
    ):
        return None
    return t(
        "notice.report_due",
        agency=agency.name,
        title=event.title,
        when=t.datetime(event.starts_at),
        deadline=t.datetime(params.due),
        days=params.days,
    )


async def render_hearing_reports(db: AsyncSession, notice: Notification, t: Translator) -> str | None:
    """To the admins at a hearing's report deadline: the agencies that filed (when) and those
    that did not. None if the hearing was cancelled or its deadline moved."""
    params = params_of(notice, RoundDeadline)
    event = await db.get(Event, params.session_id)
    if event is None or event.status == EventStatus.CANCELLED or not _same_deadline(event, params.due):
        return None
    statuses = await hearing_reports.agency_statuses(db, event.id)
    filed = [
        t(
            "notice.hearing_reports.filed_line"
            if status.report.replaced_at is None
            else "notice.hearing_reports.replaced_line",
            agency=status.name,
            when=t.datetime(status.report.filed_at),
            replaced=t.datetime(status.report.replaced_at or status.report.filed_at),
            file=status.report.file_name,
        )
        for status in statuses
        if status.report is not None
    ]
    missing = [f"• {status.name}" for status in statuses if status.report is None]
    none = t("notice.hearing_reports.none")
    return t(
        "notice.hearing_reports",
        id=event.id,
        title=event.title,
        when=t.datetime(event.starts_at),
        deadline=t.datetime(params.due),
        filed_count=len(filed),
        filed="\n".join(filed) or none,
        missing_count=len(missing),
        missing="\n".join(missing) or none,
    )


async def render_question_decision(db: AsyncSession, notice: Notification, t: Translator) -> str | None:
    """To a citizen: their question (code, topic, its text shortened) selected into the hearing
    or declined."""
    params = params_of(notice, QuestionDecision)
    news = await hearing_questions.decision_for(db, params.question_id, notice.citizen_id)
    if news is None:  # their question is gone (their data deleted): nothing to tell
        return None
    selected = NoticeKind(notice.kind) == NoticeKind.QUESTION_SELECTED
    return t(
        "notice.question_selected" if selected else "notice.question_declined",
        code=news.code,
        title=news.title,
        topic=news.topic_title or "—",
        when=t.datetime(news.starts_at),
        text=textwrap.shorten(news.summary, PETITION_TEXT_SHOWN, placeholder=" …"),
    )


async def render_hearing_conclusion(db: AsyncSession, notice: Notification, t: Translator) -> str | None:
    """To one whose question was on the hearing's list: the conclusion staff recorded."""
    params = params_of(notice, HearingConclusion)
    news = await hearing_questions.conclusion_for(db, params.event_id, notice.citizen_id)
    if news is None:
        return None
    return t(
        "notice.hearing_conclusion",
        title=news.title,
        when=t.datetime(news.starts_at),
        codes=", ".join(news.codes) or "—",
        conclusion=news.conclusion,
    )


Renderer = Callable[[AsyncSession, Notification, Translator], Awaitable[str | Reply | None]]
RENDERERS: dict[NoticeKind, Renderer] = {
    NoticeKind.WAITLIST_PROMOTED: render_waitlist_promoted,
    NoticeKind.ROUTE_ACCEPT: render_review,
    NoticeKind.ROUTE_RETURN: render_review,
    NoticeKind.ROUTE_FORWARD: render_review,
    NoticeKind.OUTCOME: render_review,
    NoticeKind.REMINDER: render_reminder,
    NoticeKind.SESSION_MOVED: render_session_moved,
    NoticeKind.SESSION_CANCELLED: render_session_cancelled,
    NoticeKind.ROUND_MOVED: render_round_moved,
    NoticeKind.ROUND_CANCELLED: render_round_cancelled,
    NoticeKind.BROADCAST: render_broadcast,
    NoticeKind.BROADCAST_DONE: render_broadcast_done,
    NoticeKind.DEADLINE_EXPORT: render_staff_notice,
    NoticeKind.CONNECTION_CHECK: render_staff_notice,
    NoticeKind.EMPTY_SESSION: render_staff_notice,
    NoticeKind.ZALO_TOKEN_FAILED: render_zalo_token_failed,
    NoticeKind.STAFF_REVOKED: render_staff_revoked,
    NoticeKind.PETITION_ANSWER: render_petition_answer,
    NoticeKind.COMPILE_REPORT: render_round_deadline,
    NoticeKind.COMPILE_TABLE: render_round_deadline,
    NoticeKind.COMPILE_UNCLASSIFIED: render_round_deadline,
    NoticeKind.MATERIALS_DUE: render_round_deadline,
    NoticeKind.ATTENDANCE: render_round_start,
    NoticeKind.REPORT_DUE: render_report_due,
    NoticeKind.HEARING_REPORTS: render_hearing_reports,
    NoticeKind.QUESTION_SELECTED: render_question_decision,
    NoticeKind.QUESTION_DECLINED: render_question_decision,
    NoticeKind.HEARING_CONCLUSION: render_hearing_conclusion,
    NoticeKind.HEARING_MOVED: render_hearing_moved,
    NoticeKind.HEARING_CANCELLED: render_hearing_cancelled,
}


def fit_documents(reply: Reply, capabilities: Capabilities) -> Reply:
    """The file the chat can take: the document, else its fallback, else none (a calendar file
    for Zalo: the text says it all)."""
    if reply.document is None or capabilities.takes(reply.document):
        return replace(reply, document_fallback=None)
    fallback = reply.document_fallback
    usable = fallback if fallback is not None and capabilities.takes(fallback) else None
    return replace(reply, document=usable, document_fallback=None)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 30 s, 1 min, 2 min … at most 30 min."""
    delay: timedelta = min(RETRY_CAP, RETRY_BASE * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)
    return delay


class TemplateSender(Protocol):
    """Reaches a citizen outside a chat window by phone with a pre-approved template (Zalo ZNS)."""

    async def send_template(
        self, phone: str, kind: str, fields: Mapping[str, str], tracking_id: str
    ) -> str | None:
        """The platform's message id; None when no template is set up for this kind of notice.
        Raises TemplateRefused when it can never go (a bad phone number), anything else when
        it may go later."""
        ...


@dataclass(frozen=True)
class TemplateMessage:
    phone: str
    fields: dict[str, str]


async def template_fields(db: AsyncSession, notice: Notification, t: Translator) -> dict[str, str]:
    """What a template may show: the office's name and hotline, the registration code, the
    session's title, time and endpoint, and the old and new time, reason and deadline of a
    change. An approved template names the fields it uses; the others are ignored."""
    office = t.office_fields
    fields = {"office_name": office["office_name"]}
    if office["office_hotline"]:  # an empty field: a template would show a blank
        fields["hotline"] = office["office_hotline"]
    params = notice.params
    if "registration_id" in params:
        registration = await db.get(SignUp, params["registration_id"])
        if registration is not None:
            fields.update(
                code=registration.code or "",
                title=registration.event.title,
                time=t.datetime(registration.event.starts_at),
                endpoint=registration.event_endpoint.endpoint.name,
            )
    if "petition_id" in params:  # the voter's own petition's code, even when merged into another
        answer = await petition_review.answer_for(db, params["petition_id"], notice.citizen_id)
        if answer is not None:
            fields["code"] = answer.codes[0]
    for name in ("old", "new", "deadline"):
        if name in params:
            fields[f"{name}_time"] = t.datetime(datetime.fromisoformat(params[name]))
    if "reason" in params:
        fields["reason"] = params["reason"]
    return {name: value[:TEMPLATE_FIELD_MAX] for name, value in fields.items()}


class Result(NamedTuple):
    """What became of one send: the row's new state, a note for staff, and for a rate limit
    how long until it may go again (other retries back off by the attempts made)."""

    state: str
    note: str
    retry_in: timedelta | None = None


@dataclass(frozen=True)
class Claimed:
    """A notice taken for sending, rendered while its row was locked."""

    notice_id: int
    attempts: int
    due_at: datetime
    channel: str
    user_id: str
    reply: Reply | None  # None: nothing to send (unreachable, withdrawn, or a rendering error)
    outcome: str = ""
    kind: str = ""
    dedupe_key: str = ""
    template: TemplateMessage | None = None  # when the chat cannot carry it: this instead, if it can


OUTSIDE_WINDOW = Result("undeliverable", "outside the chat window")
NOTICE_RESULTS = {"pending": "retry"}  # tiepdan_notices_total{result}: a row's state, a failed try "retry"
TEMPLATE_ONLY = "template only"  # Claimed.outcome: the chat cannot reach them, a template may


class StopRequested(Exception):
    """The sender is stopping: a notice waiting for its turn is released, not sent."""


class ResultBook:
    """The claims a sender holds, and the results of its sends, written as soon as known.

    A result is written at once; results that come while a write is under way go together in
    the next one, so at broadcast speed a transaction carries a few rows, not one each. A
    process killed outright leaves "sending" only what it had claimed and not yet recorded
    (at most the notices mid-send can go twice); a live sender renews those claims (the
    heartbeat), a dead one's lapse within one lease and are taken over.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.sent = 0
        self.held: set[int] = set()  # claimed by this sender, result not yet written
        self._rows: list[dict[str, Any]] = []
        self._released: list[dict[str, Any]] = []
        self._writing = asyncio.Lock()

    def hold(self, claimed: list[Claimed]) -> None:
        self.held.update(item.notice_id for item in claimed)

    async def add(self, item: Claimed, result: Result) -> None:
        now = self.clock.now()
        state = result.state
        due_at = item.due_at
        if state == "pending":  # to try again: after the rate limit, else later each time
            due_at = now + (result.retry_in or retry_delay(item.attempts))
        self._rows.append(
            {
                "id": item.notice_id,
                "state": state,
                "result": result.note[:300],
                "sent_at": now if state == "sent" else None,
                "due_at": due_at,
            }
        )
        self.sent += state == "sent"
        await self._write_soon()

    async def release(self, item: Claimed) -> None:
        """Give a claim back untouched (the sender stops before sending it): due as it was,
        its attempt not counted, for the next sender at once."""
        self._released.append(
            {"id": item.notice_id, "state": "pending", "claimed_at": None, "attempts": item.attempts - 1}
        )
        await self._write_soon()

    async def _write_soon(self) -> None:
        if not self._writing.locked():  # a write under way takes these rows when it is done
            await self.flush()

    async def flush(self) -> None:
        async with self._writing:
            while self._rows or self._released:
                rows, self._rows = self._rows, []
                released, self._released = self._released, []
                try:
                    async with self.sessions() as db, db.begin():
                        for batch in (rows, released):
                            if batch:  # by primary key, one statement each
                                await db.execute(update(Notification), batch)
                except BaseException:
                    self._rows[:0] = rows  # kept for the next try; the caller hears of the failure
                    self._released[:0] = released
                    raise
                self.held.difference_update(row["id"] for row in rows + released)

    async def renew(self) -> None:
        """The heartbeat: this sender is alive, its claims hold for another lease."""
        if not self.held:
            return
        async with self.sessions() as db, db.begin():
            await db.execute(
                update(Notification)
                .where(Notification.id.in_(list(self.held)), Notification.state == "sending")
                .values(claimed_at=self.clock.now())
            )


class Outbox:
    """Claim due notices (short transaction), send them (no transaction held), record results.

    A pipeline: the claimer keeps a small batch claimed ahead in a queue; workers take
    them one by one, each waiting for its slot in the channel's rate limiter just before it
    sends (so late wake-ups never add up to a burst); each result is written as soon as known.

    A claim is a lease of one outbox tick, renewed while the sender lives: a sender killed
    outright (`kill -9`, a power cut) leaves its claims to the next one within a tick, on
    either engine and whichever machine it ran on. A sender told to stop sends nothing more:
    the sends under way finish and are recorded, the claims not yet sent are given back.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
        channels: Mapping[str, Channel],
        fallbacks: Mapping[str, TemplateSender] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.channels = channels
        self.fallbacks = fallbacks or {}
        self.metrics = metrics or Metrics()  # none given: counted where nobody reads it
        self._stopping = False
        self._stop = asyncio.Event()
        self.limiters = {
            name: RateLimiter(
                settings.outbox_rate_per_second,
                settings.outbox_chat_interval_seconds,
                sleep=self._sleep_unless_stopping,
            )
            for name in channels
        }
        self.lease = max(MIN_LEASE, timedelta(seconds=settings.outbox_interval_seconds))
        rate = settings.outbox_rate_per_second
        # A quarter second's worth: a claim holds the loop briefly, and a kill leaves little claimed.
        self.batch_size = max(BATCH, int(rate / 4))
        # Enough sends in flight to keep the rate up while each takes LATENCY_BUDGET_S.
        self.workers = max(MIN_WORKERS, math.ceil(rate * LATENCY_BUDGET_S))

    async def send_due(self) -> int:
        """Queue the notices due by rule, then send one batch of due notices for the channels
        this process serves. Returns how many were sent."""
        return await self._run(max_batches=1)

    def stop_soon(self) -> None:
        """Claim nothing more: the sends under way are recorded, the other claims given back,
        then the run ends."""
        self._stopping = True
        self._stop.set()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        """The rate limiter's wait for a turn, cut short by a stop."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise StopRequested

    async def drain(self) -> int:
        """Send until nothing is due (a broadcast takes many batches). Returns how many.

        Claims of a sender that may have died lapse within a lease: the drain waits for them
        once and takes them over, so a restarted process does not leave them a whole tick."""
        total = 0
        waited = False
        while not self._stopping:
            sent = await self._run(max_batches=None)
            total += sent
            if sent:
                continue
            lapse = await self._next_lapse()
            if waited or lapse is None:
                break
            waited = True
            with contextlib.suppress(StopRequested):
                await self._sleep_unless_stopping(lapse.total_seconds())
        return total

    async def _next_lapse(self) -> timedelta | None:
        """How long until the oldest claim held by another sender lapses; None if none is held."""
        async with self.sessions() as db:
            oldest = await db.scalar(
                select(func.min(Notification.claimed_at))
                .join(Citizen, Citizen.id == Notification.citizen_id)
                .where(Notification.state == "sending", Citizen.channel.in_(list(self.channels)))
            )
        if oldest is None:
            return None
        return max(timedelta(0), oldest + self.lease - self.clock.now()) + LAPSE_MARGIN

    async def _run(self, max_batches: int | None) -> int:
        await self._queue_rule_notices()
        queue: asyncio.Queue[Claimed] = asyncio.Queue(maxsize=self.batch_size)
        book = ResultBook(self.sessions, self.clock)
        workers = [asyncio.create_task(self._work(queue, book)) for _ in range(self.workers)]
        finished = asyncio.Event()
        heartbeat = asyncio.create_task(self._heartbeat(book, finished))
        try:
            batches = 0
            while not self._stopping and (max_batches is None or batches < max_batches):
                claimed = await self._claim()
                if not claimed:
                    break
                book.hold(claimed)
                batches += 1
                for item in claimed:
                    await queue.put(item)
            await queue.join()
        finally:
            # The heartbeat ends by itself: a write cancelled midway can leave a connection unusable.
            finished.set()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, heartbeat, return_exceptions=True)
            await book.flush()
        await self._report_finished_broadcasts()
        return book.sent

    async def _work(self, queue: asyncio.Queue[Claimed], book: ResultBook) -> None:
        while True:
            item = await queue.get()
            try:
                with logs.event(f"notice-{item.notice_id}"):  # its log lines name it
                    try:
                        result = await self._send(item)
                    except StopRequested:
                        await book.release(item)
                    else:
                        self.metrics.notice_done(item.channel, NOTICE_RESULTS.get(result.state, result.state))
                        await book.add(item, result)
            except Exception:  # the book keeps the rows and is flushed again at the end
                log.exception("recording the results of the outbox failed")
            finally:
                queue.task_done()

    async def _heartbeat(self, book: ResultBook, finished: asyncio.Event) -> None:
        """Renew this sender's claims a few times per lease, until the run is `finished`."""
        every = self.lease.total_seconds() / HEARTBEATS_PER_LEASE
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), timeout=every)
                return
            try:
                await book.renew()
            except Exception:  # the next beat tries again; the lease allows a missed one or two
                log.exception("renewing the outbox claims failed")

    async def _queue_rule_notices(self) -> None:
        """Reminders and staff notices are derived from the data at each run, not scheduled."""
        async with self.sessions() as db, db.begin():
            now, settings = self.clock.now(), self.settings
            await reminders.queue_due(
                db, now=now, hours_before=settings.reminder_hours_before, calendar=settings.reminder_calendar
            )
            await staff_notices.queue_due(
                db,
                now=now,
                lead_days=settings.summary_lead_days,
                tz=settings.tz,
                admins=settings.admin_keys,
                timing=settings.timing,
                connection_at=settings.connection_test_at,
            )

    async def _report_finished_broadcasts(self) -> None:
        """Tell whoever started a broadcast that it is done, with its figures."""
        async with self.sessions() as db, db.begin():
            now = self.clock.now()
            for broadcast in await broadcasts.finish_done(db, now=now):
                channel, _, user_id = broadcast.created_by.partition(":")
                creator = await citizens.get_or_create(db, UserKey(channel, user_id), now=now)
                done = BroadcastDone(broadcast.id)
                await queue(db, NoticeKind.BROADCAST_DONE, citizen_id=creator.id, params=done, now=now)

    async def _claim(self) -> list[Claimed]:
        now = self.clock.now()
        async with self.sessions() as db, db.begin():
            # The citizens come in the same query (then from the identity map in _render).
            due = await db.execute(
                select(Notification, Citizen)
                .join(Citizen, Citizen.id == Notification.citizen_id)
                .where(
                    Notification.due_at <= now,
                    Citizen.channel.in_(list(self.channels)),
                    or_(
                        Notification.state == "pending",
                        # a sender that died mid-send (its lease lapsed): try again
                        (Notification.state == "sending") & (Notification.claimed_at <= now - self.lease),
                    ),
                )
                .order_by(Notification.due_at, Notification.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True, of=Notification)
            )
            rows = due.all()
            # A broadcast's thousands of notices share one Broadcast row: held here, it stays
            # in the session's (weak) identity map instead of being read again for each one.
            broadcast_ids = {
                notice.params["broadcast_id"] for notice, _ in rows if "broadcast_id" in notice.params
            }
            held = (await db.scalars(select(Broadcast).where(Broadcast.id.in_(broadcast_ids)))).all()
            claimed = []
            with db.no_autoflush:  # the claim marks are written once, at commit
                for number, (notice, _citizen) in enumerate(rows, start=1):
                    notice.state, notice.claimed_at = "sending", now
                    notice.attempts += 1
                    claimed.append(await self._render(db, notice))
                    if number % RENDER_SLICE == 0:
                        await asyncio.sleep(0)  # let the workers send meanwhile: no stall, no burst
            del held
            return claimed

    async def _render(self, db: AsyncSession, notice: Notification) -> Claimed:
        citizen = await db.get(Citizen, notice.citizen_id)
        assert citizen is not None

        def claimed(
            reply: Reply | None, outcome: str = "", template: TemplateMessage | None = None
        ) -> Claimed:
            return Claimed(
                notice.id,
                notice.attempts,
                notice.due_at,
                citizen.channel,
                citizen.channel_user_id,
                reply,
                outcome,
                notice.kind,
                notice.dedupe_key,
                template,
            )

        by_phone = citizen.channel in self.fallbacks and bool(citizen.phone)  # a template may reach them
        # Blocked or unfollowed: news of their own case may still go by a template by phone.
        by_template_only = citizen.unreachable and by_phone and notice.kind in ABOUT_THEIR_CASE
        if citizen.unreachable and not by_template_only:
            return claimed(None, "unreachable")
        t = self.settings.translator(citizen.locale or self.settings.default_locale)
        try:
            text = await RENDERERS[NoticeKind(notice.kind)](db, notice, t)
        except Exception as error:
            log.exception("notice %s (%s) cannot be rendered", notice.id, notice.kind)
            return claimed(None, f"render: {error}")
        if text is None:
            return claimed(None, "withdrawn")
        template = None
        if by_phone and citizen.phone:
            template = TemplateMessage(citizen.phone, await template_fields(db, notice, t))
        if by_template_only:
            return claimed(None, TEMPLATE_ONLY, template=template)
        reply = Reply(text) if isinstance(text, str) else text
        channel = self.channels.get(citizen.channel)
        if channel is not None:
            reply = fit_documents(reply, channel.capabilities)
        return claimed(reply, template=template)

    async def _send(self, item: Claimed) -> Result:
        """What became of one claimed notice; StopRequested if the sender stops before it goes."""
        if self._stopping and (item.reply is not None or item.outcome == TEMPLATE_ONLY):
            raise StopRequested
        if item.outcome == TEMPLATE_ONLY:
            return await self._send_by_template(item, missed=Result("unreachable", "blocked by the user"))
        if item.reply is None:  # nothing to send: say why in the row
            if item.outcome in ("unreachable", "withdrawn"):
                return Result(item.outcome, f"not sent: {item.outcome}")
            return Result("failed", item.outcome)
        await self.limiters[item.channel].wait(item.user_id)  # StopRequested when told to stop
        try:
            await self.channels[item.channel].send(item.user_id, [item.reply])
        except WindowClosed:  # before RecipientUnreachable, which it is a kind of
            return await self._send_by_template(item)
        except RecipientUnreachable:
            return Result("unreachable", "blocked by the user")
        except RateLimited as limited:  # the whole channel waits; this notice goes again after
            self.limiters[item.channel].pause(limited.retry_after)
            pause = timedelta(seconds=limited.retry_after)
            return Result("pending", f"rate limited: {limited.retry_after} s", pause)
        except Exception as error:
            log.exception("notice %s to %s:%s failed", item.notice_id, item.channel, item.user_id)
            state = "failed" if item.attempts >= MAX_ATTEMPTS else "pending"
            return Result(state, f"{type(error).__name__}: {error}")
        return Result("sent", "ok")

    async def _send_by_template(self, item: Claimed, missed: Result = OUTSIDE_WINDOW) -> Result:
        """When the chat cannot carry it: a template by phone, or `missed` (with why) for staff
        to call."""
        fallback = self.fallbacks.get(item.channel)
        if fallback is None:
            return missed
        if item.template is None:
            return Result(missed.state, f"{missed.note}; no phone number for a template")
        try:
            message_id = await fallback.send_template(
                item.template.phone, item.kind, item.template.fields, item.dedupe_key
            )
        except TemplateRefused as error:
            return Result(missed.state, f"{missed.note}; template refused: {error}")
        except Exception as error:
            log.exception("template for notice %s failed", item.notice_id)
            state = "failed" if item.attempts >= MAX_ATTEMPTS else "pending"
            return Result(state, f"template: {type(error).__name__}: {error}")
        if message_id is None:
            return Result(missed.state, f"{missed.note}; no template for {item.kind}")
        return Result("sent", f"by template: {message_id}")
