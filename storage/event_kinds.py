"""What each kind of event does differently, in one place.

A reception session, a voter-contact conference and an explanation hearing share one
model (`Event`, `EventEndpoint`, `SignUp`, `Submission`); their deadlines, code prefix,
what a sign-up collects, whether submissions are reviewed and which exports apply are the
kind's `KindPolicy`. The day counts come from the settings (`Timing`), the rest is fixed
by the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from storage.models import EventKind, EventStatus, SubmissionKind
from storage.rules import OPEN_STATUSES


@dataclass(frozen=True)
class Timing:
    """The configurable day counts (SUMMARY_LEAD_DAYS, CHANGE_NOTICE_DAYS, …)."""

    summary_lead_days: int = 5  # a reception case arrives at least this long before the start
    change_notice_days: int = 5  # a move or cancellation is announced at least this long ahead
    compile_days_after: int = 5  # voter contact: petitions compiled at most this long after
    materials_days_before: int = 5  # voter contact: materials reach delegates this long before
    signup_close_days: int = 1  # voter contact: attendance is counted the day before
    report_days_before: int = 7  # hearing: the agencies' written reports are due this long before
    questions_days_before: int = 3  # hearing: citizens' questions are taken until this long before


class Dated(Protocol):
    """An event as the deadlines read it (a mapped event or plain data)."""

    @property
    def status(self) -> EventStatus: ...

    @property
    def starts_at(self) -> datetime: ...

    @property
    def compile_deadline(self) -> datetime | None: ...

    @property
    def questions_deadline(self) -> datetime | None: ...


@dataclass(frozen=True)
class EventDates:
    """An event's dates as the policy reads them, for a caller without the event itself (a
    draft, a plan row, a round dated by its last meeting)."""

    starts_at: datetime
    status: EventStatus = EventStatus.SCHEDULED
    compile_deadline: datetime | None = None
    questions_deadline: datetime | None = None


@dataclass(frozen=True)
class KindPolicy:
    kind: EventKind
    code_prefix: str  # a sign-up's code reads PREFIX-YEAR-000123
    # A submission's own code (a petition, handed in with or without a sign-up): another prefix,
    # so that a voter's attendance and their first petition never read alike. "": a submission
    # goes by its sign-up's code (a reception case).
    submission_code_prefix: str
    submission: SubmissionKind  # what is handed in for an event of this kind
    case_with_sign_up: bool  # a sign-up is made together with its one case (reception)
    asks_id_number: bool  # the CCCD is collected (Form 03 needs it)
    reviewed: bool  # staff decide a route on each submission (accept / return / forward)
    written_without_sign_up: bool  # submissions may come from an endpoint not connected
    exports: tuple[str, ...]

    def sign_up_deadline(self, starts_at: datetime, timing: Timing) -> datetime:
        """The last moment to sign up at an endpoint starting at `starts_at`."""
        if self.case_with_sign_up:
            return starts_at - timedelta(days=timing.summary_lead_days)
        return starts_at - timedelta(days=timing.signup_close_days)

    def submission_deadline(self, event: Dated, timing: Timing) -> datetime:
        """The last moment to hand in or change a submission (a citizen's: a case, a petition,
        a question)."""
        if self.case_with_sign_up:
            return event.starts_at - timedelta(days=timing.summary_lead_days)
        if self.submission == SubmissionKind.QUESTION:
            return event.questions_deadline or event.starts_at - timedelta(days=timing.questions_days_before)
        return event.compile_deadline or default_compile_deadline(event.starts_at, timing)

    def open_for_submissions(self, event: Dated, now: datetime, timing: Timing) -> bool:
        return event.status in OPEN_STATUSES and now <= self.submission_deadline(event, timing)


def default_compile_deadline(last_start: datetime, timing: Timing) -> datetime:
    """Voter contact: "at most 5 days after the meeting" (the plan may set another date)."""
    return last_start + timedelta(days=timing.compile_days_after)


def default_report_deadline(starts_at: datetime, timing: Timing) -> datetime:
    """Hearing: the agencies' written reports are due a week before it (the plan may set
    another date)."""
    return starts_at - timedelta(days=timing.report_days_before)


def default_materials_deadline(first_start: datetime, timing: Timing) -> datetime:
    """Voter contact: the materials reach the delegates 5 days before the meeting."""
    return first_start - timedelta(days=timing.materials_days_before)


POLICIES = {
    policy.kind: policy
    for policy in (
        KindPolicy(
            kind=EventKind.RECEPTION,
            code_prefix="TCD",
            submission_code_prefix="",
            submission=SubmissionKind.CASE,
            case_with_sign_up=True,
            asks_id_number=True,
            reviewed=True,
            written_without_sign_up=False,
            exports=("book", "registrations"),
        ),
        KindPolicy(
            kind=EventKind.VOTER_MEETING,
            code_prefix="TXCT",
            submission_code_prefix="KNCT",  # kiến nghị cử tri
            submission=SubmissionKind.PETITION,
            case_with_sign_up=False,
            asks_id_number=False,
            reviewed=False,
            written_without_sign_up=True,
            exports=("petitions",),
        ),
        # An explanation hearing: agencies file reports, delegates register to speak (staff
        # submissions); what citizens hand in is a question on one of its topics, from anywhere.
        KindPolicy(
            kind=EventKind.HEARING,
            code_prefix="PGT",
            submission_code_prefix="CHGT",  # câu hỏi giải trình
            submission=SubmissionKind.QUESTION,
            case_with_sign_up=False,
            asks_id_number=False,
            reviewed=False,
            written_without_sign_up=True,
            exports=("dossier", "questions"),
        ),
    )
}


def policy(kind: EventKind) -> KindPolicy:
    return POLICIES[kind]
