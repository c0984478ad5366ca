"""Registering for a session: endpoint → session → identity → case → review → code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers import inputs
from handlers.citizen import summary
from handlers.citizen.views import case_type_label, field_label, seat_details, seat_label
from storage import citizens, registrations, sessions
from storage.endpoints import search_endpoints
from storage.errors import AlreadyRegistered, DeadlinePassed, SessionNotOpen, TooManyPeople
from storage.models import CaseType, SignUpStatus
from storage.registrations import max_representatives
from storage.rules import OPEN_STATUSES


@dataclass
class RegisterDraft(summary.SummaryDraft):
    """What is entered on the way to the review. The names are those the data had when it
    was a dict of strings, so that a conversation stored then goes on."""

    ep_query: str = ""  # the endpoint name searched for ("" : the whole list)
    ep_page: int = 0
    endpoint_id: int | None = None
    se_id: int | None = None  # the session endpoint chosen
    next_se_id: int | None = None  # offered when the chosen one closed meanwhile
    editing: bool = False  # the review has been reached: steps go back to it
    full_name: str | None = None
    phone: str | None = None
    id_number: str | None = None
    address: str | None = None
    case_type: str = ""
    field: str = ""
    summary: str | None = None
    attachments: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    agency: str = ""
    group_size: int = 1
    representatives: list[str] = dataclasses.field(default_factory=list)


flow = Flow("register", first="endpoint", draft=RegisterDraft)

ENDPOINT_PAGE_SIZE = 6
IDENTITY_STEPS = ("name", "phone", "id_number", "address")
EDITABLE = (
    *IDENTITY_STEPS,
    "case_type",
    "field",
    "summary",
    "attachments",
    "agency",
    "group",
    "session",
)


def after(ctx: Ctx, natural_next: str) -> str:
    """Back to the review screen when the step was opened from it."""
    return "review" if RegisterDraft.of(ctx).editing else natural_next


# --- endpoint -----------------------------------------------------------------


# The endpoint list is one step and what a search found is the next, so that "back" from
# the results is the list and the search again, not the menu.


async def endpoint_page(ctx: Ctx, query: str) -> Reply:
    page = await search_endpoints(ctx.db, query, RegisterDraft.of(ctx).ep_page, ENDPOINT_PAGE_SIZE)
    options = [Option(f"ep:{endpoint.id}", endpoint.name) for endpoint in page.items]
    if page.page > 0:
        options.append(ctx.option("prev", "common.prev_page"))
    if page.page + 1 < page.pages:
        options.append(ctx.option("next", "common.next_page"))
    if query:
        options.append(ctx.option("all", "register.endpoint.show_all"))
    text = ctx.t("register.endpoint.ask", page=page.page + 1, pages=page.pages)
    if query:
        text = ctx.t("register.endpoint.results", query=query, count=page.total) + "\n" + text
    return Reply(text, tuple(options))


async def on_endpoint_answer(ctx: Ctx, answer: Answer, here: str) -> Next:
    """A page turned (on step `here`), an endpoint chosen, or a name typed to search for."""
    draft = RegisterDraft.of(ctx)
    if answer.choice in ("prev", "next"):
        draft.ep_page += 1 if answer.choice == "next" else -1
        return here
    if answer.choice == "all":
        draft.ep_page = 0
        return "endpoint"
    if answer.choice and answer.choice.startswith("ep:"):
        endpoint_id = int(answer.choice[3:])
        if endpoint_id != draft.endpoint_id:
            draft.se_id = None
        draft.endpoint_id = endpoint_id
        return "session"
    query = " ".join(answer.text.split())[:100]
    if not query:
        raise Invalid("register.endpoint.type_name")
    # Endpoints are searched in memory (storage's catalog): checking first costs no read.
    found = await search_endpoints(ctx.db, query, 0, ENDPOINT_PAGE_SIZE)
    if not found.total:
        raise Invalid("register.endpoint.none", query=query)
    draft.ep_query, draft.ep_page = query, 0
    return "endpoint_found"


@flow.ask("endpoint")
async def ask_endpoint(ctx: Ctx) -> Reply:
    draft = RegisterDraft.of(ctx)
    if draft.ep_query:  # back from the results: the whole list again
        draft.ep_query, draft.ep_page = "", 0
    return await endpoint_page(ctx, "")


@flow.handle("endpoint", text=True)
async def on_endpoint(ctx: Ctx, answer: Answer) -> Next:
    return await on_endpoint_answer(ctx, answer, "endpoint")


@flow.ask("endpoint_found")
async def ask_endpoint_found(ctx: Ctx) -> Reply:
    return await endpoint_page(ctx, RegisterDraft.of(ctx).ep_query)


@flow.handle("endpoint_found", text=True)
async def on_endpoint_found(ctx: Ctx, answer: Answer) -> Next:
    return await on_endpoint_answer(ctx, answer, "endpoint_found")


# --- session --------------------------------------------------------------------


@flow.ask("session")
async def ask_session(ctx: Ctx) -> Reply | Next:
    endpoint_id = RegisterDraft.of(ctx).endpoint_id
    if endpoint_id is None:  # not chosen yet (an edit list reached another way): choose it
        return "endpoint"
    seats = await sessions.open_seats_at(ctx.db, endpoint_id, ctx.now, ctx.settings.summary_lead_days)
    back = ctx.option("back", "register.session.other_endpoint")
    if not seats:
        none = ctx.t("register.session.none", days=ctx.settings.summary_lead_days)
        return Reply(none, (back, ctx.option("menu", "common.back_to_menu")))
    details = "\n\n".join(seat_details(ctx, seat) for seat in seats)
    options = tuple(Option(f"s:{seat.session_endpoint_id}", seat_label(ctx, seat)) for seat in seats)
    return Reply(ctx.t("register.session.ask") + "\n\n" + details, (*options, back))


@flow.handle("session")
async def on_session(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "back":
        return "endpoint"
    if answer.choice == "menu":
        return END
    if not answer.choice or not answer.choice.startswith("s:"):
        raise Invalid("common.choose_option")
    lead_days = ctx.settings.summary_lead_days
    choice = await registrations.seat_for(ctx.db, ctx.citizen, int(answer.choice[2:]), lead_days)
    if choice is None or choice.seat.status not in OPEN_STATUSES:  # cancelled while they were choosing
        raise Invalid("register.session.cancelled")
    seat = choice.seat
    if not seat.endpoint_active:  # deactivated while they were choosing
        ctx.say("register.endpoint.inactive")
        return "endpoint"
    if ctx.now > seat.deadline:  # the deadline went by while they were choosing
        raise Invalid("register.session.closed_now", deadline=ctx.dt(seat.deadline))
    if choice.held is not None:  # said now, not after every step has been answered
        raise Invalid("register.already", code=choice.held)
    RegisterDraft.of(ctx).se_id = seat.session_endpoint_id
    if not seat.seats_left:
        return "waitlist"
    return after(ctx, "name")


@flow.ask("waitlist")
async def ask_waitlist(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("register.waitlist.ask"),
        (ctx.option("yes", "register.waitlist.join"), ctx.option("no", "register.session.other")),
    )


@flow.handle("waitlist")
async def on_waitlist(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "yes":
        return after(ctx, "name")
    if answer.choice == "no":
        return "session"
    raise Invalid("common.choose_option")


# --- identity (prefilled from the profile when known) ----------------------------


async def keep_option(ctx: Ctx, known: str | None) -> tuple[Option, ...]:
    """Offer the saved value. A denouncer's identity is not echoed, so only "keep" is shown."""
    if not known:
        return ()
    if ctx.citizen.denouncer:
        return (ctx.option("keep", "register.keep_saved"),)
    return (ctx.option("keep", "register.keep", value=known),)


