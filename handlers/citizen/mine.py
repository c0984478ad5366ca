"""My registrations: list, view, edit the summary before the deadline, cancel."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers.citizen import summary
from handlers.citizen.views import citizen_status, registration_details
from storage import registrations
from storage.citizens import actor_of
from storage.errors import DeadlinePassed, NotFound, SessionNotOpen
from storage.models import SignUpStatus
from storage.registrations import CitizenRegistration
from storage.rules import is_open_for_registration


@dataclass
class MineDraft(summary.SummaryDraft):
    reg_id: int | None = None  # the registration looked at


flow = Flow("mine", first="list", draft=MineDraft)

LIST_LIMIT = 10


async def current(ctx: Ctx) -> CitizenRegistration:
    reg_id = MineDraft.of(ctx).reg_id
    if reg_id is None:
        raise Invalid("mine.not_found")
    try:
        return await registrations.own_registration(
            ctx.db, ctx.citizen.id, int(reg_id), ctx.settings.summary_lead_days
        )
    except NotFound:
        raise Invalid("mine.not_found") from None


@flow.ask("list")
async def ask_list(ctx: Ctx) -> Reply:
    own = (await registrations.list_own(ctx.db, ctx.citizen.id, ctx.settings.summary_lead_days))[:LIST_LIMIT]
    if not own:
        return Reply(
            ctx.t("mine.none"),
            (ctx.option("register", "menu.register"), ctx.option("menu", "common.back_to_menu")),
        )
    options = [
        Option(
            f"r:{registration.id}",
            ctx.t(
                "mine.option",
                code=registration.code,
                when=ctx.dt(registration.seat.starts_at),
                status=citizen_status(ctx, registration),
            ),
        )
        for registration in own
    ]
    return Reply(ctx.t("mine.ask"), (*options, ctx.option("menu", "common.back_to_menu")))


@flow.handle("list")
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "menu":
        return END
    if answer.choice == "register":
        return Goto("register", data={})
    if answer.choice and answer.choice.startswith("r:"):
        MineDraft.of(ctx).reg_id = int(answer.choice[2:])
        return "view"
    raise Invalid("common.choose_option")


def can_change(ctx: Ctx, registration: CitizenRegistration) -> bool:
    return registration.status != SignUpStatus.CANCELLED and is_open_for_registration(
        registration.seat, ctx.now, ctx.settings.summary_lead_days
    )


@flow.ask("view")
async def ask_view(ctx: Ctx) -> Reply:
    registration = await current(ctx)
    options = []
    if can_change(ctx, registration):
        options.append(ctx.option("edit", "mine.edit_summary"))
    if registration.status != SignUpStatus.CANCELLED and registration.seat.starts_at > ctx.now:
        options.append(ctx.option("cancel", "mine.cancel"))
    options.append(ctx.option("list", "mine.back_to_list"))
    denouncer = ctx.citizen.denouncer
    text = registration_details(ctx, registration, denouncer=denouncer)
    if registration.status != SignUpStatus.CANCELLED and not can_change(ctx, registration):
        text += "\n\n" + ctx.t("mine.locked")
    return Reply(text, tuple(options))


@flow.handle("view")
async def on_view(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "list":
        return "list"
    if answer.choice == "edit":
        summary.forget(ctx)  # the draft starts again from this registration's summary
        return "edit_summary"
    if answer.choice == "cancel":
        return "cancel_confirm"
    raise Invalid("common.choose_option")


@flow.ask("edit_summary")
async def ask_edit_summary(ctx: Ctx) -> Reply:
    s = ctx.settings
    question = ctx.t(
        "mine.edit_summary.ask", min=ctx.t.number(s.summary_min_chars), max=ctx.t.number(s.summary_max_chars)
    )
    return summary.ask(ctx, question, (await current(ctx)).summary)


@flow.handle("edit_summary", text=True)
async def on_edit_summary(ctx: Ctx, answer: Answer) -> Next:
    registration = await current(ctx)
    saved = registration.summary
    new = summary.collect(ctx, answer, saved)
    if new is None:
        return "edit_summary"  # more parts may follow
    if new == saved:  # kept as it was
        return "view"
    s = ctx.settings
    try:
        await registrations.edit_summary(
            ctx.db,
            ctx.citizen,
            registration.id,
            new,
            now=ctx.now,
            lead_days=s.summary_lead_days,
        )
    except DeadlinePassed as closed:
        ctx.say("mine.deadline_passed", deadline=ctx.dt(closed.deadline))
        return "view"
    except (SessionNotOpen, NotFound):
        ctx.say("mine.cannot_change")
        return "view"
    ctx.say("mine.summary_saved")
    return "view"


@flow.ask("cancel_confirm")
async def ask_cancel(ctx: Ctx) -> Reply:
    registration = await current(ctx)
    if registration.status == SignUpStatus.WAITLISTED:  # it holds no seat to pass on
        message = "mine.cancel.ask_waitlisted"
    elif await registrations.has_waiting_list(ctx.db, registration.session_endpoint_id):
        message = "mine.cancel.ask"  # the seat goes to the first who waits
    else:
        message = "mine.cancel.ask_seat_freed"
    return Reply(
        ctx.t(message, code=registration.code),
        (ctx.option("yes", "mine.cancel.yes"), ctx.option("no", "mine.cancel.no")),
    )


@flow.handle("cancel_confirm")
async def on_cancel(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        return "view"
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    registration = await current(ctx)
    if registration.seat.starts_at <= ctx.now:
        ctx.say("mine.cannot_change")
        return "view"
    await registrations.cancel(ctx.db, registration, now=ctx.now, actor=actor_of(ctx.citizen))
    ctx.say("mine.cancelled", code=registration.code)
    return "list"
