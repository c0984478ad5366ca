"""Case review for staff: /review (one by one), /outcome CODE, /find QUERY."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot import reception_book
from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next, TooLong
from bot.dialog.types import Attachment, Option, Reply
from handlers import inputs
from handlers.citizen.views import case_type_label, field_label
from handlers.staff.common import STAFF, back_home
from handlers.staff.sessions import visible_name
from storage import review
from storage.errors import AlreadyDecided, NotFound
from storage.models import CaseType, SignUpStatus
from storage.review import Case


@dataclass
class CaseDraft(Draft):
    reg_id: int = 0  # the registration on the card


@dataclass
class ReviewDraft(CaseDraft):
    skipped: list[int] = field(default_factory=list)  # registrations passed over this round
    agency: str = ""  # where the case is being forwarded


queue = Flow("review", first="next", command="review", roles=STAFF, needs_consent=False, draft=ReviewDraft)
outcome = Flow(
    "outcome", first="result", command="outcome", roles=STAFF, needs_consent=False, draft=CaseDraft
)
search = Flow("find", first="results", command="find", roles=STAFF, needs_consent=False)

NOTE_MIN, NOTE_MAX = 10, 2000


async def current(ctx: Ctx) -> Case:
    registration = await review.case(ctx.db, ctx.actor, CaseDraft.of(ctx).reg_id)
    if registration is None:
        raise Invalid("staff.review.gone")
    return registration


def not_open(ctx: Ctx, registration: Case) -> Next:
    """Another officer decided first or the citizen cancelled: say so, nothing is recorded."""
    if registration.status == SignUpStatus.CANCELLED:
        ctx.say("staff.review.cancelled_meanwhile", code=registration.code)
    else:
        ctx.say("staff.review.already_decided", code=registration.code, route=route_text(ctx, registration))
    return "next"


async def decide(ctx: Ctx, route: str, note: str = "", agency: str = "") -> Next:
    try:
        registration = await review.decide(
            ctx.db, CaseDraft.of(ctx).reg_id, route, actor=ctx.actor, now=ctx.now, note=note, agency=agency
        )
    except NotFound:
        raise Invalid("staff.review.gone") from None
    except AlreadyDecided:
        return not_open(ctx, await current(ctx))
    ctx.say("staff.review.decided", code=registration.code, route=route_text(ctx, registration))
    return "next"


def parse_note(text: str) -> str:
    note = text.strip()
    if not NOTE_MIN <= len(note) <= NOTE_MAX:
        refusal = TooLong if len(note) > NOTE_MAX else Invalid
        raise refusal("staff.review.note_length", min=NOTE_MIN, max=NOTE_MAX)
    return note


def withheld(ctx: Ctx, registration: Case) -> bool:
    """A denouncer's documents may identify them: only readers allowed to see denouncers get them."""
    return registration.case_type == CaseType.DENUNCIATION and not ctx.actor.see_denouncers


async def case_card(ctx: Ctx, registration: Case) -> str:
    files = ", ".join(item.name for item in registration.files) or "—"
    if registration.files and withheld(ctx, registration):
        files = ctx.t("staff.review.files_withheld", count=len(registration.files))
    return ctx.t(
        "staff.review.card",
        code=registration.code,
        status=ctx.t(f"registration.status.{registration.status.value}"),
        session=registration.session_title,
        when=ctx.dt(registration.starts_at),
        endpoint=registration.endpoint_name,
        name=await visible_name(ctx, registration),
        case_type=case_type_label(ctx, registration.case_type),
        field=field_label(ctx, registration.field),
        people=registration.group_size,
        agency=registration.prior_agency or "—",
        files=files,
        summary=registration.summary or "—",
        route=route_text(ctx, registration),
        outcome=registration.outcome or "—",
    )


def route_text(ctx: Ctx, registration: Case) -> str:
    if registration.route is None:
        return ctx.t("staff.review.no_route")
    return reception_book.route_text(ctx.t, registration)


# --- /review ----------------------------------------------------------------------


@queue.ask("next")
async def ask_next(ctx: Ctx) -> Reply | Next:
    draft = ReviewDraft.of(ctx)
    registration = await review.next_to_review(ctx.db, ctx.actor, now=ctx.now, skipped=draft.skipped)
    if registration is None:
        ctx.say("staff.review.empty")
        return Goto("staff_home", data={})
    draft.reg_id = registration.id
    files = (
        ()
        if withheld(ctx, registration)
        else tuple(
            Attachment(item.kind, item.file_id, item.name, item.mime_type, item.size)
            for item in registration.files
        )
    )
    labels = {"classify": "staff.review.classify_button"}  # staff.review.classify is its prompt
    options = tuple(
        ctx.option(choice, labels.get(choice, f"staff.review.{choice}"))
        for choice in ("accept", "return", "forward", "classify", "skip", "stop")
    )
    return Reply(await case_card(ctx, registration), options, files=files)


@queue.handle("next")
async def on_next(ctx: Ctx, answer: Answer) -> Next:
    registration = await current(ctx)
    if answer.choice == "accept":
        return await decide(ctx, "accept")
    if answer.choice in ("return", "forward") and not review.open_for_decision(registration):
        return not_open(ctx, registration)  # before the officer writes a note in vain
    if answer.choice in ("return", "forward", "classify"):
        return {"return": "return_note", "forward": "agency", "classify": "classify"}[answer.choice]
    if answer.choice == "skip":
        draft = ReviewDraft.of(ctx)
        draft.skipped = [*draft.skipped, registration.id]
        return "next"
    if answer.choice == "stop":
        return Goto("staff_home", data={})
    raise Invalid("common.choose_option")


