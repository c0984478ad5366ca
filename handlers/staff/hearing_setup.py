"""/newevent, an explanation hearing (phiên giải trình): after the title, the presiding body,
the date and time, the endpoints and the online link (handlers.staff.sessions), its topics,
the agencies that must explain (each on some topics), the report deadline and the questions
deadline (defaults from storage.event_kinds), a review, and save (storage.hearings)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot.dialog.flow import Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Reply
from storage import audit, hearings
from storage.endpoints import EndpointInfo
from storage.event_kinds import EventDates, default_report_deadline, policy
from storage.models import EventKind

MAX_TOPICS = 20
MAX_AGENCIES = 40
# "Sở Tài nguyên và Môi trường: 1, 2" (or "— 1, 2", "(1, 2)"); a name alone: every topic.
AGENCY_LINE = re.compile(r"^(?P<name>.+?)\s*(?:[:：\-–—]\s*|\(\s*)(?P<topics>[\d\s,;.và]+)\)?\s*$")


class HearingDraft(Protocol):
    """The part of /newevent's draft a hearing fills."""

    title: str
    host: str
    starts_at: str
    capacity: int
    room: str
    topics: list[str]
    agencies: list[list[Any]]
    report_deadline: str
    questions_deadline: str


DraftOf = Callable[[Ctx], HearingDraft]
ParseDeadline = Callable[[Ctx, str], datetime]


class Steps:
    """What the steps need from /newevent (set by `register`, which it calls)."""

    draft_of: DraftOf
    parse_deadline: ParseDeadline


STEPS = Steps()


def register(flow: Flow, draft_of: DraftOf, parse_deadline: ParseDeadline) -> None:
    STEPS.draft_of, STEPS.parse_deadline = draft_of, parse_deadline
    flow.ask("topics")(ask_topics)
    flow.handle("topics", text=True)(on_topics)
    flow.ask("agencies")(ask_agencies)
    flow.handle("agencies", text=True)(on_agencies)
    flow.ask("report")(ask_report)
    flow.handle("report", text=True)(on_report)
    flow.ask("questions")(ask_questions)
    flow.handle("questions", text=True)(on_questions)


def numbered(topics: Sequence[str]) -> str:
    return "\n".join(f"{n}. {title}" for n, title in enumerate(topics, start=1))


def topic_numbers(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers)


# --- the topics ----------------------------------------------------------------------


async def ask_topics(ctx: Ctx) -> Reply:
    draft = STEPS.draft_of(ctx)
    if not draft.topics:
        return Reply(ctx.t("hsetup.new.topics"))
    text = ctx.t("hsetup.new.topics_more", topics=numbered(draft.topics))
    return Reply(
        text, (ctx.option("done", "hsetup.new.done"), ctx.option("clear", "hsetup.new.topics_clear"))
    )


async def on_topics(ctx: Ctx, answer: Answer) -> Next:
    """A topic a message, or several on lines of one ("1. …" numbering dropped)."""
    draft = STEPS.draft_of(ctx)
    if answer.choice == "done" and draft.topics:
        return "agencies"
    if answer.choice == "clear":
        draft.topics = []
        return "topics"
    new = [re.sub(r"^\s*(\d+[.)]|[-•*+])\s*", "", line).strip() for line in answer.text.splitlines()]
    new = [" ".join(line.split()) for line in new if line.strip()]
    if not new or any(not 3 <= len(line) <= hearings.TOPIC_LONGEST for line in new):
        raise Invalid("hsetup.new.topic_invalid")
    if len(draft.topics) + len(new) > MAX_TOPICS:
        raise Invalid("hsetup.new.topics_too_many", max=MAX_TOPICS)
    draft.topics = [*draft.topics, *new]
    return "topics"


# --- the agencies --------------------------------------------------------------------


def parse_agency(line: str, topics: int) -> tuple[str, list[int]]:
    """ "Sở Xây dựng: 1, 3" -> ("Sở Xây dựng", [1, 3]); "Sở Xây dựng" -> every topic."""
    match = AGENCY_LINE.match(line)
    if match is None:
        name, numbers = line, list(range(1, topics + 1))
    else:
        name = match["name"]
        numbers = sorted({int(n) for n in re.findall(r"\d+", match["topics"])})
    name = hearings.tidy_name(name).strip(" :-")
    if not 3 <= len(name) <= hearings.AGENCY_NAME_LONGEST:
        raise Invalid("hsetup.new.agency_invalid")
    unknown = [n for n in numbers if not 1 <= n <= topics]
    if unknown or not numbers:
        raise Invalid("hsetup.new.agency_topics_unknown", name=name, count=topics)
    return name, numbers


async def ask_agencies(ctx: Ctx) -> Reply:
    draft = STEPS.draft_of(ctx)
    topics = numbered(draft.topics)
    if not draft.agencies:
        return Reply(ctx.t("hsetup.new.agencies", topics=topics))
    lines = "\n".join(
        ctx.t("hsetup.new.agency_line", name=name, topics=topic_numbers(numbers))
        for name, numbers in draft.agencies
    )
    text = ctx.t("hsetup.new.agencies_more", topics=topics, agencies=lines)
    return Reply(
        text, (ctx.option("done", "hsetup.new.done"), ctx.option("clear", "hsetup.new.agencies_clear"))
    )


