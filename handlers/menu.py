"""Main menu, help and language."""

from __future__ import annotations

from bot.dialog.flow import END, Answer, Ctx, Flow, Goto, Invalid, Next
from bot.dialog.types import Reply
from bot.i18n import SUPPORTED_LOCALES
from handlers import words
from handlers.onboarding import language_options, set_locale

MENU_ITEMS = ("register", "mine", "sessions", "voters", "questions", "privacy", "help", "language")

menu = Flow("menu", first="main")
help_flow = Flow("help", first="show")
language = Flow("language", first="choose")


@menu.ask("main")
async def ask_menu(ctx: Ctx) -> Reply:
    items = tuple(ctx.option(item, f"menu.{item}") for item in MENU_ITEMS)
    if ctx.resumes:  # left in the middle by /menu: kept, and said so
        text = ctx.t("menu.kept", resume=ctx.t("common.resume")) + "\n\n" + ctx.t("menu.title")
        return Reply(text, (ctx.option("resume", "common.resume"), *items))
    return Reply(ctx.t("menu.title"), items)


@menu.handle("main")
async def on_menu(ctx: Ctx, answer: Answer) -> Next:
    # "đăng ký" starts two items; it is what people type to register.
    choice = "register" if words.means(answer.text, words.REGISTER) else answer.choice
    if choice == "resume" and ctx.resumes:
        return END  # back to what was kept (RESUME)
    if choice in MENU_ITEMS:
        return Goto(choice, data={})
    raise Invalid("menu.unknown")


@help_flow.ask("show")
async def ask_help(ctx: Ctx) -> Reply:
    choices = ctx.t("help.choices_numbered" if ctx.capabilities.numbers_answer else "help.choices_buttons")
    text = ctx.t("help.text", days=ctx.settings.summary_lead_days, choices=choices)
    back = "common.resume" if ctx.resumes else "common.back_to_menu"
    return Reply(text, (ctx.option("menu", back),))


@help_flow.handle("show")
async def on_help(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "menu":
        return END
    raise Invalid("common.choose_option")


@language.ask("choose")
async def ask_language(ctx: Ctx) -> Reply:
    return Reply(ctx.t("language.ask"), language_options(ctx))


@language.handle("choose")
async def on_language(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in SUPPORTED_LOCALES:
        raise Invalid("common.choose_option")
    await set_locale(ctx, answer.choice)
    ctx.say("language.changed")
    return END
