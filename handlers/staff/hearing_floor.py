"""Explanation hearings, from the staff side of the chat:

- /speak (delegates, whatever their role): register to speak at a coming hearing with a
  question to one of its agencies on one of that agency's topics; list and withdraw them.
- /speakers ID (admins): the speakers in order; move one up, down or to a given place.
- /questions ID (admins and officers): the citizens' questions by topic; select one into the
  hearing or decline it (the citizen is told); the list as a Word file.
- /conclude ID (admins), after the hearing: the conclusion (kết luận), sent to everyone
  whose question was selected.

A citizen's phone is never shown to a delegate (one who is also an officer reads the
questions without it).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import DOCX_TYPE, Document, Option, Reply
from bot.exports import document_translator
from bot.question_exports import questions_docx, questions_filename
from handlers import inputs
from handlers.staff.common import ADMIN, STAFF, button_label, deliverable, usage
from storage import audit, hearing_questions, speakers
from storage.errors import AlreadyDecided, DeadlinePassed, NotFound, SessionNotOpen
from storage.hearing_questions import DECLINED, SELECTED, Hearing, Question

CONCLUSION_MIN_CHARS = 10


def home(ctx: Ctx) -> Goto:
    """Back to the staff commands; a delegate who is no officer, to the main menu."""
    return Goto("staff_home" if ctx.actor.role in STAFF else "menu", data={})


async def hearing_from_args(ctx: Ctx, command: str) -> Hearing:
    """The hearing named by `/command ID`, or the command's usage."""
    if not ctx.args.isdecimal():
        raise usage(command)
    event_id = inputs.whole_number(ctx.args, inputs.MAX_ROW_ID)
    found = (
        None if event_id is None else await hearing_questions.hearing(ctx.db, event_id, ctx.settings.timing)
    )
    if found is None:
        raise Invalid("floor.not_found", id=ctx.args)
    return found


def choice_id(answer: Answer, prefix: str) -> int | None:
    choice = answer.choice or ""
    if choice.startswith(prefix) and choice[len(prefix) :].isdecimal():
        return int(choice[len(prefix) :])
    return None


# --- /speak --------------------------------------------------------------------------------


@dataclass
class SpeakDraft(Draft):
    event_id: int | None = None
    agency_id: int | None = None
    topic_id: int | None = None
    speaker: str = ""
    summary: str = ""
    speech_id: int | None = None


speak = Flow(
    "speak", first="hearings", command="speak", delegates=True, needs_consent=False, draft=SpeakDraft
)


@speak.ask("hearings")
async def ask_speak_hearings(ctx: Ctx) -> Reply:
    found = [
        h
        for h in await hearing_questions.coming(ctx.db, ctx.now, ctx.settings.timing)
        if h.starts_at > ctx.now
    ]
    tail = (ctx.option("mine", "floor.speak.mine"), ctx.option("done", "floor.done"))
    if not found:
        return Reply(ctx.t("floor.speak.none"), tail)
    lines = [ctx.t("floor.hearing_line", id=h.id, title=h.title, when=ctx.dt(h.starts_at)) for h in found]
    options = tuple(Option(f"h:{h.id}", button_label(h.title)) for h in found)
    return Reply(ctx.t("floor.speak.choose_hearing") + "\n\n" + "\n".join(lines), (*options, *tail))


