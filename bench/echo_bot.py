"""The bare aiogram echo bot the benchmarks compare with: every text echoed, every button
acknowledged. Run as a process of its own it imports aiogram and nothing of tiepdan, so its
memory is aiogram's own:

    python -m bench.echo_bot TOKEN API_BASE
"""

from __future__ import annotations

import asyncio
import sys

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, Message


def echo_dispatcher() -> Dispatcher:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "…")

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()

    return dp


async def main(token: str, api_base: str) -> None:
    """Poll until SIGTERM or SIGINT."""
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base.rstrip("/"))))
    await echo_dispatcher().start_polling(bot, polling_timeout=1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
