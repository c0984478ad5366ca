"""Voter contact (tiếp xúc cử tri), the voter's side: the coming rounds → their commune →
attend (a seat, or the waiting list) and/or petitions; a commune the round does not connect
sends written petitions until the round's compile deadline.

rounds → commune → place ─ attend: [name, phone] → attend_confirm → after_attend
                          └ petition: case_type → field → level → text → attachments
                                      → [name, phone, address] → review → after_petition
Identity steps are skipped when the profile (or the draft) already holds the answer; the
review shows it and lets the voter change it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers import inputs
from handlers.citizen import summary
from handlers.citizen.views import case_type_label, field_label
from handlers.citizen.voter_views import (
    PETITION_TYPES,
    attendance_line,
    level_label,
    round_block,
)
from storage import citizens, petitions, registrations, voters
from storage.citizens import actor_of
from storage.endpoints import all_endpoints, search_endpoints
from storage.errors import AlreadyRegistered, DeadlinePassed, NotFound, SessionNotOpen
from storage.models import AnswerLevel, CaseType, SignUpStatus
from storage.rules import OPEN_STATUSES
from storage.voters import VoterRound

COMMUNE_PAGE_SIZE = 6
ROUNDS_SHOWN = 5
ATTEND_IDENTITY = ("name", "phone")
PETITION_IDENTITY = ("name", "phone", "address")
EDITABLE = ("case_type", "field", "level", "text", "attachments", "name", "phone", "address")


@dataclass
class VoterDraft(summary.SummaryDraft):
    """The round, the commune and what is being entered."""

    event_id: int | None = None
    title: str = ""  # the round's, for the review (no read there)
    deadline: str = ""  # the round's petition deadline (ISO), for the review
    ep_query: str = ""  # the commune searched for ("": the whole list)
    ep_page: int = 0
    endpoint_id: int | None = None  # their commune; None: not in the list at all
    endpoint_name: str = ""
    stop_id: int | None = None  # the round's stop at their commune (None: not connected)
    sign_up_id: int | None = None  # their sign-up to attend the round, if any
    purpose: str = ""  # where the identity steps lead: "attend" | "petition"
    editing: bool = False  # the review has been reached: steps go back to it
    full_name: str | None = None
    phone: str | None = None
    address: str | None = None
    case_type: str = CaseType.PETITION.value
    field: str = ""
    level: str = ""  # "": not said
    summary: str | None = None
    attachments: list[dict[str, Any]] = dataclasses.field(default_factory=list)


flow = Flow("voters", first="rounds", draft=VoterDraft)


def draft_of(ctx: Ctx) -> VoterDraft:
    return VoterDraft.of(ctx)


# --- the coming rounds -------------------------------------------------------------------


@flow.ask("rounds")
async def ask_rounds(ctx: Ctx) -> Reply:
    found = await voters.coming_rounds(
        ctx.db, ctx.citizen.id, ctx.now, ctx.settings.timing, limit=ROUNDS_SHOWN
    )
    tail = (ctx.option("mine", "voters.my_petitions"), ctx.option("menu", "common.back_to_menu"))
    if not found:
        return Reply(ctx.t("voters.none"), tail)
    text = ctx.t("voters.title") + "\n\n" + "\n\n".join(round_block(ctx, each) for each in found)
    options = tuple(Option(f"r:{each.id}", ctx.t("voters.choose_round", title=each.title)) for each in found)
    return Reply(text + "\n\n" + ctx.t("voters.choose"), (*options, *tail))


@flow.handle("rounds")
async def on_rounds(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "menu":
        return END
    if answer.choice == "mine":
        return Goto("my_petitions", data={})
    if not answer.choice or not answer.choice.startswith("r:") or not answer.choice[2:].isdecimal():
        raise Invalid("common.choose_option")
    draft = draft_of(ctx)
    event_id = int(answer.choice[2:])
    if event_id != draft.event_id:
        draft.stop_id = draft.sign_up_id = None
    draft.event_id = event_id
    return "place" if draft.endpoint_id is not None else "commune"


# --- their commune -----------------------------------------------------------------------
# The list is one step and what a search found is the next, so that "back" from the results
# is the list and the search again (as in registering).


async def commune_page(ctx: Ctx, query: str) -> Reply:
    draft = draft_of(ctx)
    page = await search_endpoints(ctx.db, query, draft.ep_page, COMMUNE_PAGE_SIZE)
    options = [Option(f"ep:{endpoint.id}", endpoint.name) for endpoint in page.items]
    if page.page > 0:
        options.append(ctx.option("prev", "common.prev_page"))
    if page.page + 1 < page.pages:
        options.append(ctx.option("next", "common.next_page"))
    if query:
        options.append(ctx.option("all", "register.endpoint.show_all"))
        options.append(ctx.option("unlisted", "voters.commune.unlisted"))
    text = ctx.t("voters.commune.ask", page=page.page + 1, pages=page.pages)
    if query and not page.total:
        text = ctx.t("voters.commune.none", query=query, unlisted=ctx.t("voters.commune.unlisted"))
    elif query:
        text = ctx.t("register.endpoint.results", query=query, count=page.total) + "\n" + text
    return Reply(text, tuple(options))


async def on_commune_answer(ctx: Ctx, answer: Answer, here: str) -> Next:
    draft = draft_of(ctx)
    if answer.choice in ("prev", "next"):
        draft.ep_page += 1 if answer.choice == "next" else -1
        return here
    if answer.choice == "all":
        draft.ep_page = 0
        return "commune"
    if answer.choice == "unlisted":  # a commune the office's list does not have: written only
        draft.endpoint_id, draft.endpoint_name, draft.stop_id = None, "", None
        return "place"
    if answer.choice and answer.choice.startswith("ep:") and answer.choice[3:].isdecimal():
        endpoint_id = int(answer.choice[3:])
        endpoint = next((e for e in await all_endpoints(ctx.db) if e.id == endpoint_id), None)
        if endpoint is None:
            raise Invalid("common.choose_option")
        if endpoint_id != draft.endpoint_id:
            draft.stop_id = None
        draft.endpoint_id, draft.endpoint_name = endpoint.id, endpoint.name
        return "place"
    query = " ".join(answer.text.split())[:100]
    if not query:
        raise Invalid("voters.commune.type_name")
    draft.ep_query, draft.ep_page = query, 0
    return "commune_found"


@flow.ask("commune")
async def ask_commune(ctx: Ctx) -> Reply:
    draft = draft_of(ctx)
    if draft.ep_query:  # back from the results: the whole list again
        draft.ep_query, draft.ep_page = "", 0
    return await commune_page(ctx, "")


@flow.handle("commune", text=True)
async def on_commune(ctx: Ctx, answer: Answer) -> Next:
    return await on_commune_answer(ctx, answer, "commune")


@flow.ask("commune_found")
async def ask_commune_found(ctx: Ctx) -> Reply:
    return await commune_page(ctx, draft_of(ctx).ep_query)


@flow.handle("commune_found", text=True)
async def on_commune_found(ctx: Ctx, answer: Answer) -> Next:
    return await on_commune_answer(ctx, answer, "commune_found")


# --- the round at their commune ----------------------------------------------------------


async def current_round(ctx: Ctx) -> VoterRound | None:
    event_id = draft_of(ctx).event_id
    if event_id is None:
        return None
    return await voters.voter_round(ctx.db, ctx.citizen.id, event_id, ctx.settings.timing)


@flow.ask("place")
async def ask_place(ctx: Ctx) -> Reply | Next:
    draft = draft_of(ctx)
    found = await current_round(ctx)
    if found is None:
        return "rounds"
    if found.status not in OPEN_STATUSES:
        ctx.say("voters.round_cancelled")
        return "rounds"
    if not found.open_for_petitions(ctx.now):
        ctx.say("voters.round_closed", deadline=ctx.dt(found.petition_deadline))
        return "rounds"
    draft.title, draft.deadline = found.title, found.petition_deadline.isoformat()
    stop = found.stop_at(draft.endpoint_id) if draft.endpoint_id is not None else None
    draft.stop_id = stop.event_endpoint_id if stop and stop.endpoint_active else None
    # A petition goes with the sign-up only from the commune attended; from another it is written.
    attending_here = found.attendance is not None and found.attendance.event_endpoint_id == draft.stop_id
    draft.sign_up_id = found.attendance.id if found.attendance and attending_here else None
    deadline = ctx.dt(found.petition_deadline)
    commune = draft.endpoint_name or ctx.t("voters.commune.yours")
    options: list[Option] = []
    if stop is None or not stop.endpoint_active:
        text = ctx.t("voters.place.not_connected", title=found.title, commune=commune, deadline=deadline)
        options.append(ctx.option("petition", "voters.place.write"))
    else:
        text = ctx.t(
            "voters.place.connected",
            title=found.title,
            host=found.host or "—",
            commune=stop.endpoint_name,
            address=stop.endpoint_address or "—",
            when=ctx.dt(stop.starts_at),
            left=stop.seats_left,
            capacity=stop.capacity,
            sign_up_deadline=ctx.dt(stop.sign_up_deadline),
            deadline=deadline,
        )
        if found.attendance is not None:
            text += "\n\n" + attendance_line(ctx, found, found.attendance)
            if (
                attending := found.stop(found.attendance.event_endpoint_id)
            ) and attending.starts_at > ctx.now:
                options.append(ctx.option("unattend", "voters.place.unattend"))
        elif ctx.now <= stop.sign_up_deadline:
            options.append(
                ctx.option("attend", "voters.place.attend" if stop.seats_left else "voters.place.wait")
            )
        else:
            text += "\n\n" + ctx.t("voters.place.sign_up_closed", deadline=ctx.dt(stop.sign_up_deadline))
        options.append(ctx.option("petition", "voters.place.petition"))
    options += [ctx.option("other", "voters.place.other_commune"), ctx.option("menu", "common.back_to_menu")]
    return Reply(text, tuple(options))


@flow.handle("place")
async def on_place(ctx: Ctx, answer: Answer) -> Next:
    draft = draft_of(ctx)
    if answer.choice == "menu":
        return END
    if answer.choice == "other":
        return "commune"
    if answer.choice == "attend" and draft.stop_id is not None:
        draft.purpose = "attend"
        return next_identity(ctx, "attend_confirm")
    if answer.choice == "unattend":  # the attendance is read again there (from any commune)
        return "unattend"
    if answer.choice == "petition":
        return start_petition(ctx)
    raise Invalid("common.choose_option")


# --- identity (skipped when known; the review shows it) ---------------------------------

FIELDS = {"name": "full_name", "phone": "phone", "address": "address"}


def known_value(ctx: Ctx, step: str) -> str | None:
    """The draft's value for an identity step, else the profile's."""
    field = FIELDS[step]
    value = getattr(draft_of(ctx), field) or getattr(ctx.citizen, field)
    return str(value) if value else None


def missing_identity(ctx: Ctx) -> str | None:
    """The first identity step still unanswered; a known answer is taken from the profile."""
    draft = draft_of(ctx)
    for step in ATTEND_IDENTITY if draft.purpose == "attend" else PETITION_IDENTITY:
        known = known_value(ctx, step)
        if not known:
            return step
        setattr(draft, FIELDS[step], known)
    return None


def next_identity(ctx: Ctx, then: str) -> str:
    """The first identity step still unanswered, or `then` (the review when editing)."""
    draft = draft_of(ctx)
    if draft.editing and draft.purpose == "petition":
        then = "review"
    return missing_identity(ctx) or then


def after_identity(ctx: Ctx) -> str:
    return next_identity(ctx, "attend_confirm" if draft_of(ctx).purpose == "attend" else "review")


def shown(ctx: Ctx, step: str, value: str) -> str:
    """A value as the voter reads it; a denouncer's saved one is not echoed (Luật Tố cáo, Art. 9)."""
    if ctx.citizen.denouncer and value == getattr(ctx.citizen, FIELDS[step]):
        return ctx.t("register.saved_hidden")
    return inputs.show_phone(value) if step == "phone" else value