@speak.handle("hearings")
async def on_speak_hearings(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "done":
        return home(ctx)
    if answer.choice == "mine":
        return "mine"
    event_id = choice_id(answer, "h:")
    if event_id is None:
        raise Invalid("common.choose_option")
    draft = SpeakDraft.of(ctx)
    draft.event_id, draft.agency_id, draft.topic_id = event_id, None, None
    return "agency"


@speak.ask("agency")
async def ask_speak_agency(ctx: Ctx) -> Reply | Next:
    draft = SpeakDraft.of(ctx)
    agencies = await hearing_questions.agencies_of(ctx.db, draft.event_id or 0)
    if not agencies:
        ctx.say("floor.speak.no_agencies")
        return "hearings"
    options = tuple(Option(f"a:{agency_id}", button_label(name)) for agency_id, name, _ in agencies)
    return Reply(ctx.t("floor.speak.choose_agency"), (*options, ctx.option("back", "floor.back")))


@speak.handle("agency")
async def on_speak_agency(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "back":
        return "hearings"
    draft = SpeakDraft.of(ctx)
    agency_id = choice_id(answer, "a:")
    agencies = {
        a: topics for a, _, topics in await hearing_questions.agencies_of(ctx.db, draft.event_id or 0)
    }
    if agency_id is None or agency_id not in agencies:
        raise Invalid("common.choose_option")
    draft.agency_id, draft.topic_id = agency_id, None
    return "topic"


@speak.ask("topic")
async def ask_speak_topic(ctx: Ctx) -> Reply | Next:
    draft = SpeakDraft.of(ctx)
    found = await hearing_questions.hearing(ctx.db, draft.event_id or 0, ctx.settings.timing)
    agencies = {
        a: topics for a, _, topics in await hearing_questions.agencies_of(ctx.db, draft.event_id or 0)
    }
    if found is None or draft.agency_id not in agencies:
        return "hearings"
    topics = [t for t in found.topics if t.id in agencies[draft.agency_id]]
    options = tuple(Option(f"t:{t.id}", button_label(t.title)) for t in topics)
    return Reply(ctx.t("floor.speak.choose_topic"), (*options, ctx.option("back", "floor.back")))


@speak.handle("topic")
async def on_speak_topic(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "back":
        return "agency"
    draft = SpeakDraft.of(ctx)
    topic_id = choice_id(answer, "t:")
    agencies = {
        a: topics for a, _, topics in await hearing_questions.agencies_of(ctx.db, draft.event_id or 0)
    }
    if topic_id is None or topic_id not in agencies.get(draft.agency_id or 0, ()):
        raise Invalid("common.choose_option")
    draft.topic_id = topic_id
    return "name"


@speak.ask("name")
async def ask_speak_name(ctx: Ctx) -> Reply:
    known = SpeakDraft.of(ctx).speaker or ctx.citizen.full_name
    options = (ctx.option("keep", "register.keep", value=known),) if known else ()
    return Reply(ctx.t("floor.speak.name"), options)


@speak.handle("name", text=True)
async def on_speak_name(ctx: Ctx, answer: Answer) -> Next:
    draft = SpeakDraft.of(ctx)
    known = draft.speaker or ctx.citizen.full_name
    draft.speaker = known if answer.choice == "keep" and known else inputs.parse_name(answer.text)
    return "text"


@speak.ask("text")
async def ask_speak_text(ctx: Ctx) -> Reply:
    s = ctx.settings
    return Reply(
        ctx.t(
            "floor.speak.text",
            min=ctx.t.number(s.summary_min_chars),
            max=ctx.t.number(s.summary_max_chars),
        )
    )


@speak.handle("text", text=True)
async def on_speak_text(ctx: Ctx, answer: Answer) -> Next:
    s = ctx.settings
    SpeakDraft.of(ctx).summary = inputs.parse_summary(answer.text, s.summary_min_chars, s.summary_max_chars)
    return "confirm"


@speak.ask("confirm")
async def ask_speak_confirm(ctx: Ctx) -> Reply | Next:
    draft = SpeakDraft.of(ctx)
    found = await hearing_questions.hearing(ctx.db, draft.event_id or 0, ctx.settings.timing)
    agencies = {a: name for a, name, _ in await hearing_questions.agencies_of(ctx.db, draft.event_id or 0)}
    topic = found.topic(draft.topic_id or 0) if found else None
    if found is None or topic is None or draft.agency_id not in agencies or not draft.summary:
        return "hearings"
    text = ctx.t(
        "floor.speak.review",
        title=found.title,
        when=ctx.dt(found.starts_at),
        agency=agencies[draft.agency_id],
        topic=topic.title,
        name=draft.speaker,
        text=draft.summary,
    )
    return Reply(
        text, (ctx.option("confirm", "floor.speak.confirm"), ctx.option("cancel", "floor.speak.discard"))
    )


@speak.handle("confirm")
async def on_speak_confirm(ctx: Ctx, answer: Answer) -> Next:
    draft = SpeakDraft.of(ctx)
    if answer.choice == "cancel":
        ctx.say("common.cancelled")
        return home(ctx)
    if answer.choice != "confirm":
        raise Invalid("common.choose_option")
    if ctx.actor.staff_id is None or None in (draft.event_id, draft.agency_id, draft.topic_id):
        return "hearings"
    try:
        speech = await speakers.register(
            ctx.db,
            staff_id=ctx.actor.staff_id,
            actor=str(ctx.actor),
            event_id=draft.event_id or 0,
            agency_id=draft.agency_id or 0,
            topic_id=draft.topic_id or 0,
            speaker=draft.speaker,
            summary=draft.summary,
            now=ctx.now,
        )
    except (SessionNotOpen, DeadlinePassed, NotFound):
        ctx.say("floor.speak.closed")
        return "hearings"
    ctx.say("floor.speak.done", place=speech.position or 0, title=speech.title)
    draft.summary = ""
    return "mine"


@speak.ask("mine")
async def ask_speak_mine(ctx: Ctx) -> Reply:
    own = await speakers.own(ctx.db, ctx.actor.staff_id or 0)
    tail = (ctx.option("new", "floor.speak.new"), ctx.option("done", "floor.done"))
    if not own:
        return Reply(ctx.t("floor.speak.mine_none"), tail)
    lines = [
        ctx.t(
            "floor.speak.mine_line",
            title=s.title,
            agency=s.agency,
            topic=s.topic,
            text=s.summary,
            status=ctx.t("floor.speak.withdrawn")
            if s.position is None
            else ctx.t("floor.speak.place", place=s.position),
        )
        for s in own
    ]
    options = tuple(
        Option(f"w:{s.id}", button_label(ctx.t("floor.speak.withdraw_option", agency=s.agency)))
        for s in own
        if s.position is not None and s.starts_at > ctx.now
    )
    return Reply(ctx.t("floor.speak.mine_title") + "\n\n" + "\n\n".join(lines), (*options, *tail))


@speak.handle("mine")
async def on_speak_mine(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "done":
        return home(ctx)
    if answer.choice == "new":
        return "hearings"
    speech_id = choice_id(answer, "w:")
    if speech_id is None:
        raise Invalid("common.choose_option")
    SpeakDraft.of(ctx).speech_id = speech_id
    return "withdraw"


@speak.ask("withdraw")
async def ask_speak_withdraw(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("floor.speak.withdraw_ask"),
        (ctx.option("yes", "floor.speak.withdraw_yes"), ctx.option("no", "floor.speak.withdraw_no")),
    )


@speak.handle("withdraw")
async def on_speak_withdraw(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        return "mine"
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    try:
        await speakers.withdraw(
            ctx.db,
            ctx.actor.staff_id or 0,
            SpeakDraft.of(ctx).speech_id or 0,
            actor=str(ctx.actor),
            now=ctx.now,
        )
    except (NotFound, DeadlinePassed):
        ctx.say("floor.speak.withdraw_gone")
        return "mine"
    ctx.say("floor.speak.withdraw_done")
    return "mine"


# --- /speakers ID --------------------------------------------------------------------------


@dataclass
class SpeakersDraft(Draft):
    event_id: int | None = None
    speech_id: int | None = None


order = Flow(
    "speakers", first="list", command="speakers", roles=ADMIN, needs_consent=False, draft=SpeakersDraft
)


@order.ask("list")
async def ask_speakers(ctx: Ctx) -> Reply | Next:
    draft = SpeakersDraft.of(ctx)
    if draft.event_id is None:
        try:
            draft.event_id = (await hearing_from_args(ctx, "speakers")).id
        except Invalid as invalid:
            ctx.say(invalid.message_id, **invalid.fields)
            return Goto("staff_home", data={})
    found = await hearing_questions.hearing(ctx.db, draft.event_id, ctx.settings.timing)
    listed = await speakers.speakers(ctx.db, draft.event_id)
    title = found.title if found else ""
    done = ctx.option("done", "floor.done")
    if not listed:
        return Reply(ctx.t("floor.speakers.none", title=title), (done,))
    lines = [
        ctx.t(
            "floor.speakers.line",
            place=n,
            name=s.speaker,
            agency=s.agency,
            topic=s.topic,
            text=s.summary,
        )
        for n, s in enumerate(listed, 1)
    ]
    options = tuple(
        Option(f"s:{s.id}", button_label(f"{n}. {s.speaker} → {s.agency}")) for n, s in enumerate(listed, 1)
    )
    text = ctx.t("floor.speakers.title", title=title) + "\n\n" + "\n\n".join(lines)
    return Reply(text + "\n\n" + ctx.t("floor.speakers.choose"), (*options, done))


@order.handle("list")
async def on_speakers(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "done":
        return Goto("staff_home", data={})
    speech_id = choice_id(answer, "s:")
    if speech_id is None:
        raise Invalid("common.choose_option")
    SpeakersDraft.of(ctx).speech_id = speech_id
    return "move"


@order.ask("move")
async def ask_move(ctx: Ctx) -> Reply | Next:
    draft = SpeakersDraft.of(ctx)
    listed = await speakers.speakers(ctx.db, draft.event_id or 0)
    places = {s.id: n for n, s in enumerate(listed, 1)}
    if draft.speech_id not in places:
        ctx.say("floor.speakers.gone")
        return "list"
    speech = listed[places[draft.speech_id] - 1]
    return Reply(
        ctx.t("floor.speakers.move", name=speech.speaker, place=places[speech.id], count=len(listed)),
        (
            ctx.option("up", "floor.speakers.up"),
            ctx.option("down", "floor.speakers.down"),
            ctx.option("back", "floor.back"),
        ),
    )


@order.handle("move")
async def on_move(ctx: Ctx, answer: Answer) -> Next:
    draft = SpeakersDraft.of(ctx)
    if answer.choice == "back":
        return "list"
    listed = await speakers.speakers(ctx.db, draft.event_id or 0)
    places = {s.id: n for n, s in enumerate(listed, 1)}
    if draft.speech_id not in places:
        ctx.say("floor.speakers.gone")
        return "list"
    now_at = places[draft.speech_id]
    if answer.choice in ("up", "down"):
        place = now_at - 1 if answer.choice == "up" else now_at + 1
    else:
        typed = inputs.whole_number(answer.text, len(listed))
        if typed is None or typed < 1:
            raise Invalid("floor.speakers.place_invalid", count=len(listed))
        place = typed
    try:
        place = await speakers.move(
            ctx.db, draft.event_id or 0, draft.speech_id or 0, place, actor=str(ctx.actor), now=ctx.now
        )
    except NotFound:
        ctx.say("floor.speakers.gone")
        return "list"
    ctx.say("floor.speakers.moved", name=listed[now_at - 1].speaker, place=place)
    return "list"


# --- /questions ID -------------------------------------------------------------------------


@dataclass
class QuestionsDraft(Draft):
    event_id: int | None = None
    question_id: int | None = None


review = Flow(
    "hearing_questions",
    first="list",
    command="questions",
    roles=STAFF,
    needs_consent=False,
    draft=QuestionsDraft,
)


def route_label(ctx: Ctx, question: Question) -> str:
    if question.route == SELECTED:
        return ctx.t("floor.questions.selected_at", place=question.position or 0)
    if question.route == DECLINED:
        return ctx.t("floor.questions.declined")
    return ctx.t("floor.questions.waiting")


def question_line(ctx: Ctx, question: Question) -> str:
    # A delegate (even one who is an officer) never reads a citizen's phone.
    phone = "" if ctx.actor.delegate or not question.phone else inputs.show_phone(question.phone)
    return ctx.t(
        "floor.questions.line",
        code=question.code,
        name=question.full_name or "—",
        phone=phone or "—",
        status=route_label(ctx, question),
        text=question.summary,
    )


@review.ask("list")
async def ask_questions(ctx: Ctx) -> Reply | Next:
    draft = QuestionsDraft.of(ctx)
    if draft.event_id is None:
        try:
            draft.event_id = (await hearing_from_args(ctx, "questions")).id
        except Invalid as invalid:
            ctx.say(invalid.message_id, **invalid.fields)
            return Goto("staff_home", data={})
    found = await hearing_questions.hearing(ctx.db, draft.event_id, ctx.settings.timing)
    if found is None:
        return Goto("staff_home", data={})
    listed = await hearing_questions.for_hearing(ctx.db, found.id, ctx.settings.timing)
    blocks = []
    for number, topic in enumerate(found.topics, 1):
        mine = [q for q in listed if q.topic_id == topic.id]
        body = "\n".join(question_line(ctx, q) for q in mine) or ctx.t("floor.questions.topic_empty")
        blocks.append(
            ctx.t("floor.questions.topic", number=number, title=topic.title, count=len(mine)) + "\n" + body
        )
    head = ctx.t(
        "floor.questions.title",
        title=found.title,
        deadline=ctx.dt(found.questions_deadline),
        count=len(listed),
    )
    options = [Option(f"q:{q.id}", q.code) for q in listed if q.route is None]
    if listed and ctx.capabilities.documents:
        options.append(ctx.option("docx", "floor.questions.docx"))
    options.append(ctx.option("done", "floor.done"))
    return Reply(head + "\n\n" + "\n\n".join(blocks), tuple(options))


@review.handle("list")
async def on_questions(ctx: Ctx, answer: Answer) -> Next:
    draft = QuestionsDraft.of(ctx)
    if answer.choice == "done":
        return Goto("staff_home", data={})
    if answer.choice == "docx":
        await send_docx(ctx, draft.event_id or 0)
        return "list"
    question_id = choice_id(answer, "q:")
    if question_id is None:
        raise Invalid("common.choose_option")
    draft.question_id = question_id
    return "decide"


async def send_docx(ctx: Ctx, event_id: int) -> None:
    found = await hearing_questions.hearing(ctx.db, event_id, ctx.settings.timing)
    if found is None:
        return
    listed = await hearing_questions.for_hearing(ctx.db, event_id, ctx.settings.timing)
    t = document_translator(ctx.t)  # the document in Vietnamese; the chat in the staff's language
    file = Document(
        questions_filename(found),
        questions_docx(found, listed, t, with_phones=not ctx.actor.delegate),
        DOCX_TYPE,
    )
    if not deliverable(ctx, [file]):
        return
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="hearing.questions_export",
        target_type="event",
        target_id=event_id,
        questions=len(listed),
    )
    ctx.replies.append(Reply(ctx.t("floor.questions.docx_ready", count=len(listed)), document=file))


@review.ask("decide")
async def ask_decide(ctx: Ctx) -> Reply | Next:
    draft = QuestionsDraft.of(ctx)
    listed = await hearing_questions.for_hearing(ctx.db, draft.event_id or 0, ctx.settings.timing)
    question = next((q for q in listed if q.id == draft.question_id), None)
    if question is None or question.route is not None:
        ctx.say("floor.questions.gone")
        return "list"
    text = ctx.t("floor.questions.decide", topic=question.topic_title) + "\n\n" + question_line(ctx, question)
    return Reply(
        text,
        (
            ctx.option("select", "floor.questions.select"),
            ctx.option("decline", "floor.questions.decline"),
            ctx.option("back", "floor.back"),
        ),
    )


@review.handle("decide")
async def on_decide(ctx: Ctx, answer: Answer) -> Next:
    draft = QuestionsDraft.of(ctx)
    if answer.choice == "back":
        return "list"
    if answer.choice not in ("select", "decline"):
        raise Invalid("common.choose_option")
    route = SELECTED if answer.choice == "select" else DECLINED
    try:
        code = await hearing_questions.decide(
            ctx.db, draft.event_id or 0, draft.question_id or 0, route, by=str(ctx.actor), now=ctx.now
        )
    except (NotFound, AlreadyDecided):
        ctx.say("floor.questions.gone")
        return "list"
    ctx.say(f"floor.questions.{route}_done", code=code)
    return "list"


# --- /conclude ID --------------------------------------------------------------------------


@dataclass
class ConcludeDraft(Draft):
    event_id: int | None = None
    text: str = ""


conclude = Flow(
    "conclude", first="text", command="conclude", roles=ADMIN, needs_consent=False, draft=ConcludeDraft
)


@conclude.ask("text")
async def ask_conclusion(ctx: Ctx) -> Reply | Next:
    draft = ConcludeDraft.of(ctx)
    if draft.event_id is None:
        try:
            found = await hearing_from_args(ctx, "conclude")
        except Invalid as invalid:
            ctx.say(invalid.message_id, **invalid.fields)
            return Goto("staff_home", data={})
        if ctx.now < found.starts_at:
            ctx.say("floor.conclude.not_yet", title=found.title, when=ctx.dt(found.starts_at))
            return Goto("staff_home", data={})
        draft.event_id = found.id
    found_again = await hearing_questions.hearing(ctx.db, draft.event_id, ctx.settings.timing)
    title = found_again.title if found_again else ""
    text = ctx.t("floor.conclude.ask", title=title)
    if found_again and found_again.concluded_at:
        text += "\n\n" + ctx.t("floor.conclude.before", when=ctx.dt(found_again.concluded_at))
    return Reply(text)


@conclude.handle("text", text=True)
async def on_conclusion(ctx: Ctx, answer: Answer) -> Next:
    s = ctx.settings
    ConcludeDraft.of(ctx).text = inputs.parse_summary(answer.text, CONCLUSION_MIN_CHARS, s.summary_max_chars)
    return "confirm"


@conclude.ask("confirm")
async def ask_conclude_confirm(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("floor.conclude.review", text=ConcludeDraft.of(ctx).text),
        (
            ctx.option("confirm", "floor.conclude.confirm"),
            ctx.option("cancel", "floor.conclude.discard"),
        ),
    )


@conclude.handle("confirm")
async def on_conclude_confirm(ctx: Ctx, answer: Answer) -> Next:
    draft = ConcludeDraft.of(ctx)
    if answer.choice == "cancel":
        ctx.say("common.cancelled")
        return Goto("staff_home", data={})
    if answer.choice != "confirm" or draft.event_id is None:
        raise Invalid("common.choose_option")
    try:
        told = await hearing_questions.conclude(
            ctx.db, draft.event_id, draft.text, by=str(ctx.actor), now=ctx.now
        )
    except NotFound:
        ctx.say("floor.not_found", id=draft.event_id)
        return Goto("staff_home", data={})
    ctx.say("floor.conclude.done", count=told)
    return Goto("staff_home", data={})
