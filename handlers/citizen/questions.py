"""Explanation hearings (phiên giải trình), the citizen's side: the coming hearings and their
topics; a question on a topic, with their name and phone, until the hearing's questions
deadline; their questions (seen, withdrawn until the deadline).

hearings → topic → text → [name, phone] → review → after
        └ mine → question → withdraw
The name and phone are skipped when the profile (or the draft) holds them; the review shows
them and lets the citizen change them. The flow is "questions" (the liaisons' flow is
"hearings"); staff read the questions with /questions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers import inputs
from handlers.citizen import summary
from handlers.staff.common import button_label
from storage import citizens, hearing_questions
from storage.citizens import actor_of
from storage.errors import DeadlinePassed, NotFound, SessionNotOpen
from storage.hearing_questions import Hearing, Question
from storage.models import SubmissionStatus
from storage.rules import OPEN_STATUSES

HEARINGS_SHOWN = 5
IDENTITY = ("name", "phone")
FIELDS = {"name": "full_name", "phone": "phone"}


@dataclass
class QuestionDraft(summary.SummaryDraft):
    event_id: int | None = None
    title: str = ""  # the hearing's, for the review
    deadline: str = ""  # its questions deadline (ISO), for the review
    topic_id: int | None = None
    topic_title: str = ""
    summary: str | None = None
    full_name: str | None = None
    phone: str | None = None
    editing: bool = False  # the review has been reached: steps go back to it
    question_id: int | None = None  # the question looked at (mine)


flow = Flow("questions", first="hearings", draft=QuestionDraft)


def draft_of(ctx: Ctx) -> QuestionDraft:
    return QuestionDraft.of(ctx)


def topics_block(ctx: Ctx, hearing: Hearing) -> str:
    lines = [ctx.t("questions.topic_line", number=n, title=t.title) for n, t in enumerate(hearing.topics, 1)]
    return "\n".join(lines) or "—"


def hearing_block(ctx: Ctx, hearing: Hearing) -> str:
    closed = not hearing.open_for_questions(ctx.now)
    return ctx.t(
        "questions.hearing_closed" if closed else "questions.hearing",
        title=hearing.title,
        host=hearing.host or "—",
        when=ctx.dt(hearing.starts_at),
        deadline=ctx.dt(hearing.questions_deadline),
        topics=topics_block(ctx, hearing),
    )


# --- the coming hearings -----------------------------------------------------------------


@flow.ask("hearings")
async def ask_hearings(ctx: Ctx) -> Reply:
    found = await hearing_questions.coming(ctx.db, ctx.now, ctx.settings.timing, limit=HEARINGS_SHOWN)
    tail = (ctx.option("mine", "questions.mine"), ctx.option("menu", "common.back_to_menu"))
    if not found:
        return Reply(ctx.t("questions.none"), tail)
    text = ctx.t("questions.title") + "\n\n" + "\n\n".join(hearing_block(ctx, each) for each in found)
    options = tuple(
        Option(f"h:{each.id}", button_label(ctx.t("questions.choose_hearing", title=each.title)))
        for each in found
        if each.open_for_questions(ctx.now) and each.topics
    )
    return Reply(text + ("\n\n" + ctx.t("questions.choose") if options else ""), (*options, *tail))


async def open_hearing(ctx: Ctx, event_id: int) -> Hearing | None:
    """The hearing if it takes questions now; else said why (closed naming its deadline)."""
    found = await hearing_questions.hearing(ctx.db, event_id, ctx.settings.timing)
    if found is None or found.status not in OPEN_STATUSES:
        ctx.say("questions.hearing_off")
        return None
    if not found.open_for_questions(ctx.now):
        ctx.say("questions.closed", deadline=ctx.dt(found.questions_deadline))
        return None
    return found


@flow.handle("hearings")
async def on_hearings(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "menu":
        return END
    if answer.choice == "mine":
        return "mine"
    if not answer.choice or not answer.choice.startswith("h:") or not answer.choice[2:].isdecimal():
        raise Invalid("common.choose_option")
    found = await open_hearing(ctx, int(answer.choice[2:]))
    if found is None:
        return "hearings"
    draft = draft_of(ctx)
    if draft.event_id != found.id:
        draft.topic_id, draft.topic_title = None, ""
    draft.event_id, draft.title = found.id, found.title
    draft.deadline = found.questions_deadline.isoformat()
    return "topic"


# --- the topic and the question ----------------------------------------------------------


@flow.ask("topic")
async def ask_topic(ctx: Ctx) -> Reply | Next:
    draft = draft_of(ctx)
    found = (
        await hearing_questions.hearing(ctx.db, draft.event_id, ctx.settings.timing)
        if draft.event_id
        else None
    )
    if found is None:
        return "hearings"
    options = tuple(Option(f"t:{topic.id}", button_label(topic.title)) for topic in found.topics)
    text = ctx.t("questions.topic.ask", title=found.title, deadline=ctx.dt(found.questions_deadline))
    return Reply(text, (*options, ctx.option("back", "questions.other_hearing")))


@flow.handle("topic")
async def on_topic(ctx: Ctx, answer: Answer) -> Next:
    draft = draft_of(ctx)
    if answer.choice == "back":
        return "hearings"
    if not answer.choice or not answer.choice.startswith("t:") or not answer.choice[2:].isdecimal():
        raise Invalid("common.choose_option")
    found = (
        await hearing_questions.hearing(ctx.db, draft.event_id, ctx.settings.timing)
        if draft.event_id
        else None
    )
    topic = found.topic(int(answer.choice[2:])) if found else None
    if topic is None:
        raise Invalid("common.choose_option")
    draft.topic_id, draft.topic_title = topic.id, topic.title
    return "review" if draft.editing else "text"


@flow.ask("text")
async def ask_text(ctx: Ctx) -> Reply:
    s = ctx.settings
    question = ctx.t(
        "questions.text.ask",
        topic=draft_of(ctx).topic_title,
        min=ctx.t.number(s.summary_min_chars),
        max=ctx.t.number(s.summary_max_chars),
    )
    return summary.ask(ctx, question, draft_of(ctx).summary)


@flow.handle("text", text=True)
async def on_text(ctx: Ctx, answer: Answer) -> Next:
    draft = draft_of(ctx)
    done = summary.collect(ctx, answer, draft.summary)
    if done is None:
        return "text"  # more parts may follow
    draft.summary = done
    return next_identity(ctx)


# --- name and phone (skipped when known; the review shows them) --------------------------


def known_value(ctx: Ctx, step: str) -> str | None:
    value = getattr(draft_of(ctx), FIELDS[step]) or getattr(ctx.citizen, FIELDS[step])
    return str(value) if value else None


def next_identity(ctx: Ctx) -> str:
    """The first of name and phone still unanswered (a known one taken), else the review."""
    draft = draft_of(ctx)
    for step in IDENTITY:
        known = known_value(ctx, step)
        if not known:
            return step
        setattr(draft, FIELDS[step], known)
    return "review"


def shown(ctx: Ctx, step: str, value: str) -> str:
    """A value as the citizen reads it; a denouncer's saved one is not echoed (Luật Tố cáo, Art. 9)."""
    if ctx.citizen.denouncer and value == getattr(ctx.citizen, FIELDS[step]):
        return ctx.t("register.saved_hidden")
    return inputs.show_phone(value) if step == "phone" else value


