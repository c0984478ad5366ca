"""Logs for an operator: LOG_FORMAT=json writes one JSON object per line, every line of an
event carries its reference id, and no line carries a citizen's personal data."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from bot import logs
from bot.app import App
from bot.channels.telegram.runner import TelegramBot
from bot.settings import Settings
from tests.conftest import World
from tests.fakes.telegram_api import FakeTelegram
from tests.telegram_harness import TelegramUser
from tests.test_clean_text import registrations_refused
from tests.test_telegram import consent

PERSON = {
    "name": "Phạm Thị Kín Đáo",
    "phone": "0913 579 246",
    "id_number": "079305009876",
    "address": "77 Ngõ Thầm Lặng, phường Tân Bình",
    "summary": "Gia đình tôi có tranh chấp ranh giới thửa đất với hàng xóm từ năm ngoái, chưa hòa giải.",
}
# How each may look elsewhere: the phone as shared and stored, parts of the others.
TRACES = [
    *PERSON.values(),
    "84913579246",
    "913579246",
    "Kín Đáo",
    "kin dao",
    "Thầm Lặng",
    "ranh giới thửa đất",
]
# The libraries that would print statements, rows or bodies at DEBUG, set to DEBUG here
# whatever their defaults.
CHATTY = ("sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg", "aiohttp", "aiogram")


@contextmanager
def json_logs_at_debug() -> Iterator[io.StringIO]:
    """Every logger at DEBUG, written by the handler `tiepdan run` installs for LOG_FORMAT=json."""
    stream = io.StringIO()
    written = logs.handler("json", stream)
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in CHATTY)]
    levels = [logger.level for logger in loggers]
    logging.getLogger().addHandler(written)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(written)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    """Each line parsed on its own: one JSON object with the five fields."""
    parsed = [json.loads(line) for line in stream.getvalue().splitlines()]
    for line in parsed:
        assert {"time", "level", "logger", "message", "ref"} <= set(line), line
    return parsed


def personal_data_in(stream: io.StringIO) -> list[str]:
    """The traces found in the lines: as typed, in lower case, or escaped as JSON or a repr
    escapes them (at any depth: a repr of JSON written in a JSON line)."""
    text = stream.getvalue()
    while "\\\\" in text:
        text = text.replace("\\\\", "\\")
    return [trace for trace in TRACES if any(form in text or form in text.lower() for form in forms(trace))]


def forms(trace: str) -> set[str]:
    return {form for each in (trace, trace.lower()) for form in (each, json.dumps(each)[1:-1])}


@pytest.fixture
async def telegram_user(
    app: App,
    world: World,
    fake: FakeTelegram,
    polling: TelegramBot,
) -> AsyncIterator[TelegramUser]:
    yield TelegramUser(polling, fake, 811)


async def fill_in(user: TelegramUser) -> None:
    """From the main menu to the review screen, with PERSON's answers."""
    await user.press("Đăng ký tiếp công dân")
    await user.say("tan binh")
    await user.press("Phường Tân Bình")
    await user.press("07/12/2026")
    await user.say(PERSON["name"])
    await user.share_contact("84913579246")
    await user.say(PERSON["id_number"])
    await user.say(PERSON["address"])
    await user.press("Khiếu nại")
    await user.press("Đất đai")
    await user.say(PERSON["summary"])
    await user.press("Xong")
    await user.press("Tiếp tục")
    await user.press("Chưa có cơ quan nào")
    await user.press("Chỉ mình tôi")
    assert PERSON["summary"] in user.text and "Kín Đáo" in user.text  # the review shows them


async def test_a_whole_registration_at_debug_logs_no_personal_data(telegram_user: TelegramUser) -> None:
    user = telegram_user
    with json_logs_at_debug() as stream:
        await consent(user)
        await fill_in(user)
        await user.say(PERSON["phone"])  # typed where no step takes it: nothing of it logged either
        await user.press("Xác nhận")
        assert "ĐĂNG KÝ THÀNH CÔNG" in user.text
        await user.press("Đăng ký của tôi")
        await user.press("TCD-2026-000001")  # the registration read back, with every detail
        assert "Kín Đáo" in user.text
    lines = lines_of(stream)
    loggers = {line["logger"].split(".")[0] for line in lines}
    assert {"aiogram", "sqlalchemy", "aiohttp"} <= loggers, loggers  # they did log, at DEBUG
    assert personal_data_in(stream) == []
    # Each update's lines carry its own reference id: aiogram's line for each, ours included.
    handled = [line for line in lines if line["logger"] == "aiogram.event"]
    assert len(handled) >= 20 and all(line["ref"] for line in handled)
    assert len({line["ref"] for line in handled}) == len(handled)
    statements = [line for line in lines if line["logger"] == "sqlalchemy.engine.Engine"]
    assert any(line["ref"] == handled[-1]["ref"] for line in statements)  # SQLAlchemy's lines too


async def test_the_apology_quotes_the_reference_of_the_lines_that_explain_it(
    app: App, telegram_user: TelegramUser
) -> None:
    user = telegram_user
    await consent(user)
    await fill_in(user)
    with json_logs_at_debug() as stream:
        async with registrations_refused(app):
            await user.press("Xác nhận")
    [ref] = re.findall(r"Mã tham chiếu: (\w+)", user.text)
    lines = lines_of(stream)
    failed = [line for line in lines if "exception" in line]
    assert failed and all(line["ref"] == ref for line in failed)
    assert {line["logger"] for line in failed} == {"bot.dialog.engine"}
    assert any(line["logger"] == "aiogram.event" and line["ref"] == ref for line in lines)
    assert personal_data_in(stream) == []


def test_the_text_format_names_the_reference_too() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.text_format")
    logger.addHandler(logs.handler("text", stream))
    logger.propagate = False
    try:
        logger.warning("outside any event")
        with logs.event() as event:
            logger.warning("inside one")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    outside, inside = stream.getvalue().splitlines()
    assert outside.endswith("WARNING tests.text_format [-] outside any event")
    assert inside.endswith(f"WARNING tests.text_format [{event.ref}] inside one")


def test_a_traceback_stays_on_its_line_in_json() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.json_format")
    logger.addHandler(logs.handler("json", stream))
    logger.propagate = False
    try:
        try:
            raise ValueError("first line\nsecond line")
        except ValueError:
            logger.exception("it failed: %s", "why")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    [line] = stream.getvalue().splitlines()
    written = json.loads(line)
    assert written["message"] == "it failed: why" and written["level"] == "ERROR" and written["ref"] is None
    assert "Traceback" in written["exception"] and "second line" in written["exception"]


def test_log_format_is_text_or_json() -> None:
    assert Settings(_env_file=None).log_format == "text"  # type: ignore[call-arg]
    assert Settings(_env_file=None, log_format="JSON").log_format == "json"  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="LOG_FORMAT must be text or json"):
        Settings(_env_file=None, log_format="xml")  # type: ignore[call-arg]
