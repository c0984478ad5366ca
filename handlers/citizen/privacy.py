"""Privacy and my data: see what is stored, delete it, withdraw consent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Reply
from handlers.citizen.questions import status_of
from handlers.citizen.views import registration_details
from handlers.citizen.voter_views import petition_details
from handlers.inputs import show_phone
from storage import audit, citizens, hearing_questions, petitions, registrations, voters
from storage.registrations import CitizenRegistration
from storage.text import mask_name

PETITIONS_SHOWN = 500  # every one a voter could have sent, in practice

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
    """Everything stored about the citizen: identity, each registration and each petition with
    what came with it, and when they consented. A denouncer's identity is not shown again in the chat (a
    shared phone would reveal it): they are told to ask the Office."""
    citizen = ctx.citizen
    own = await registrations.list_own(ctx.db, citizen.id, ctx.settings.summary_lead_days)
    attending = await voters.attendances_of(ctx.db, citizen.id)
    secret = citizen.denouncer
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=citizens.actor_of(citizen),
        action="citizen.view_own_data",
        target_type="citizen",
        target_id=citizen.id,
    )
    kept = ctx.t("privacy.data.kept_secret")
    ctx.say(
        "privacy.data",
        name=(mask_name(citizen.full_name or "") if secret else citizen.full_name) or "—",
        phone=kept if secret else show_phone(citizen.phone) if citizen.phone else "—",
        id_number=kept if secret else citizen.id_number or "—",
        address=kept if secret else citizen.address or "—",
        locale=ctx.t(f"language.{citizen.locale or ctx.t.locale}"),
        registrations=len(own) + len(attending),
    )
    for registration in own:
        ctx.say_text(
            registration_details(ctx, registration, denouncer=secret)
            + "\n"
            + came_with(ctx, registration, secret)
        )
    for attendance in attending:  # voter contact: a seat without a case
        ctx.say(
            "privacy.data.attendance",
            code=attendance.code,
            status=ctx.t(f"registration.status.{attendance.status.value}"),
            title=attendance.title,
            endpoint=attendance.endpoint_name,
            when=ctx.dt(attendance.starts_at),
        )
    for petition in await petitions.list_own(ctx.db, citizen.id, ctx.settings.timing, limit=PETITIONS_SHOWN):
        came = ctx.t(
            "privacy.data.petition_came_with",
            phone=ctx.t("privacy.data.kept_secret")
            if secret
            else show_phone(petition.phone)
            if petition.phone
            else "—",
            address=ctx.t("privacy.data.kept_secret") if secret else petition.address or "—",
        )
        ctx.say_text(petition_details(ctx, petition, denouncer=secret) + "\n" + came)
    for question in await hearing_questions.own(
        ctx.db, citizen.id, ctx.settings.timing, limit=PETITIONS_SHOWN
    ):
        ctx.say(
            "privacy.data.question",
            code=question.code,
            title=question.title,
            topic=question.topic_title or "—",
            status=status_of(ctx, question),
            text=question.summary,
            name=kept if secret else question.full_name or "—",
            phone=kept if secret else show_phone(question.phone) if question.phone else "—",
        )
    ctx.say_text(await consent_history(ctx))
    if secret:
        ctx.say("privacy.data.ask_the_office")


def came_with(ctx: Ctx, registration: CitizenRegistration, secret: bool) -> str:
    """What the citizen gave with one registration, besides what registration_details shows."""
    files = ", ".join(item.get("name") or "—" for item in registration.attachments) or "—"
    if secret:
        return ctx.t("privacy.data.came_with_secret", files=len(registration.attachments))
    return ctx.t(
        "privacy.data.came_with",
        phone=show_phone(registration.phone) if registration.phone else "—",
        id_number=registration.id_number or "—",
        address=registration.address or "—",
        representatives=", ".join(registration.representatives) or "—",
        files=files,
    )


async def consent_history(ctx: Ctx) -> str:
    lines = [
        ctx.t(f"privacy.data.{event.action}", when=ctx.dt(event.at), version=event.version or "—")
        for event in await audit.consents(ctx.db, citizens.actor_of(ctx.citizen))
    ]
    return ctx.t("privacy.data.consents", lines="\n".join(lines) or "—")


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
    ctx.citizen = await citizens.record(ctx.db, ctx.citizen.id)  # consent gone, maybe identity too
    done = ctx.t(done_message)
    if cancelled:  # nothing said of registrations when there were none
        done += " " + ctx.t("privacy.cancelled_count", cancelled=cancelled)
    ctx.say_text(done)
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