def identity_step(step: str) -> None:
    @flow.ask(step)
    async def ask(ctx: Ctx) -> Reply:
        options: list[Option] = []
        known = known_value(ctx, step)
        if known and ctx.citizen.denouncer and known == getattr(ctx.citizen, FIELDS[step]):
            options.append(ctx.option("keep", "register.keep_saved"))
        elif known:
            options.append(ctx.option("keep", "register.keep", value=shown(ctx, step, known)))
        phone_button = step == "phone" and ctx.capabilities.phone_request
        return Reply(
            ctx.t(f"questions.{step}.ask"),
            tuple(options),
            ask_phone=ctx.t("register.phone.share") if phone_button else "",
        )

    @flow.handle(step, text=True)
    async def handle(ctx: Ctx, answer: Answer) -> Next:
        known = known_value(ctx, step)
        if answer.choice == "keep" and known:
            value = known
        elif step == "phone":
            value = inputs.parse_phone(answer.phone or answer.text)
            ctx.say("register.phone.saved", phone=inputs.show_phone(value))
        else:
            value = inputs.parse_name(answer.text)
        setattr(draft_of(ctx), FIELDS[step], value)
        return next_identity(ctx)


identity_step("name")
identity_step("phone")


# --- review and send ---------------------------------------------------------------------