def known_value(ctx: Ctx, field: str) -> str | None:
    """What the draft holds for an identity field, else what the profile kept."""
    value = getattr(RegisterDraft.of(ctx), field) or getattr(ctx.citizen, field)
    return str(value) if value else None


def shown_value(step: str, value: str | None) -> str | None:
    """A value as the citizen reads it: a phone number in the national format."""
    return inputs.show_phone(value) if step == "phone" and value else value


IdentityParser = Callable[[Ctx, Answer], str]


def identity_step(step: str, field: str, next_step: str, parse: IdentityParser) -> None:
    """One identity step: ask (offering the saved value), check the answer, store it."""

    @flow.ask(step)
    async def ask(ctx: Ctx) -> Reply:
        phone_button = step == "phone" and ctx.capabilities.phone_request
        return Reply(
            ctx.t(f"register.{step}.ask"),
            await keep_option(ctx, shown_value(step, known_value(ctx, field))),
            ask_phone=ctx.t("register.phone.share") if phone_button else "",
        )

    @flow.handle(step, text=True)
    async def handle(ctx: Ctx, answer: Answer) -> Next:
        known = known_value(ctx, field)
        kept = answer.choice == "keep" and bool(known)
        value = known if kept and known else parse(ctx, answer)
        setattr(RegisterDraft.of(ctx), field, value)
        if step == "phone" and not kept:  # a kept number was on its button (or is not shown)
            ctx.say("register.phone.saved", phone=inputs.show_phone(value))
        return after(ctx, next_step)


