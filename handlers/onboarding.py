"""First contact: language, privacy notice and an explicit consent choice.

Nothing personal is asked before consent; refusing ends politely and the
citizen can come back to the notice at any time.
"""

from __future__ import annotations

from bot.dialog.flow import Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from bot.i18n import SUPPORTED_LOCALES
from handlers import words
from storage import citizens
from storage.text import fold

flow = Flow("onboarding", first="language")


def language_options(ctx: Ctx) -> tuple[Option, ...]:
    return tuple(ctx.option(code, f"language.{code}") for code in SUPPORTED_LOCALES)


def named_locale(ctx: Ctx, answer: Answer) -> str | None:
    """A language pressed, or typed by its name ("English", "tieng viet"), at the notice."""
    if answer.choice in SUPPORTED_LOCALES:
        return answer.choice
    typed = fold(answer.text)
    return next((code for code in SUPPORTED_LOCALES if typed == fold(ctx.t(f"language.{code}"))), None)


async def set_locale(ctx: Ctx, locale: str) -> None:
    ctx.citizen = await citizens.set_locale(ctx.db, ctx.citizen, locale)
    ctx.t = ctx.settings.translator(locale)


@flow.ask("language")
async def ask_language(ctx: Ctx) -> Reply | Next:
    if ctx.citizen.locale:
        return "consent"
    return Reply(ctx.t("onboarding.welcome"), language_options(ctx))


@flow.handle("language")
async def on_language(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in SUPPORTED_LOCALES:
        raise Invalid("common.choose_option")
    await set_locale(ctx, answer.choice)
    return "consent"


@flow.ask("consent")
async def ask_consent(ctx: Ctx) -> Reply:
    notice = ctx.t("consent.notice", version=ctx.settings.consent_version, years=ctx.settings.retention_years)
    # The other languages too: one who mis-tapped need not consent in a language they cannot read.
    others = tuple(ctx.option(code, f"language.{code}") for code in SUPPORTED_LOCALES if code != ctx.t.locale)
    return Reply(
        notice + "\n\n" + ctx.t("consent.question"),  # the question only where it can be answered
        (ctx.option("agree", "consent.agree"), ctx.option("refuse", "consent.refuse"), *others),
    )


def typed_consent(text: str) -> str | None:
    """A typed answer to "do you agree?": "đồng ý", "ok", "không"; anything else is none."""
    if words.means(text, words.REFUSE):
        return "refuse"
    return "agree" if words.means(text, words.AGREE) else None


@flow.handle("consent")
async def on_consent(ctx: Ctx, answer: Answer) -> Next:
    if (locale := named_locale(ctx, answer)) is not None:
        await set_locale(ctx, locale)
        return "consent"  # the notice again, now in that language
    choice = answer.choice or typed_consent(answer.text)
    if choice == "agree":
        ctx.citizen = await citizens.give_consent(
            ctx.db, ctx.citizen, ctx.settings.consent_version, now=ctx.now
        )
        ctx.say("consent.thanks")
        return Goto("menu", data={})
    if choice == "refuse":
        citizens.refuse_consent(ctx.db, ctx.citizen, ctx.settings.consent_version, now=ctx.now)
        ctx.say("consent.refused")
        return "goodbye"
    raise Invalid("consent.choose")


@flow.ask("goodbye")
async def ask_goodbye(ctx: Ctx) -> Reply:
    return Reply(ctx.t("consent.come_back"), (ctx.option("again", "consent.review_again"),))


@flow.handle("goodbye")
async def on_goodbye(ctx: Ctx, answer: Answer) -> Next:
    # Whatever they send, show the notice again (in the language they name, if they name
    # one): consent is only ever a clear choice.
    if (locale := named_locale(ctx, answer)) is not None:
        await set_locale(ctx, locale)
    return "consent"