def deadline_shown(ctx: Ctx) -> str:
    deadline = draft_of(ctx).deadline
    return ctx.dt(datetime.fromisoformat(deadline)) if deadline else "—"


@flow.ask("review")
async def ask_review(ctx: Ctx) -> Reply | Next:
    draft = draft_of(ctx)
    if draft.event_id is None:
        return "hearings"
    if draft.topic_id is None:
        return "topic"
    if not draft.summary:
        return "text"
    missing = next_identity(ctx)
    if missing != "review":
        return missing
    draft.editing = True
    assert draft.full_name and draft.phone
    text = ctx.t(
        "questions.review",
        title=draft.title,
        topic=draft.topic_title,
        text=draft.summary,
        name=shown(ctx, "name", draft.full_name),
        phone=shown(ctx, "phone", draft.phone),
        deadline=deadline_shown(ctx),
    )
    return Reply(
        text,
        (
            ctx.option("confirm", "questions.confirm"),
            ctx.option("topic", "questions.edit.topic"),
            ctx.option("text", "questions.edit.text"),
            ctx.option("name", "questions.edit.name"),
            ctx.option("phone", "questions.edit.phone"),
            ctx.option("cancel", "questions.discard"),
        ),
    )


@flow.handle("review", jumps=True)
async def on_review(ctx: Ctx, answer: Answer) -> Next:
    draft = draft_of(ctx)
    if answer.choice in ("name", "phone"):
        setattr(draft, FIELDS[answer.choice], None)  # asked again, the saved value offered
        return answer.choice
    if answer.choice in ("topic", "text"):
        return answer.choice
    if answer.choice == "cancel":
        ctx.say("common.cancelled")
        return Goto("menu", data={})
    if answer.choice != "confirm":
        raise Invalid("common.choose_option")
    return await send(ctx)


async def remember(ctx: Ctx) -> None:
    """Keep the name and phone for the next time (the citizen consented to their use)."""
    draft, citizen = draft_of(ctx), ctx.citizen
    if (draft.full_name, draft.phone) == (citizen.full_name, citizen.phone):
        return
    ctx.citizen = await citizens.remember_identity(
        ctx.db,
        citizen,
        full_name=draft.full_name,
        phone=draft.phone,
        id_number=citizen.id_number,
        address=citizen.address,
    )


async def send(ctx: Ctx) -> Next:
    draft = draft_of(ctx)
    if draft.event_id is None or draft.topic_id is None or not draft.summary:
        return "review"
    if not draft.full_name or not draft.phone:
        return next_identity(ctx)
    new = hearing_questions.NewQuestion(
        event_id=draft.event_id,
        topic_id=draft.topic_id,
        full_name=draft.full_name,
        phone=draft.phone,
        summary=draft.summary,
    )
    try:
        _, code = await hearing_questions.add(
            ctx.db,
            ctx.citizen.id,
            actor_of(ctx.citizen),
            new,
            now=ctx.now,
            timing=ctx.settings.timing,
            tz=ctx.settings.tz,
        )
    except DeadlinePassed as closed:  # the text is kept: another hearing may take it
        ctx.say("questions.closed", deadline=ctx.dt(closed.deadline))
        return "hearings"
    except (SessionNotOpen, NotFound):
        ctx.say("questions.hearing_off")
        return "hearings"
    await remember(ctx)
    ctx.say("questions.done", code=code, deadline=deadline_shown(ctx))
    draft.summary, draft.editing, draft.topic_id, draft.topic_title = None, False, None, ""
    return "after"