IdentityParser = Callable[[Ctx, Answer], str]


def identity_step(step: str, parse: IdentityParser, *extra: tuple[str, str]) -> None:
    @flow.ask(step)
    async def ask(ctx: Ctx) -> Reply:
        options: list[Option] = []
        known = known_value(ctx, step)
        if known:
            if ctx.citizen.denouncer and known == getattr(ctx.citizen, FIELDS[step]):
                options.append(ctx.option("keep", "register.keep_saved"))
            else:
                options.append(ctx.option("keep", "register.keep", value=shown(ctx, step, known)))
        commune = draft_of(ctx).endpoint_name
        if commune:  # "my commune is my address"
            options += [ctx.option(payload, message, commune=commune) for payload, message in extra]
        phone_button = step == "phone" and ctx.capabilities.phone_request
        return Reply(
            ctx.t(f"voters.{step}.ask"),
            tuple(options),
            ask_phone=ctx.t("register.phone.share") if phone_button else "",
        )

    @flow.handle(step, text=True)
    async def handle(ctx: Ctx, answer: Answer) -> Next:
        draft = draft_of(ctx)
        known = known_value(ctx, step)
        if answer.choice == "keep" and known:
            value = known
        elif answer.choice == "commune" and draft.endpoint_name:
            value = draft.endpoint_name
        else:
            value = parse(ctx, answer)
            if step == "phone":
                ctx.say("register.phone.saved", phone=inputs.show_phone(value))
        setattr(draft, FIELDS[step], value)
        return after_identity(ctx)


