"""Catalogs: every message the code uses exists in Vietnamese and English, alike in placeholders."""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import SUPPORTED_LOCALES, MissingMessage, Translator, load_catalog
from bot.settings import Settings
from handlers.citizen.register import EDITABLE, IDENTITY_STEPS
from handlers.citizen.voters import EDITABLE as PETITION_EDITABLE
from handlers.citizen.voters import PETITION_IDENTITY
from handlers.menu import MENU_ITEMS
from handlers.staff.access import ADMIN_COMMANDS, DELEGATE_COMMANDS, OFFICER_COMMANDS
from storage.audit import CONSENT_ACTIONS
from storage.broadcasts import AUDIENCES
from storage.models import (
    AnswerLevel,
    CaseType,
    EventKind,
    EventStatus,
    SignUpStatus,
    StaffRole,
    SubmissionStatus,
)
from storage.outbox import NoticeKind
from storage.review import ROUTES

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("bot", "handlers")
VN = ZoneInfo("Asia/Ho_Chi_Minh")

ID = r"[a-z_]+\.[a-z_.]*[a-z_]"  # menu.register, register.edit.back
# A plain (not f-, b- or r-) string literal that looks like a message id.
ID_LITERAL = re.compile(rf"""(?<![\w"'])(["'])({ID})\1""")
# Places where a literal is certainly a message id, found or not in any catalog.
MESSAGE_POSITIONS = [
    re.compile(rf"""\bt\(\s*["']({ID})["']"""),  # t(...), ctx.t(...), self.t(...)
    re.compile(rf"""\bsay\(\s*["']({ID})["']"""),  # ctx.say(...)
    re.compile(rf"""\bInvalid\(\s*["']({ID})["']"""),  # raise Invalid(...)
    re.compile(rf"""\boption\(\s*[^,()]+,\s*["']({ID})["']"""),  # ctx.option(payload, ...)
    re.compile(rf"""\(\s*["'][a-z_]+["']\s*,\s*["']({ID})["']\s*\)"""),  # ("start", "commands.start")
    re.compile(rf"""["']({ID})["']\s+if\b"""),  # "a.b" if ... else "c.d"
    re.compile(rf"""\belse\s+["']({ID})["']"""),
]
# Identical in both catalogs on purpose: language names and a format-only line.
SAME_IN_BOTH = {
    "language.en",
    "language.vi",
    "menu.language",
    "mine.option",
    "petitions.option",
    "voters.stop",
    "staff.find.row",
    "staff.session.row",
    "events.new.stop_line",
    "events.schedule.stop_option",
}
# Vietnamese that happens to need no diacritic.
DIACRITIC_FREE_VIETNAMESE = {"common.next_page", "summary.done"}  # "Trang sau »", "✅ Xong"


def sources() -> list[Path]:
    files = sorted(path for folder in SOURCE_DIRS for path in (ROOT / folder).rglob("*.py"))
    assert len(files) >= 10, f"found only {len(files)} source files under {SOURCE_DIRS}"
    return files


def catalogs() -> dict[str, dict[str, str]]:
    return {locale: load_catalog(locale) for locale in SUPPORTED_LOCALES}


def known_ids() -> set[str]:
    return {message_id for catalog in catalogs().values() for message_id in catalog}


def ids_in_source() -> dict[str, set[str]]:
    """Message ids written as literals in bot/ and handlers/, with the files that use them."""
    known = known_ids()
    found: dict[str, set[str]] = {}
    for path in sources():
        text = path.read_text(encoding="utf-8")
        certain = {match.group(1) for pattern in MESSAGE_POSITIONS for match in pattern.finditer(text)}
        candidates = {match.group(2) for match in ID_LITERAL.finditer(text)}
        for message_id in certain | (candidates & known):
            found.setdefault(message_id, set()).add(str(path.relative_to(ROOT)))
    return found


def dynamic_ids() -> set[str]:
    """Ids the code builds with f-strings, from the values it builds them with."""
    settings = Settings(_env_file=None)
    return (
        {f"language.{code}" for code in SUPPORTED_LOCALES}
        | {f"menu.{item}" for item in MENU_ITEMS}
        | {f"case_type.{kind.value}" for kind in CaseType}
        | {f"field.{code}" for code in settings.case_field_codes}
        | {f"registration.status.{status.value}" for status in SignUpStatus}
        | {f"register.edit.{step}" for step in EDITABLE}
        | {f"register.{step}.ask" for step in IDENTITY_STEPS}
        | {f"staff.command.{command}" for command in OFFICER_COMMANDS + ADMIN_COMMANDS + DELEGATE_COMMANDS}
        | {
            f"staff.usage.{command}"
            for command in (
                "join",
                "session",
                "outcome",
                "find",
                "export",
                "stats",
                "reschedule",
                "cancelsession",
                "questions",
                "speakers",
                "conclude",
            )
        }
        | {f"questions.{step}.ask" for step in ("name", "phone")}  # handlers/citizen/questions.py
        | {f"questions.status.{route}" for route in ("selected", "declined")}
        | {f"floor.questions.{route}_done" for route in ("selected", "declined")}
        | {f"staff.role.{role.value}" for role in StaffRole}
        | {f"staff.broadcast.to_{audience}" for audience in AUDIENCES}
        | {f"staff.broadcast.state.{state}" for state in ("running", "cancelled", "done")}
        | {f"staff.join.{reason}" for reason in ("unknown", "used", "expired")}
        | {f"session.status.{status.value}" for status in EventStatus}
        | {f"session.kind.{kind.value}" for kind in EventKind}
        | {f"notice.{kind}" for kind in NoticeKind if kind != "reminder"}  # reminder_day, reminder_soon
        | {f"staff.undelivered.kind.{kind}" for kind in NoticeKind}
        | {f"privacy.data.{action}" for action in CONSENT_ACTIONS}
        | {f"route.{route}" for route in ROUTES}
        | {f"petition.level.{level.value}" for level in AnswerLevel}
        | {f"petition.status.{status.value}" for status in SubmissionStatus}
        | {f"voters.edit.{step}" for step in PETITION_EDITABLE}
        | {f"voters.{step}.ask" for step in PETITION_IDENTITY}
        | {f"voters.notice.reminder_{when}" for when in ("day", "today", "soon", "ahead")}
    )


def placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def has_vietnamese_diacritic(text: str) -> bool:
    for char in text:
        if char in "đĐ":
            return True
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], decomposed[1:]
        if marks and base.isascii() and base.isalpha():
            return True
    return False


# --- (a), (b): everything the code asks for exists in both catalogs -------------------


def test_the_scan_finds_the_ids_the_code_uses() -> None:
    found = ids_in_source()
    assert len(found) >= 100, f"the source scan found only {len(found)} message ids"
    # one from each kind of place, so a broken pattern cannot go unnoticed
    for message_id in (
        "error.internal",  # t(...) in the engine
        "common.cancelled",  # ctx.say(...)
        "input.phone.invalid",  # raise Invalid(...)
        "consent.agree",  # ctx.option(payload, ...)
        "commands.start",  # (name, id) pairs of the Telegram command menu
        "sessions.closed",  # "a" if ... else "b"
        "notice.waitlist_promoted",  # outbox renderer
    ):
        assert message_id in found, f"the scan missed {message_id}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_id_written_in_the_code_is_translated(locale: str) -> None:
    catalog = load_catalog(locale)
    missing = {
        message_id: sorted(files)
        for message_id, files in ids_in_source().items()
        if not catalog.get(message_id)
    }
    assert missing == {}, f"missing or empty in locales/{locale}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_id_built_at_run_time_is_translated(locale: str) -> None:
    catalog = load_catalog(locale)
    ids = dynamic_ids()
    assert len(ids) >= 35
    assert sorted(message_id for message_id in ids if not catalog.get(message_id)) == []


# --- (c): the catalogs agree ------------------------------------------------------------


def test_both_catalogs_have_the_same_ids() -> None:
    vi, en = load_catalog("vi"), load_catalog("en")
    assert len(vi) >= 150
    assert sorted(set(vi) - set(en)) == [], "only in Vietnamese"
    assert sorted(set(en) - set(vi)) == [], "only in English"


def test_both_catalogs_use_the_same_placeholders() -> None:
    vi, en = load_catalog("vi"), load_catalog("en")
    different = {
        message_id: (sorted(placeholders(vi[message_id])), sorted(placeholders(en[message_id])))
        for message_id in vi.keys() & en.keys()
        if placeholders(vi[message_id]) != placeholders(en[message_id])
    }
    assert different == {}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_formats(locale: str) -> None:
    t = Translator(locale, VN)
    for message_id, template in load_catalog(locale).items():
        fields = {name: f"<{name}>" for name in placeholders(template)}
        assert all(name.isidentifier() for name in fields), f"{message_id}: odd placeholder {fields}"
        assert t(message_id, **fields), message_id


# --- (d), (e): dates and missing messages -----------------------------------------------


def test_dates_read_the_vietnamese_way() -> None:
    moment = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
    assert Translator("vi", VN).datetime(moment) == "Thứ Sáu, 27/11/2026 08:00"
    assert Translator("en", VN).datetime(moment) == "Friday, 27/11/2026 08:00"


def test_dates_follow_the_time_zone_across_midnight() -> None:
    moment = datetime(2026, 11, 26, 17, 30, tzinfo=UTC)  # 00:30 on Friday in Vietnam
    assert Translator("vi", VN).datetime(moment) == "Thứ Sáu, 27/11/2026 00:30"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_missing_message_raises(locale: str) -> None:
    t = Translator(locale, VN)
    with pytest.raises(MissingMessage, match=r"no\.such_message"):
        t("no.such_message")


def test_an_empty_translation_raises() -> None:
    t = Translator("vi", VN)
    t._messages = {"menu.title": ""}
    with pytest.raises(MissingMessage, match="untranslated"):
        t("menu.title")


def test_an_unsupported_locale_is_refused() -> None:
    with pytest.raises(ValueError):
        Translator("fr", VN)


# --- (f): the Vietnamese catalog is Vietnamese --------------------------------------------


def test_the_vietnamese_catalog_reads_as_vietnamese() -> None:
    vi, en = load_catalog("vi"), load_catalog("en")
    not_vietnamese = []
    for message_id, text in vi.items():
        if message_id in SAME_IN_BOTH:
            assert text == en[message_id], f"{message_id} is meant to be the same in both catalogs"
            continue
        assert text != en[message_id], f"{message_id} is the English text"
        letters = re.sub(r"\{\w+\}", "", text)
        if not any(char.isalpha() for char in letters):
            continue  # format only
        if message_id in DIACRITIC_FREE_VIETNAMESE:
            continue
        if not has_vietnamese_diacritic(text):
            not_vietnamese.append(message_id)
    assert not_vietnamese == []


def test_an_option_named_in_a_message_is_chosen_not_pressed() -> None:
    """The same text goes to channels with buttons and to numbered lists (Zalo Bot API, the
    console), where there is nothing to press: an option named by its label is "chosen"."""
    pressed = {"vi": re.compile(r"bấm «"), "en": re.compile(r"[Pp]ress “")}
    for locale, pattern in pressed.items():
        assert [mid for mid, text in load_catalog(locale).items() if pattern.search(text)] == []