@queue.ask("return_note")
async def ask_return(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.review.return_note"))


@queue.handle("return_note")
async def on_return(ctx: Ctx, answer: Answer) -> Next:
    return await decide(ctx, "return", note=parse_note(answer.text))


@queue.ask("agency")
async def ask_agency(ctx: Ctx) -> Reply:
    agencies = ctx.settings.agency_names
    return Reply(
        ctx.t("staff.review.agency"), tuple(Option(f"a:{n}", name) for n, name in enumerate(agencies))
    )


@queue.handle("agency")
async def on_agency(ctx: Ctx, answer: Answer) -> Next:
    if not answer.choice or not answer.choice.startswith("a:"):
        raise Invalid("common.choose_option")
    ReviewDraft.of(ctx).agency = ctx.settings.agency_names[int(answer.choice[2:])]
    return "forward_note"


@queue.ask("forward_note")
async def ask_forward_note(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("staff.review.forward_note", agency=ReviewDraft.of(ctx).agency),
        (ctx.option("none", "staff.review.no_note"),),
    )


@queue.handle("forward_note")
async def on_forward_note(ctx: Ctx, answer: Answer) -> Next:
    note = "" if answer.choice == "none" else parse_note(answer.text)
    return await decide(ctx, "forward", note=note, agency=ReviewDraft.of(ctx).agency)


@queue.ask("classify")
async def ask_classify(ctx: Ctx) -> Reply:
    options = [Option(f"t:{kind.value}", case_type_label(ctx, kind)) for kind in CaseType]
    options += [Option(f"f:{code}", field_label(ctx, code)) for code in ctx.settings.case_field_codes]
    return Reply(ctx.t("staff.review.classify"), (*options, ctx.option("back", "staff.review.back")))


@queue.handle("classify")
async def on_classify(ctx: Ctx, answer: Answer) -> Next:
    registration = await current(ctx)
    if answer.choice == "back":
        return "next"
    if answer.choice and answer.choice.startswith("t:"):
        if withheld(ctx, registration):  # as another kind of case, the denouncer's name would show
            raise Invalid("staff.review.classify_denouncer")
        await review.reclassify(
            ctx.db, registration.id, actor=ctx.actor, now=ctx.now, case_type=CaseType(answer.choice[2:])
        )
    elif (
        answer.choice
        and answer.choice.startswith("f:")
        and answer.choice[2:] in ctx.settings.case_field_codes
    ):
        await review.reclassify(
            ctx.db, registration.id, actor=ctx.actor, now=ctx.now, field=answer.choice[2:]
        )
    elif answer.text.strip().isdecimal():
        await review.reclassify(
            ctx.db,
            registration.id,
            actor=ctx.actor,
            now=ctx.now,
            group_size=inputs.parse_group_size(answer.text),
        )
    else:
        raise Invalid("staff.review.classify_hint")
    ctx.say("staff.review.reclassified", code=registration.code)
    return "next"


# --- /outcome CODE ----------------------------------------------------------------


@outcome.ask("result")
async def ask_outcome(ctx: Ctx) -> Reply | Next:
    if not ctx.args:
        ctx.say("staff.usage.outcome")
        return Goto("staff_home", data={})
    registration = await review.by_code(ctx.db, ctx.actor, ctx.args)
    if registration is None:
        ctx.say("staff.find.none", query=ctx.args)
        return Goto("staff_home", data={})
    if registration.starts_at > ctx.now:  # an outcome is what came of the session
        ctx.say("staff.outcome.too_early", code=registration.code, when=ctx.dt(registration.starts_at))
        return Goto("staff_home", data={})
    CaseDraft.of(ctx).reg_id = registration.id
    return Reply(await case_card(ctx, registration) + "\n\n" + ctx.t("staff.outcome.ask"))


@outcome.handle("result")
async def on_outcome(ctx: Ctx, answer: Answer) -> Next:
    registration = await current(ctx)
    await review.record_outcome(
        ctx.db, registration.id, parse_note(answer.text), actor=ctx.actor, now=ctx.now
    )
    ctx.say("staff.outcome.saved", code=registration.code)
    return Goto("staff_home", data={})


# --- /find QUERY ------------------------------------------------------------------

FIND_MAX = 100


@search.ask("results")
async def ask_find(ctx: Ctx) -> Reply | Next:
    query = ctx.args.strip()
    if not 2 <= len(query) <= FIND_MAX:  # a code, a phone or part of a name: never a page of text
        ctx.say("staff.usage.find")
        return Goto("staff_home", data={})
    try:
        phone = (
            inputs.parse_phone(query)
            if any(ch.isdigit() for ch in query) and not query.upper().startswith("TCD")
            else None
        )
    except Invalid:
        phone = None
    found = await review.find(ctx.db, ctx.actor, query, phone=phone)
    if not found:
        ctx.say("staff.find.none", query=query)
        return Goto("staff_home", data={})
    lines = [
        ctx.t(
            "staff.find.row",
            code=registration.code,
            when=ctx.dt(registration.starts_at),
            endpoint=registration.endpoint_name,
            name=await visible_name(ctx, registration),
            status=ctx.t(f"registration.status.{registration.status.value}"),
            route=route_text(ctx, registration),
        )
        for registration in found
    ]
    ctx.say("staff.find.title", count=len(found))
    ctx.replies[-1] = Reply(ctx.replies[-1].text + "\n\n" + "\n".join(lines))
    return Goto("staff_home", data={})


search.handle("results")(back_home)
