"""Upcoming sessions, for anyone who wants to know when and where."""

from __future__ import annotations

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Reply
from storage import sessions
from storage.rules import is_open_for_registration, summary_deadline

flow = Flow("sessions", first="list")


@flow.ask("list")
async def ask_list(ctx: Ctx) -> Reply:
    lead_days = ctx.settings.summary_lead_days
    upcoming = await sessions.upcoming(ctx.db, ctx.now, lead_days)
    options = (ctx.option("register", "menu.register"), ctx.option("menu", "common.back_to_menu"))
    if not upcoming:
        return Reply(ctx.t("sessions.none"), options)
    blocks = []
    for session in upcoming:
        state = (
            "sessions.open" if is_open_for_registration(session, ctx.now, lead_days) else "sessions.closed"
        )
        blocks.append(
            ctx.t(
                "sessions.item",
                title=session.title,
                when=ctx.dt(session.starts_at),
                endpoints=len(session.seats),
                deadline=ctx.dt(summary_deadline(session.starts_at, lead_days)),
                state=ctx.t(state),
            )
        )
    return Reply(ctx.t("sessions.title") + "\n\n" + "\n\n".join(blocks), options)


@flow.handle("list")
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "register":
        return Goto("register", data={})
    if answer.choice == "menu":
        return END
    raise Invalid("common.choose_option")