identity_step("name", lambda ctx, answer: inputs.parse_name(answer.text))
identity_step("phone", lambda ctx, answer: inputs.parse_phone(answer.phone or answer.text))
identity_step(
    "address", lambda ctx, answer: inputs.parse_address(answer.text), ("commune", "voters.address.commune")
)


# --- attending ---------------------------------------------------------------------------


@flow.ask("attend_confirm")
async def ask_attend_confirm(ctx: Ctx) -> Reply | Next:
    draft = draft_of(ctx)
    found = await current_round(ctx)
    stop = found.stop(draft.stop_id) if found and draft.stop_id is not None else None
    if found is None or stop is None:
        return "place"
    assert draft.full_name and draft.phone  # next_identity asked for them
    text = ctx.t(
        "voters.attend.review",
        title=found.title,
        commune=stop.endpoint_name,
        address=stop.endpoint_address or "—",
        when=ctx.dt(stop.starts_at),
        name=shown(ctx, "name", draft.full_name),
        phone=shown(ctx, "phone", draft.phone),
    )
    if not stop.seats_left:
        text += "\n\n" + ctx.t("voters.attend.full")
    return Reply(
        text,
        (
            ctx.option("confirm", "voters.attend.confirm"),
            ctx.option("name", "voters.edit.name"),
            ctx.option("phone", "voters.edit.phone"),
            ctx.option("back", "voters.attend.not_now"),
        ),
    )