@flow.ask("after")
async def ask_after(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("questions.after"),
        (
            ctx.option("more", "questions.more"),
            ctx.option("mine", "questions.mine"),
            ctx.option("menu", "common.back_to_menu"),
        ),
    )


@flow.handle("after")
async def on_after(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "more":
        return "topic"
    if answer.choice == "mine":
        return "mine"
    if answer.choice == "menu":
        return Goto("menu", data={})
    raise Invalid("common.choose_option")


# --- my questions ------------------------------------------------------------------------


def status_of(ctx: Ctx, question: Question) -> str:
    if question.status == SubmissionStatus.WITHDRAWN:
        return ctx.t("questions.status.withdrawn")
    if question.route in ("selected", "declined"):
        return ctx.t(f"questions.status.{question.route}")
    return ctx.t("questions.status.waiting")


@flow.ask("mine")
async def ask_mine(ctx: Ctx) -> Reply:
    own = await hearing_questions.own(ctx.db, ctx.citizen.id, ctx.settings.timing)
    tail = (ctx.option("hearings", "questions.to_hearings"), ctx.option("menu", "common.back_to_menu"))
    if not own:
        return Reply(ctx.t("questions.mine.none"), tail)
    lines = [
        ctx.t(
            "questions.mine.line",
            code=q.code,
            title=q.title,
            topic=q.topic_title or "—",
            status=status_of(ctx, q),
            text=q.summary,
        )
        for q in own
    ]
    options = tuple(
        Option(f"q:{q.id}", ctx.t("questions.mine.withdraw_option", code=q.code))
        for q in own
        if q.withdrawable(ctx.now)
    )
    return Reply(ctx.t("questions.mine.title") + "\n\n" + "\n\n".join(lines), (*options, *tail))


@flow.handle("mine")
async def on_mine(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "menu":
        return END
    if answer.choice == "hearings":
        return "hearings"
    if not answer.choice or not answer.choice.startswith("q:") or not answer.choice[2:].isdecimal():
        raise Invalid("common.choose_option")
    draft_of(ctx).question_id = int(answer.choice[2:])
    return "withdraw"


@flow.ask("withdraw")
async def ask_withdraw(ctx: Ctx) -> Reply | Next:
    question_id = draft_of(ctx).question_id
    try:
        question = await hearing_questions.own_one(
            ctx.db, ctx.citizen.id, question_id or 0, ctx.settings.timing
        )
    except NotFound:
        return "mine"
    return Reply(
        ctx.t("questions.withdraw.ask", code=question.code, text=question.summary),
        (ctx.option("yes", "questions.withdraw.yes"), ctx.option("no", "questions.withdraw.no")),
    )


@flow.handle("withdraw")
async def on_withdraw(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        return "mine"
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    try:
        question = await hearing_questions.withdraw(
            ctx.db,
            ctx.citizen.id,
            actor_of(ctx.citizen),
            draft_of(ctx).question_id or 0,
            now=ctx.now,
            timing=ctx.settings.timing,
        )
    except DeadlinePassed as closed:
        ctx.say("questions.withdraw.closed", deadline=ctx.dt(closed.deadline))
        return "mine"
    except (NotFound, SessionNotOpen):
        ctx.say("questions.withdraw.gone")
        return "mine"
    ctx.say("questions.withdraw.done", code=question.code)
    return "mine"
