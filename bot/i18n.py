"""Message catalogs (`locales/<lang>/LC_MESSAGES/messages.po`, read with Babel).

Messages are looked up by a symbolic id (`menu.register`) and formatted with
named fields (`{code}`). Vietnamese is the default; every id must exist in
every catalog (a test checks it), so a missing translation is a test failure,
not a surprise in chat.
"""

from __future__ import annotations

import sys
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal


def _locales_dir() -> Path:
    """The catalogs of the source tree (a checkout, an editable install), else those that
    `pip install .` put under the environment's share/ (pyproject's data-files)."""
    source = Path(__file__).resolve().parent.parent / "locales"
    installed = Path(sys.prefix) / "share" / "tiepdan" / "locales"
    return source if source.is_dir() or not installed.is_dir() else installed


LOCALES_DIR = _locales_dir()
SUPPORTED_LOCALES = ("vi", "en")
DATETIME_PATTERN = "EEEE, dd/MM/yyyy HH:mm"


class MissingMessage(KeyError):
    """A message id used in code but absent from a catalog."""


@cache
def load_catalog(locale: str) -> dict[str, str]:
    path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    messages: dict[str, str] = {}
    for message in catalog:
        if message.id and isinstance(message.id, str) and isinstance(message.string, str):
            messages[message.id] = message.string
    return messages


def normalize_locale(code: str | None, default: str = "vi") -> str:
    """Map a platform language code (`en-US`, `vi`) to a supported locale."""
    if not code:
        return default
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in SUPPORTED_LOCALES else default


class Translator:
    """Messages and dates in one locale and time zone."""

    def __init__(self, locale: str, tz: ZoneInfo) -> None:
        if locale not in SUPPORTED_LOCALES:
            raise ValueError(f"unsupported locale {locale!r}")
        self.locale = locale
        self.tz = tz
        self._messages = load_catalog(locale)

    def __call__(self, message_id: str, **fields: Any) -> str:
        try:
            template = self._messages[message_id]
        except KeyError:
            raise MissingMessage(f"{message_id!r} is missing from the {self.locale} catalog") from None
        if not template:
            raise MissingMessage(f"{message_id!r} is untranslated in the {self.locale} catalog")
        return template.format(**fields)

    def number(self, value: int) -> str:
        """A count as the locale writes it: `100.000` in Vietnamese, `100,000` in English."""
        return str(format_decimal(value, locale=self.locale))

    def datetime(self, moment: datetime) -> str:
        """`Thứ Sáu, 27/11/2026 08:00` in the configured time zone."""
        return format_datetime(moment.astimezone(self.tz), DATETIME_PATTERN, locale=self.locale)