@flow.handle("attend_confirm")
async def on_attend_confirm(ctx: Ctx, answer: Answer) -> Next:
    draft = draft_of(ctx)
    if answer.choice in ("name", "phone"):
        setattr(draft, FIELDS[answer.choice], None)  # asked again, the saved value offered
        return answer.choice
    if answer.choice == "back":
        return "place"
    if answer.choice != "confirm":
        raise Invalid("common.choose_option")
    if draft.event_id is None or draft.stop_id is None or not draft.full_name or not draft.phone:
        return "place"
    try:
        attendance = await voters.attend(
            ctx.db, ctx.citizen, draft.stop_id, now=ctx.now, timing=ctx.settings.timing, tz=ctx.settings.tz
        )
    except DeadlinePassed as closed:
        ctx.say("voters.attend.closed", deadline=ctx.dt(closed.deadline))
        return "place"
    except (SessionNotOpen, NotFound):
        ctx.say("voters.round_cancelled")
        return "rounds"
    except AlreadyRegistered as already:
        ctx.say("voters.attend.already", code=already.code or "—")
        return "place"
    await remember(ctx)
    draft.sign_up_id = attendance.id
    waiting = attendance.status == SignUpStatus.WAITLISTED
    ctx.say("voters.attend.done_waitlisted" if waiting else "voters.attend.done", code=attendance.code)
    return "after_attend"


@flow.ask("after_attend")
async def ask_after_attend(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("voters.after_attend", deadline=deadline_shown(ctx)),
        (ctx.option("petition", "voters.place.petition"), ctx.option("menu", "common.back_to_menu")),
    )


