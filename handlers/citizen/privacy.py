"""Privacy and my data: see what is stored, delete it, withdraw consent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import func, select

from bot.dialog.types import Reply
from handlers.base import END, Answer, Ctx, Flow, Goto, Invalid, Next
from storage import audit, citizens
from storage.models import Registration

flow = Flow("privacy", first="menu")


@flow.ask("menu")
async def ask_menu(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t(
            "privacy.menu",
            version=ctx.citizen.consent_version or "—",
            at=ctx.dt(ctx.citizen.consent_at) if ctx.citizen.consent_at else "—",
        ),
        (
            ctx.option("show", "privacy.show"),
            ctx.option("notice", "privacy.notice"),
            ctx.option("delete", "privacy.delete"),
            ctx.option("withdraw", "privacy.withdraw"),
            ctx.option("menu", "common.back_to_menu"),
        ),
    )


@flow.handle("menu")
async def on_menu(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "show":
        await show_data(ctx)
        return "menu"
    if answer.choice == "notice":
        ctx.say("consent.notice", version=ctx.settings.consent_version, years=ctx.settings.retention_years)
        return "menu"
    if answer.choice in ("delete", "withdraw"):
        return f"{answer.choice}_confirm"
    if answer.choice == "menu":
        return END
    raise Invalid("common.choose_option")


async def show_data(ctx: Ctx) -> None:
    citizen = ctx.citizen
    count = await ctx.db.scalar(
        select(func.count()).select_from(Registration).where(Registration.citizen_id == citizen.id)
    )
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=citizens.actor_of(citizen),
        action="citizen.view_own_data",
        target_type="citizen",
        target_id=citizen.id,
    )
    ctx.say(
        "privacy.data",
        name=citizen.full_name or "—",
        phone=citizen.phone or "—",
        id_number=citizen.id_number or "—",
        address=citizen.address or "—",
        locale=ctx.t(f"language.{citizen.locale or ctx.t.locale}"),
        registrations=count or 0,
    )


@flow.ask("delete_confirm")
async def ask_delete(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("privacy.delete.ask"),
        (ctx.option("yes", "privacy.delete.yes"), ctx.option("no", "common.no_keep")),
    )


@flow.handle("delete_confirm")
async def on_delete(ctx: Ctx, answer: Answer) -> Next:
    return await confirmed(ctx, answer, citizens.anonymise, "privacy.deleted")


async def confirmed(ctx: Ctx, answer: Answer, act: Callable[..., Awaitable[int]], done_message: str) -> Next:
    """After "are you sure?": act on yes, back on no; either way nothing half-done."""
    if answer.choice == "no":
        return "menu"
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    cancelled = await act(ctx.db, ctx.citizen, now=ctx.now)
    ctx.say(done_message, cancelled=cancelled)
    return Goto("onboarding", "goodbye", data={})


@flow.ask("withdraw_confirm")
async def ask_withdraw(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("privacy.withdraw.ask"),
        (ctx.option("yes", "privacy.withdraw.yes"), ctx.option("no", "common.no_keep")),
    )


@flow.handle("withdraw_confirm")
async def on_withdraw(ctx: Ctx, answer: Answer) -> Next:
    return await confirmed(ctx, answer, citizens.withdraw_consent, "privacy.withdrawn")