identity_step("name", "full_name", "phone", lambda ctx, answer: inputs.parse_name(answer.text))
identity_step(
    "phone", "phone", "id_number", lambda ctx, answer: inputs.parse_phone(answer.phone or answer.text)
)
identity_step(
    "id_number", "id_number", "address", lambda ctx, answer: inputs.parse_id_number(answer.text, ctx.now)
)
identity_step("address", "address", "case_type", lambda ctx, answer: inputs.parse_address(answer.text))


# --- the case ---------------------------------------------------------------------


@flow.ask("case_type")
async def ask_case_type(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("register.case_type.ask"),
        tuple(Option(kind.value, case_type_label(ctx, kind)) for kind in CaseType),
    )


@flow.handle("case_type")
async def on_case_type(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in {kind.value for kind in CaseType}:
        raise Invalid("common.choose_option")
    RegisterDraft.of(ctx).case_type = answer.choice
    if answer.choice == CaseType.DENUNCIATION:
        ctx.say("register.case_type.denunciation_note")
    return after(ctx, "field")


@flow.ask("field")
async def ask_field(ctx: Ctx) -> Reply:
    codes = ctx.settings.case_field_codes
    return Reply(ctx.t("register.field.ask"), tuple(Option(code, field_label(ctx, code)) for code in codes))


@flow.handle("field")
async def on_field(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in ctx.settings.case_field_codes:
        raise Invalid("common.choose_option")
    RegisterDraft.of(ctx).field = answer.choice
    return after(ctx, "summary")


@flow.ask("summary")
async def ask_summary(ctx: Ctx) -> Reply:
    s = ctx.settings
    question = ctx.t(
        "register.summary.ask", min=ctx.t.number(s.summary_min_chars), max=ctx.t.number(s.summary_max_chars)
    )
    return summary.ask(ctx, question, RegisterDraft.of(ctx).summary)


@flow.handle("summary", text=True)
async def on_summary(ctx: Ctx, answer: Answer) -> Next:
    draft = RegisterDraft.of(ctx)
    done = summary.collect(ctx, answer, draft.summary)
    if done is None:
        return "summary"  # more parts may follow
    draft.summary = done
    return after(ctx, "attachments")


def attachment_names(ctx: Ctx) -> str:
    return ", ".join(item["name"] for item in RegisterDraft.of(ctx).attachments) or "—"


def go_on_label(ctx: Ctx) -> str:
    """The message of the button that leaves the attachment step as it reads now (quoted in
    the step's texts)."""
    return "register.attachments.done" if RegisterDraft.of(ctx).attachments else "register.attachments.skip"


@flow.ask("attachments")
async def ask_attachments(ctx: Ctx) -> Reply | Next:
    if not ctx.capabilities.file_uploads or not ctx.settings.max_attachments:
        return after(ctx, "agency")  # this channel cannot carry files
    files = RegisterDraft.of(ctx).attachments
    s = ctx.settings
    go_on = ctx.option("done", go_on_label(ctx))
    text = ctx.t(
        "register.attachments.ask",
        most=s.max_attachments,
        max_mb=int(s.max_attachment_mb),
        button=go_on.label,  # the button's own words
    )
    options = [go_on]
    if files:
        text += "\n\n" + ctx.t("register.attachments.list", count=len(files), names=attachment_names(ctx))
        options.append(ctx.option("clear", "register.attachments.clear"))
    return Reply(text, tuple(options))


@flow.handle("attachments", files=True)
async def on_attachments(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "done":
        return after(ctx, "agency")
    draft = RegisterDraft.of(ctx)
    if answer.choice == "clear":
        draft.attachments = []
        return "attachments"
    if not answer.attachments:
        raise Invalid("register.attachments.hint", button=ctx.t(go_on_label(ctx)))
    files = list(draft.attachments)
    max_bytes = int(ctx.settings.max_attachment_mb * 1_000_000)
    for attachment in answer.attachments:
        if len(files) >= ctx.settings.max_attachments:
            ctx.say("input.attachment.too_many", most=ctx.settings.max_attachments)
            break
        try:
            inputs.check_attachment(attachment, max_bytes)
        except Invalid as refused:
            ctx.say(refused.message_id, **refused.fields)
            continue
        files.append(
            {
                "kind": attachment.kind,
                "file_id": attachment.file_id,
                "name": attachment.name or f"{attachment.kind}.jpg",
                "mime_type": attachment.mime_type,
                "size": attachment.size,
            }
        )
    draft.attachments = files
    return "attachments"


@flow.ask("agency")
async def ask_agency(ctx: Ctx) -> Reply:
    return Reply(ctx.t("register.agency.ask"), (ctx.option("none", "register.agency.none"),))


@flow.handle("agency", text=True)
async def on_agency(ctx: Ctx, answer: Answer) -> Next:
    RegisterDraft.of(ctx).agency = "" if answer.choice == "none" else inputs.parse_agency(answer.text)
    return after(ctx, "group")


@flow.ask("group")
async def ask_group(ctx: Ctx) -> Reply:
    return Reply(ctx.t("register.group.ask"), (ctx.option("alone", "register.group.alone"),))


@flow.handle("group", text=True)
async def on_group(ctx: Ctx, answer: Answer) -> Next:
    draft = RegisterDraft.of(ctx)
    draft.group_size = 1 if answer.choice == "alone" else inputs.parse_group_size(answer.text)
    if max_representatives(draft.group_size):
        return "representatives"
    draft.representatives = []
    return "review"


@flow.ask("representatives")
async def ask_representatives(ctx: Ctx) -> Reply:
    size = RegisterDraft.of(ctx).group_size
    return Reply(ctx.t("register.representatives.ask", size=size, most=max_representatives(size)))


@flow.handle("representatives", text=True)
async def on_representatives(ctx: Ctx, answer: Answer) -> Next:
    draft = RegisterDraft.of(ctx)
    draft.representatives = inputs.parse_representatives(answer.text, max_representatives(draft.group_size))
    return "review"


# --- review and submit ------------------------------------------------------------


def review_identity(ctx: Ctx, denouncer: bool) -> dict[str, str]:
    """Name, phone, CCCD and address for the review. A denouncer's saved details are not
    echoed (Luật Tố cáo, Art. 9): those kept from the profile read "(saved details)"."""
    draft = RegisterDraft.of(ctx)
    fields = {"name": "full_name", "phone": "phone", "id_number": "id_number", "address": "address"}
    saved = ctx.t("register.saved_hidden")
    identity = {}
    for shown, field in fields.items():
        value = getattr(draft, field)
        hidden = denouncer and value == getattr(ctx.citizen, field)
        identity[shown] = saved if hidden else shown_value(shown, value) or ""
    return identity


@flow.ask("review")
async def ask_review(ctx: Ctx) -> Reply | Next:
    draft = RegisterDraft.of(ctx)
    draft.editing = True
    if draft.se_id is None:
        return "session"
    choice = await registrations.seat_for(ctx.db, ctx.citizen, draft.se_id, ctx.settings.summary_lead_days)
    if choice is None:
        return "session"
    if not choice.seat.endpoint_active:  # deactivated since it was chosen: choose again
        ctx.say("register.endpoint.inactive")
        draft.se_id = None
        return "endpoint"
    text = ctx.t(
        "register.review",
        session=seat_details(ctx, choice.seat),
        **review_identity(ctx, choice.denouncer),
        case_type=case_type_label(ctx, draft.case_type),
        field=field_label(ctx, draft.field),
        summary=draft.summary,
        agency=draft.agency or ctx.t("register.agency.none"),
        group_size=draft.group_size,
        representatives=", ".join(draft.representatives) or "—",
        attachments=attachment_names(ctx),
    )
    return Reply(
        text,
        (
            ctx.option("confirm", "register.confirm"),
            ctx.option("edit", "register.edit"),
            ctx.option("cancel", "register.discard"),
        ),
    )


@flow.handle("review")
async def on_review(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "edit":
        return "edit"
    if answer.choice == "cancel":
        ctx.say("common.cancelled")
        return Goto("menu", data={})
    if answer.choice != "confirm":
        raise Invalid("common.choose_option")
    return await submit(ctx)


@flow.ask("edit")
async def ask_edit(ctx: Ctx) -> Reply:
    options = tuple(ctx.option(step, f"register.edit.{step}") for step in EDITABLE)
    return Reply(ctx.t("register.edit.ask"), (*options, ctx.option("review", "register.edit.back")))


@flow.handle("edit", jumps=True)
async def on_edit(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "review":
        return "review"
    if answer.choice not in EDITABLE:
        raise Invalid("common.choose_option")
    return answer.choice


@flow.ask("closed")
async def ask_closed(ctx: Ctx) -> Reply:
    options = [ctx.option("menu", "common.back_to_menu")]
    if RegisterDraft.of(ctx).next_se_id:
        options.insert(0, ctx.option("next", "register.closed.take_next"))
    return Reply(ctx.t("register.closed.ask"), tuple(options))


@flow.handle("closed")
async def on_closed(ctx: Ctx, answer: Answer) -> Next:
    draft = RegisterDraft.of(ctx)
    if answer.choice == "next" and draft.next_se_id:
        draft.se_id, draft.next_se_id = draft.next_se_id, None
        return "review"
    if answer.choice == "menu":
        return END
    raise Invalid("common.choose_option")


def submitted(ctx: Ctx, session_endpoint_id: int) -> registrations.Draft:
    """The draft as storage takes it."""
    d = RegisterDraft.of(ctx)
    assert d.full_name and d.phone and d.id_number and d.address and d.summary  # the review shows them
    return registrations.Draft(
        session_endpoint_id=session_endpoint_id,
        full_name=d.full_name,
        phone=d.phone,
        id_number=d.id_number,
        address=d.address,
        case_type=CaseType(d.case_type),
        field=d.field,
        summary=d.summary,
        prior_agency=d.agency,
        group_size=d.group_size,
        representatives=list(d.representatives),
        attachments=list(d.attachments),
    )


async def submit(ctx: Ctx) -> Next:
    se_id = RegisterDraft.of(ctx).se_id
    if se_id is None:  # the review is never shown without a session: choose one
        return "session"
    draft = submitted(ctx, se_id)
    lead_days = ctx.settings.summary_lead_days
    try:
        registration = await registrations.submit(
            ctx.db, ctx.citizen, draft, now=ctx.now, lead_days=lead_days, tz=ctx.settings.tz
        )
    except DeadlinePassed as closed:
        ctx.say("register.deadline_passed", deadline=ctx.dt(closed.deadline), days=lead_days)
        if closed.next_session_id:
            seat = await sessions.seat(ctx.db, closed.next_session_id, lead_days)
            assert seat is not None
            ctx.say("register.next_session", details=seat_details(ctx, seat))
            RegisterDraft.of(ctx).next_se_id = closed.next_session_id
        else:
            ctx.say("register.no_next_session")
        return "closed"
    except SessionNotOpen:
        ctx.say("register.session.cancelled")
        return "session"
    except AlreadyRegistered as already:
        ctx.say("register.already", code=already.code or "—")
        return "session"  # everything entered is kept for another session
    except TooManyPeople as full:
        ctx.say("register.too_many_people", capacity=full.capacity)
        return "edit"

    # Remember the identity for next time (the citizen consented to its use).
    ctx.citizen = await citizens.remember_identity(
        ctx.db,
        ctx.citizen,
        full_name=draft.full_name,
        phone=draft.phone,
        id_number=draft.id_number,
        address=draft.address,
    )
    seat = registration.seat
    message = (
        "register.done.confirmed"
        if registration.status == SignUpStatus.CONFIRMED
        else "register.done.waitlisted"
    )
    # No name, phone or address here: a denouncer's identity is never echoed back.
    ctx.say(
        message,
        code=registration.code,
        when=ctx.dt(seat.starts_at),
        endpoint=seat.endpoint_name,
        address=seat.endpoint_address or "—",
        deadline=ctx.dt(seat.deadline),
    )
    return Goto("menu", data={})
