"""What the registration flow itself asks of the database, event by event (issue 11: a whole
registration in at most 40 statements). Counted as the driver sees them, less what an event
that reads nothing (typing a name) costs: that part is the engine's, this the flow's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from bot.app import App
from tests.conftest import World
from tests.flows import ID_NUMBER, SUMMARY, consent, fill_until_review
from tests.support import ChatUser


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(app.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", count)


async def test_a_registration_reads_and_writes_little_of_its_own(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    steps: list[tuple[str, Callable[[str], Awaitable[object]], str]] = [
        ("register", chat.press, "register"),  # the endpoint list: the catalog is read once
        ("search", chat.say, "tan binh"),  # searched in memory
        ("endpoint", chat.press, "ep:"),  # its open sessions, then kept (storage.catalog)
        ("session", chat.press, "s:"),  # the seat kept; their own sign-ups came with the turn
        ("name", chat.say, "nguyễn văn an"),
        ("phone", chat.say, "0912 345 678"),
        ("id_number", chat.say, ID_NUMBER),
        ("address", chat.say, "12 Lý Thường Kiệt, phường Tân Bình"),
        ("case_type", chat.press, "complaint"),
        ("field", chat.press, "land"),
        ("summary", chat.say, SUMMARY),
        ("summary_done", chat.press, "done"),
        ("attachments", chat.press, "done"),
        ("agency", chat.press, "none"),
        ("group", chat.press, "alone"),  # the review: the seat again, as kept
        # The seats taken and the row with its code (one statement on PostgreSQL); the case,
        # the audit entry and the identity kept go with the state's write (on PostgreSQL in
        # its one statement).
        ("confirm", chat.press, "confirm"),
    ]
    counted = {}
    for name, act, arg in steps:
        with statements(app) as seen:
            await act(arg)
        counted[name] = len(seen)
    assert "TCD-2026-000001" in chat.text

    engine = counted["name"]
    own = {name: count - engine for name, count in counted.items()}
    assert own == {
        "register": 1,
        "search": 0,
        "endpoint": 1,
        "session": 0,
        **dict.fromkeys(("name", "phone", "id_number", "address", "case_type", "field"), 0),
        **dict.fromkeys(("summary", "summary_done", "attachments", "agency"), 0),
        "group": 0,
        "confirm": 1 if app.engine.dialect.name == "postgresql" else 5,
    }


async def test_searching_with_typos_reads_no_more_than_finding_nothing(
    app: App, world: World, chat: ChatUser
) -> None:
    """Typos are scored against every endpoint: in memory, not by reading them all."""
    await consent(chat)
    await chat.press("register")
    with statements(app) as missed:
        await chat.say("không có nơi này")  # refused: no such endpoint
    with statements(app) as searched:
        await chat.say("tan bihn")  # one typo: found, and listed
    assert chat.find_option("Phường Tân Bình")
    assert len(searched) == len(missed)


async def test_a_second_registration_with_the_same_identity_writes_no_profile(
    app: App, world: World, chat: ChatUser
) -> None:
    """The identity kept with the first registration is the one given again: not rewritten."""

    def profile_writes(seen: list[str]) -> int:
        return sum("UPDATE citizens" in statement for statement in seen)

    await consent(chat)
    await fill_until_review(chat)
    with statements(app) as first:
        await chat.press("confirm")
    await fill_until_review(chat, session=f"s:{world.seats[(world.second_id, 'P-TANBINH')]}")
    with statements(app) as second:
        await chat.press("confirm")
    assert "TCD-2026-000002" in chat.text
    assert (profile_writes(first), profile_writes(second)) == (1, 0)