async def on_agencies(ctx: Ctx, answer: Answer) -> Next:
    """An agency a line: its name, then the numbers of its topics (every topic without them);
    an agency named again gets the topics added."""
    draft = STEPS.draft_of(ctx)
    if answer.choice == "done" and draft.agencies:
        return "report"
    if answer.choice == "clear":
        draft.agencies = []
        return "agencies"
    lines = [line.strip() for line in answer.text.splitlines() if line.strip()]
    if not lines:
        raise Invalid("hsetup.new.agency_invalid")
    parsed = [parse_agency(line, len(draft.topics)) for line in lines]
    known = await hearings.list_agencies(ctx.db, active_only=False)
    spelled = {agency.name.casefold(): agency.name for agency in known}
    merged = {name.casefold(): [name, list(numbers)] for name, numbers in draft.agencies}
    for name, numbers in parsed:
        entry = merged.setdefault(name.casefold(), [spelled.get(name.casefold(), name), []])
        entry[1] = sorted({*entry[1], *numbers})
    if len(merged) > MAX_AGENCIES:
        raise Invalid("hsetup.new.agencies_too_many", max=MAX_AGENCIES)
    draft.agencies = list(merged.values())
    return "agencies"


# --- the deadlines -------------------------------------------------------------------


def starts_of(draft: HearingDraft) -> datetime:
    return datetime.fromisoformat(draft.starts_at)


def default_report(ctx: Ctx, draft: HearingDraft) -> datetime:
    return default_report_deadline(starts_of(draft), ctx.settings.timing)


def default_questions(ctx: Ctx, draft: HearingDraft) -> datetime:
    return policy(EventKind.HEARING).submission_deadline(EventDates(starts_of(draft)), ctx.settings.timing)


def before_start(ctx: Ctx, draft: HearingDraft, answer: Answer, default: datetime) -> datetime:
    """The default (its button), or a date typed: before the hearing starts."""
    if answer.choice == "default":
        return default
    deadline = STEPS.parse_deadline(ctx, answer.text)
    if deadline >= starts_of(draft):
        raise Invalid("hsetup.new.deadline_after_start", start=ctx.dt(starts_of(draft)))
    return deadline


async def ask_report(ctx: Ctx) -> Reply:
    draft = STEPS.draft_of(ctx)
    default = default_report(ctx, draft)
    days = ctx.settings.timing.report_days_before
    return Reply(
        ctx.t("hsetup.new.report", days=days, default=ctx.dt(default)),
        (ctx.option("default", "events.new.deadline_default", when=ctx.dt(default)),),
    )


async def on_report(ctx: Ctx, answer: Answer) -> Next:
    draft = STEPS.draft_of(ctx)
    draft.report_deadline = before_start(ctx, draft, answer, default_report(ctx, draft)).isoformat()
    return "questions"


async def ask_questions(ctx: Ctx) -> Reply:
    draft = STEPS.draft_of(ctx)
    default = default_questions(ctx, draft)
    days = ctx.settings.timing.questions_days_before
    return Reply(
        ctx.t("hsetup.new.questions", days=days, default=ctx.dt(default)),
        (ctx.option("default", "events.new.deadline_default", when=ctx.dt(default)),),
    )


async def on_questions(ctx: Ctx, answer: Answer) -> Next:
    draft = STEPS.draft_of(ctx)
    draft.questions_deadline = before_start(ctx, draft, answer, default_questions(ctx, draft)).isoformat()
    return "review"


# --- review and save -----------------------------------------------------------------


async def ask_review(ctx: Ctx, draft: HearingDraft, endpoints: list[EndpointInfo]) -> Reply:
    report = datetime.fromisoformat(draft.report_deadline)
    questions = datetime.fromisoformat(draft.questions_deadline)
    agencies = "\n".join(
        ctx.t("hsetup.new.agency_line", name=name, topics=topic_numbers(numbers))
        for name, numbers in draft.agencies
    )
    text = ctx.t(
        "hsetup.new.review",
        title=draft.title,
        host=draft.host,
        when=ctx.dt(starts_of(draft)),
        endpoints=", ".join(endpoint.name for endpoint in endpoints),
        count=len(endpoints),
        room=draft.room or "—",
        topics=numbered(draft.topics),
        agencies=agencies,
        report=ctx.dt(report),
        questions=ctx.dt(questions),
    )
    warnings = [
        ctx.t(message, when=ctx.dt(deadline))
        for message, deadline in (
            ("hsetup.new.report_passed", report),
            ("hsetup.new.questions_passed", questions),
        )
        if deadline < ctx.now
    ]
    return Reply(
        "\n\n".join([*warnings, text]),
        (ctx.option("save", "hsetup.new.save"), ctx.option("cancel", "staff.new.discard")),
    )


async def save(ctx: Ctx, draft: HearingDraft, endpoint_ids: list[int]) -> Next:
    starts_at = starts_of(draft)
    if starts_at <= ctx.now:
        raise Invalid("staff.new.date_past")
    if not endpoint_ids:  # deactivated since they were chosen
        ctx.say("staff.new.no_endpoints")
        return "endpoints"
    made = await hearings.create_hearing(
        ctx.db,
        title=draft.title,
        host=draft.host,
        starts_at=starts_at,
        endpoint_ids=endpoint_ids,
        capacity=draft.capacity or ctx.settings.default_capacity,
        online_room=draft.room,
        topics=draft.topics,
        agencies=[hearings.AgencyTopics(name, tuple(numbers)) for name, numbers in draft.agencies],
        report_deadline=datetime.fromisoformat(draft.report_deadline),
        questions_deadline=datetime.fromisoformat(draft.questions_deadline),
        timing=ctx.settings.timing,
        now=ctx.now,
    )
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="session.create",
        target_type="session",
        target_id=made.id,
        kind=EventKind.HEARING.value,
        agencies=[agency.agency_id for agency in made.agencies],
    )
    ctx.say("hsetup.new.saved", id=made.id, topics=len(made.topics), agencies=len(made.agencies))
    return Goto("staff_home", data={})
