"""The bot's command menu: citizens' commands for everyone, per language, and in a staff
member's own chat their staff commands too.

Set for everyone at start; set again for one user when their role changes (a Reply with
`staff_menu`: they joined the staff, or their access was revoked).
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BotCommand, BotCommandScopeChat

from bot.app import App
from bot.channels.telegram.mapping import CHANNEL
from bot.i18n import SUPPORTED_LOCALES, Translator
from storage import staff
from storage.identity import UserKey

log = logging.getLogger(__name__)

# (command, message id of its description) per locale; names are Telegram-safe ASCII.
COMMANDS = {
    "vi": [
        ("start", "commands.start"),
        ("menu", "commands.menu"),
        ("huy", "commands.cancel"),
        ("trogiup", "commands.help"),
        ("ngonngu", "commands.language"),
    ],
    "en": [
        ("start", "commands.start"),
        ("menu", "commands.menu"),
        ("cancel", "commands.cancel"),
        ("help", "commands.help"),
        ("language", "commands.language"),
    ],
}


def citizen_commands(t: Translator) -> list[BotCommand]:
    return [BotCommand(command=name, description=t(message)) for name, message in COMMANDS[t.locale]]


def staff_commands(t: Translator, names: tuple[str, ...]) -> list[BotCommand]:
    return citizen_commands(t) + [
        BotCommand(command=name, description=t(f"staff.command.{name}").split(" — ", 1)[-1]) for name in names
    ]


class Menus:
    def __init__(self, bot: Bot, app: App) -> None:
        self.bot = bot
        self.app = app

    async def set_all(self) -> None:
        """At start: the citizens' menu, and each staff member's own."""
        settings = self.app.settings
        for locale in SUPPORTED_LOCALES:
            commands = citizen_commands(settings.translator(locale))
            await self.bot.set_my_commands(commands, language_code=locale)
            if locale == settings.default_locale:
                await self.bot.set_my_commands(commands)  # for every other language
        admins = settings.admin_keys
        actors = {key.user_id: staff.actor_from(key, admins, None, None, None) for key in admins}
        async with self.app.sessions() as db:
            for member in await staff.list_staff(db):
                if member.channel == CHANNEL:
                    scope = None if member.endpoint_ids is None else list(member.endpoint_ids)
                    actors[member.user_id] = staff.actor_from(
                        member.key,
                        admins,
                        member.role,
                        scope,
                        member.see_denouncers,
                        agency_id=member.agency_id,
                        delegate=member.delegate,
                    )
        for user_id, actor in actors.items():
            if actor.key.channel == CHANNEL:
                await self._set_chat(user_id, actor)

    async def refresh(self, user_id: str) -> None:
        """After a role change: the user's chat menu as their role now is."""
        async with self.app.sessions() as db:
            actor = await staff.actor_for(db, UserKey(CHANNEL, user_id), self.app.settings.admin_keys)
        await self._set_chat(user_id, actor)

    async def _set_chat(self, user_id: str, actor: staff.Actor) -> None:
        """Staff (and liaisons, delegates) get their commands in their own chat; without any
        the chat falls back to the citizens' menu."""
        if not user_id.isdecimal():
            return
        scope = BotCommandScopeChat(chat_id=int(user_id))
        for locale in SUPPORTED_LOCALES:
            try:
                if not actor.has_home:
                    await self.bot.delete_my_commands(scope=scope, language_code=locale)
                else:
                    commands = staff_commands(
                        self.app.settings.translator(locale), self.app.staff_commands(actor)
                    )
                    await self.bot.set_my_commands(commands, scope=scope, language_code=locale)
            except TelegramBadRequest as error:  # never wrote to the bot: no chat yet
                log.info("no staff menu for telegram:%s: %s", user_id, error.message)
                return
