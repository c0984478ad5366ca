"""The Telegram channel, on aiogram: imported here with its types built when first used
(lazy_types.py), before any module of the channel imports it."""

from bot.channels.telegram.lazy_types import import_aiogram

import_aiogram()
