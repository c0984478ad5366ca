"""My petitions (kiến nghị của tôi): list, read, change the text or withdraw one until its
round's petition deadline. Reached from "Tiếp xúc cử tri" and after a petition is sent;
reception registrations stay in "mine"."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers.citizen import summary
from handlers.citizen.voter_views import petition_details, petition_status
from storage import petitions
from storage.errors import DeadlinePassed, NotFound, SessionNotOpen
from storage.models import SubmissionStatus
from storage.petitions import Petition
from storage.rules import OPEN_STATUSES


@dataclass
class PetitionsDraft(summary.SummaryDraft):
    petition_id: int | None = None  # the petition looked at


flow = Flow("my_petitions", first="list", draft=PetitionsDraft)

LIST_LIMIT = 10


async def current(ctx: Ctx) -> Petition:
    petition_id = PetitionsDraft.of(ctx).petition_id
    if petition_id is None:
        raise Invalid("petitions.not_found")
    try:
        return await petitions.own(ctx.db, ctx.citizen.id, petition_id, ctx.settings.timing)
    except NotFound:
        raise Invalid("petitions.not_found") from None


@flow.ask("list")
async def ask_list(ctx: Ctx) -> Reply:
    own = await petitions.list_own(ctx.db, ctx.citizen.id, ctx.settings.timing, limit=LIST_LIMIT)
    new = ctx.option("new", "petitions.new")
    back = ctx.option("menu", "common.back_to_menu")
    if not own:
        return Reply(ctx.t("petitions.none"), (new, back))
    options = [
        Option(
            f"p:{petition.id}",
            ctx.t(
                "petitions.option",
                code=petition.code,
                status=petition_status(ctx, petition, petition.changeable(ctx.now)),
            ),
        )
        for petition in own
    ]
    return Reply(ctx.t("petitions.ask"), (*options, new, back))


@flow.handle("list")
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "menu":
        return END
    if answer.choice == "new":
        return Goto("voters", data={})
    if answer.choice and answer.choice.startswith("p:") and answer.choice[2:].isdecimal():
        PetitionsDraft.of(ctx).petition_id = int(answer.choice[2:])
        return "view"
    raise Invalid("common.choose_option")


@flow.ask("view")
async def ask_view(ctx: Ctx) -> Reply:
    petition = await current(ctx)
    options = []
    if petition.changeable(ctx.now):
        options += [ctx.option("edit", "petitions.edit"), ctx.option("withdraw", "petitions.withdraw")]
    options.append(ctx.option("list", "petitions.back_to_list"))
    return Reply(petition_details(ctx, petition, denouncer=ctx.citizen.denouncer), tuple(options))


@flow.handle("view")
async def on_view(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "list":
        return "list"
    if answer.choice == "edit":
        summary.forget(ctx)  # the draft starts again from this petition's text
        return "edit_text"
    if answer.choice == "withdraw":
        return "withdraw"
    raise Invalid("common.choose_option")


def refused(ctx: Ctx, error: Exception) -> Next:
    """A change that came too late, or to a petition no longer active."""
    if isinstance(error, DeadlinePassed):
        ctx.say("petitions.closed", deadline=ctx.dt(error.deadline))
    else:
        ctx.say("petitions.cannot_change")
    return "view"


def unchangeable(ctx: Ctx, petition: Petition) -> Next | None:
    """Back to the view, saying why, when a button pressed on a view shown in time asks to
    change a petition that can no longer be changed (no question asked about it)."""
    if petition.changeable(ctx.now):
        return None
    if petition.status == SubmissionStatus.ACTIVE and petition.event_status in OPEN_STATUSES:
        return refused(ctx, DeadlinePassed(petition.deadline, None))
    return refused(ctx, SessionNotOpen(petition.code))


@flow.ask("edit_text")
async def ask_edit_text(ctx: Ctx) -> Reply | Next:
    if (back := unchangeable(ctx, await current(ctx))) is not None:
        return back
    s = ctx.settings
    question = ctx.t(
        "petitions.edit_text.ask",
        min=ctx.t.number(s.summary_min_chars),
        max=ctx.t.number(s.summary_max_chars),
    )
    return summary.ask(ctx, question, (await current(ctx)).summary)


@flow.handle("edit_text", text=True)
async def on_edit_text(ctx: Ctx, answer: Answer) -> Next:
    petition = await current(ctx)
    new = summary.collect(ctx, answer, petition.summary)
    if new is None:
        return "edit_text"  # more parts may follow
    if new == petition.summary:  # kept as it was
        return "view"
    try:
        await petitions.edit_text(
            ctx.db, ctx.citizen, petition.id, new, now=ctx.now, timing=ctx.settings.timing
        )
    except (DeadlinePassed, SessionNotOpen, NotFound) as error:
        return refused(ctx, error)
    ctx.say("petitions.text_saved", code=petition.code)
    return "view"


@flow.ask("withdraw")
async def ask_withdraw(ctx: Ctx) -> Reply | Next:
    petition = await current(ctx)
    if (back := unchangeable(ctx, petition)) is not None:
        return back
    return Reply(
        ctx.t("petitions.withdraw.ask", code=petition.code),
        (ctx.option("yes", "petitions.withdraw.yes"), ctx.option("no", "petitions.withdraw.no")),
    )


@flow.handle("withdraw")
async def on_withdraw(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        return "view"
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    petition_id = PetitionsDraft.of(ctx).petition_id
    if petition_id is None:
        return "list"
    try:
        await petitions.withdraw(ctx.db, ctx.citizen, petition_id, now=ctx.now, timing=ctx.settings.timing)
    except (DeadlinePassed, SessionNotOpen, NotFound) as error:
        return refused(ctx, error)
    ctx.say("petitions.withdrawn")
    return "list"
