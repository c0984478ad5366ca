"""Message catalogs (`locales/<lang>/LC_MESSAGES/*.po`, read with Babel).

Each area keeps its own catalog file (`messages.po` for reception and the common texts,
`voter.po` for voter contact, …); a locale's messages are all of its files, and an id
given twice is an error.

Messages are looked up by a symbolic id (`menu.register`) and formatted with
named fields (`{code}`). The office's own name, province, hotline, address and data
controller (OFFICE_* settings, `Office`) are fields of every message: a catalog names the
office with `{office_name}`, and no call site passes it. Vietnamese is the default; every
id must exist in every catalog (a test checks it), so a missing translation is a test
failure, not a surprise in chat.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
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
    messages: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
        for message in catalog:
            if message.id and isinstance(message.id, str) and isinstance(message.string, str):
                if message.id in messages:
                    raise ValueError(f"{path}: message {message.id!r} is also in another catalog")
                messages[message.id] = message.string
    return messages


def normalize_locale(code: str | None, default: str = "vi") -> str:
    """Map a platform language code (`en-US`, `vi`) to a supported locale."""
    if not code:
        return default
    base = code.replace("_", "-").split("-")[0].lower()
    return base if base in SUPPORTED_LOCALES else default


@dataclass(frozen=True)
class Office:
    """The office's own names (settings); each empty one is the catalog's wording of today."""

    name: str = ""  # "Văn phòng Đoàn ĐBQH và HĐND tỉnh Quảng Ngãi"
    province: str = ""  # "tỉnh Quảng Ngãi", "thành phố Hà Nội"
    hotline: str = ""
    address: str = ""
    data_controller: str = ""  # named in the privacy notice; the office when empty


@cache
def office_fields(locale: str, office: Office) -> dict[str, str]:
    """The fields every message of `locale` may use to name the office. A hotline, an address
    or a data controller the settings do not give adds no line: the texts stay as they were."""
    messages = load_catalog(locale)
    province = office.province or messages["office.province"]
    name = office.name or messages["office.name"].format(province=province)
    named = bool(office.name or office.province or office.data_controller)
    controller = office.data_controller or (name if named else messages["office.data_controller"])
    contact = []
    if office.hotline:
        contact.append(messages["office.hotline"].format(hotline=office.hotline))
    if office.address:
        contact.append(messages["office.address"].format(address=office.address))
    controller_line = messages["office.controller_line"].format(controller=controller) if named else ""
    return {
        "office_name": name,
        "office_name_upper": name.upper(),
        "office_province": province,
        "office_province_upper": province.upper(),
        "data_controller": controller,
        "data_controller_line": f"\n{controller_line}" if controller_line else "",
        "office_contact": "".join(f"\n{line}" for line in contact),
        "office_hotline": office.hotline,
        "office_address": office.address,
    }


class Translator:
    """Messages and dates in one locale and time zone, for one office."""

    def __init__(self, locale: str, tz: ZoneInfo, office: Office | None = None) -> None:
        if locale not in SUPPORTED_LOCALES:
            raise ValueError(f"unsupported locale {locale!r}")
        self.locale = locale
        self.tz = tz
        self.office = office or Office()
        self._messages = load_catalog(locale)
        self._office_fields = office_fields(locale, self.office)

    @property
    def office_fields(self) -> dict[str, str]:
        return dict(self._office_fields)

    def in_locale(self, locale: str) -> Translator:
        """This translator's time zone and office, in `locale`."""
        return self if locale == self.locale else Translator(locale, self.tz, self.office)

    def __call__(self, message_id: str, **fields: Any) -> str:
        try:
            template = self._messages[message_id]
        except KeyError:
            raise MissingMessage(f"{message_id!r} is missing from the {self.locale} catalog") from None
        if not template:
            raise MissingMessage(f"{message_id!r} is untranslated in the {self.locale} catalog")
        return template.format(**(self._office_fields | fields))

    def number(self, value: int) -> str:
        """A count as the locale writes it: `100.000` in Vietnamese, `100,000` in English."""
        return str(format_decimal(value, locale=self.locale))

    def datetime(self, moment: datetime) -> str:
        """`Thứ Sáu, 27/11/2026 08:00` in the configured time zone."""
        return format_datetime(moment.astimezone(self.tz), DATETIME_PATTERN, locale=self.locale)