@flow.handle("after_attend")
async def on_after_attend(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "petition":
        return start_petition(ctx)
    if answer.choice == "menu":
        return Goto("menu", data={})
    raise Invalid("common.choose_option")


@flow.ask("unattend")
async def ask_unattend(ctx: Ctx) -> Reply | Next:
    found = await current_round(ctx)
    if found is None or found.attendance is None:
        return "place"
    return Reply(
        ctx.t("voters.unattend.ask", code=found.attendance.code),
        (ctx.option("yes", "voters.unattend.yes"), ctx.option("no", "voters.unattend.no")),
    )


@flow.handle("unattend")
async def on_unattend(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        return "place"
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    found = await current_round(ctx)
    attendance = found.attendance if found else None
    stop = found.stop(attendance.event_endpoint_id) if found and attendance else None
    if attendance is None or stop is None or stop.starts_at <= ctx.now:
        ctx.say("voters.unattend.too_late")
        return "place"
    await registrations.cancel(ctx.db, attendance, now=ctx.now, actor=actor_of(ctx.citizen))
    draft_of(ctx).sign_up_id = None
    ctx.say("voters.unattend.done", code=attendance.code)
    return "place"


# --- a petition --------------------------------------------------------------------------


def start_petition(ctx: Ctx) -> str:
    """The petition's first step; a text kept from before (a round that closed meanwhile, or
    one sent and another begun) goes straight to the review."""
    draft = draft_of(ctx)
    draft.purpose = "petition"
    if draft.summary:
        draft.editing = True
        return next_identity(ctx, "review")
    return "case_type"


def deadline_shown(ctx: Ctx) -> str:
    """The round's petition deadline as read at the round's screen."""
    deadline = draft_of(ctx).deadline
    return ctx.dt(datetime.fromisoformat(deadline)) if deadline else "—"


def after(ctx: Ctx, natural_next: str) -> str:
    """Back to the review when the step was opened from it."""
    return "review" if draft_of(ctx).editing else natural_next


@flow.ask("case_type")
async def ask_case_type(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("petition.case_type.ask"),
        tuple(Option(kind.value, case_type_label(ctx, kind)) for kind in PETITION_TYPES),
    )


@flow.handle("case_type")
async def on_case_type(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in {kind.value for kind in PETITION_TYPES}:
        raise Invalid("common.choose_option")
    draft_of(ctx).case_type = answer.choice
    if answer.choice == CaseType.DENUNCIATION:
        ctx.say("register.case_type.denunciation_note")
    return after(ctx, "field")


@flow.ask("field")
async def ask_field(ctx: Ctx) -> Reply:
    codes = ctx.settings.case_field_codes
    return Reply(ctx.t("petition.field.ask"), tuple(Option(code, field_label(ctx, code)) for code in codes))


@flow.handle("field")
async def on_field(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in ctx.settings.case_field_codes:
        raise Invalid("common.choose_option")
    draft_of(ctx).field = answer.choice
    return after(ctx, "level")


@flow.ask("level")
async def ask_level(ctx: Ctx) -> Reply:
    levels = tuple(Option(level.value, level_label(ctx, level)) for level in AnswerLevel)
    return Reply(ctx.t("petition.level.ask"), (*levels, ctx.option("unknown", "petition.level.unknown")))


@flow.handle("level")
async def on_level(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "unknown":
        draft_of(ctx).level = ""
    elif answer.choice in {level.value for level in AnswerLevel}:
        draft_of(ctx).level = answer.choice
    else:
        raise Invalid("common.choose_option")
    return after(ctx, "text")


@flow.ask("text")
async def ask_text(ctx: Ctx) -> Reply:
    s = ctx.settings
    question = ctx.t(
        "petition.text.ask", min=ctx.t.number(s.summary_min_chars), max=ctx.t.number(s.summary_max_chars)
    )
    return summary.ask(ctx, question, draft_of(ctx).summary)


@flow.handle("text", text=True)
async def on_text(ctx: Ctx, answer: Answer) -> Next:
    draft = draft_of(ctx)
    done = summary.collect(ctx, answer, draft.summary)
    if done is None:
        return "text"  # more parts may follow
    draft.summary = done
    return after(ctx, "attachments")


def attachment_names(ctx: Ctx) -> str:
    return ", ".join(item["name"] for item in draft_of(ctx).attachments) or "—"


def go_on_label(ctx: Ctx) -> str:
    return "register.attachments.done" if draft_of(ctx).attachments else "register.attachments.skip"


@flow.ask("attachments")
async def ask_attachments(ctx: Ctx) -> Reply | Next:
    if not ctx.capabilities.file_uploads or not ctx.settings.max_attachments:
        return next_identity(ctx, "review")  # this channel cannot carry files
    files = draft_of(ctx).attachments
    s = ctx.settings
    go_on = ctx.option("done", go_on_label(ctx))
    text = ctx.t(
        "petition.attachments.ask",
        most=s.max_attachments,
        max_mb=int(s.max_attachment_mb),
        button=go_on.label,
    )
    options = [go_on]
    if files:
        text += "\n\n" + ctx.t("register.attachments.list", count=len(files), names=attachment_names(ctx))
        options.append(ctx.option("clear", "register.attachments.clear"))
    return Reply(text, tuple(options))


@flow.handle("attachments", files=True)
async def on_attachments(ctx: Ctx, answer: Answer) -> Next:
    draft = draft_of(ctx)
    if answer.choice == "done":
        return next_identity(ctx, "review")
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


# --- review and send ---------------------------------------------------------------------


@flow.ask("review")
async def ask_review(ctx: Ctx) -> Reply | Next:
    draft = draft_of(ctx)
    draft.editing = True
    if draft.event_id is None:
        return "rounds"
    missing = missing_identity(ctx)
    if missing:
        return missing
    if not draft.summary:
        return "text"
    if not draft.field:
        return "field"
    assert draft.full_name and draft.phone and draft.address
    text = ctx.t(
        "petition.review",
        title=draft.title,
        commune=draft.endpoint_name or ctx.t("voters.commune.unlisted_short"),
        how=ctx.t("petition.with_sign_up" if draft.sign_up_id else "petition.written"),
        case_type=case_type_label(ctx, draft.case_type),
        field=field_label(ctx, draft.field),
        level=level_label(ctx, draft.level or None),
        summary=draft.summary,
        attachments=attachment_names(ctx),
        name=shown(ctx, "name", draft.full_name),
        phone=shown(ctx, "phone", draft.phone),
        address=shown(ctx, "address", draft.address),
        deadline=deadline_shown(ctx),
    )
    return Reply(
        text,
        (
            ctx.option("confirm", "petition.confirm"),
            ctx.option("edit", "petition.edit"),
            ctx.option("cancel", "petition.discard"),
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
    return await send(ctx)


@flow.ask("edit")
async def ask_edit(ctx: Ctx) -> Reply:
    options = tuple(ctx.option(step, f"voters.edit.{step}") for step in EDITABLE)
    return Reply(ctx.t("petition.edit.ask"), (*options, ctx.option("review", "petition.edit.back")))


@flow.handle("edit", jumps=True)
async def on_edit(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "review":
        return "review"
    if answer.choice not in EDITABLE:
        raise Invalid("common.choose_option")
    if answer.choice == "attachments" and not ctx.capabilities.file_uploads:
        raise Invalid("petition.edit.no_files")
    return answer.choice


async def remember(ctx: Ctx) -> None:
    """Keep the identity given for the next time (the voter consented to its use)."""
    draft, citizen = draft_of(ctx), ctx.citizen
    address = draft.address or citizen.address
    if (draft.full_name, draft.phone, address) == (citizen.full_name, citizen.phone, citizen.address):
        return  # nothing new: no write
    ctx.citizen = await citizens.remember_identity(
        ctx.db,
        citizen,
        full_name=draft.full_name,
        phone=draft.phone,
        id_number=citizen.id_number,
        address=address,
    )


async def send(ctx: Ctx) -> Next:
    draft = draft_of(ctx)
    if draft.event_id is None or not draft.summary or not draft.full_name or not draft.phone:
        return "review"
    new = petitions.NewPetition(
        event_id=draft.event_id,
        endpoint_id=draft.endpoint_id,
        sign_up_id=draft.sign_up_id,
        full_name=draft.full_name,
        phone=draft.phone,
        address=draft.address or draft.endpoint_name,
        case_type=CaseType(draft.case_type),
        field=draft.field,
        level=AnswerLevel(draft.level) if draft.level else None,
        summary=draft.summary,
        attachments=list(draft.attachments),
    )
    try:
        petition = await petitions.add(
            ctx.db, ctx.citizen, new, now=ctx.now, timing=ctx.settings.timing, tz=ctx.settings.tz
        )
    except DeadlinePassed as closed:
        # The text is kept: another round may take it.
        ctx.say("petition.closed", deadline=ctx.dt(closed.deadline))
        return "rounds"
    except (SessionNotOpen, NotFound):
        ctx.say("voters.round_cancelled")
        return "rounds"
    await remember(ctx)
    # No name, phone or address here: a denouncer's identity is never echoed back.
    ctx.say("petition.done", code=petition.code, deadline=deadline_shown(ctx))
    for field in ("case_type", "field", "level", "summary", "attachments", "editing"):
        setattr(draft, field, getattr(VoterDraft(), field))
    return "after_petition"


@flow.ask("after_petition")
async def ask_after_petition(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("petition.after"),
        (
            ctx.option("more", "petition.more"),
            ctx.option("mine", "voters.my_petitions"),
            ctx.option("menu", "common.back_to_menu"),
        ),
    )


@flow.handle("after_petition")
async def on_after_petition(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "more":
        return start_petition(ctx)
    if answer.choice == "mine":
        return Goto("my_petitions", data={})
    if answer.choice == "menu":
        return Goto("menu", data={})
    raise Invalid("common.choose_option")
