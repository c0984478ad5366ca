"""What one event costs the database: an answer is one read and one write in one transaction.
On PostgreSQL that is four round trips: BEGIN, the read, the write, COMMIT. SQLite has no
data-modifying WITH, so there marking the event handled is a statement of its own (an
in-process call, not a round trip)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from bot.app import App
from bot.clock import FrozenClock
from storage import audit, citizens, conversations
from storage.identity import UserKey
from tests.conftest import World
from tests.flows import consent
from tests.support import ChatUser


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    """Every statement sent to the database meanwhile, with BEGIN and COMMIT."""
    sent: list[str] = []
    engine = app.engine.sync_engine

    def on_execute(*args: Any) -> None:
        sent.append(" ".join(str(args[2]).split())[:60])

    def on_begin(_connection: Any) -> None:
        sent.append("BEGIN")

    def on_commit(_connection: Any) -> None:
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    event.listen(engine, "commit", on_commit)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "commit", on_commit)


def round_trips(sent: list[str], dialect: str) -> int:
    """On SQLite, BEGIN IMMEDIATE is sent as a statement too (storage/db.py): count it once."""
    return len([s for s in sent if not (dialect == "sqlite" and s == "BEGIN IMMEDIATE")])


async def test_a_typed_answer_and_a_pressed_button_are_one_read_and_one_write(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    dialect = app.engine.dialect.name
    with statements(app) as typed:
        await chat.say("nguyễn văn an")  # a typed answer: the name
    assert "số điện thoại" in chat.text.lower()
    await chat.say("0912 345 678")
    await chat.say("079203001234")
    await chat.say("12 Lý Thường Kiệt, phường Tân Bình")
    with statements(app) as pressed:
        await chat.press("complaint")  # a pressed button: the kind of case
    expected = 4 if dialect == "postgresql" else 5
    assert round_trips(typed, dialect) == expected, typed
    assert round_trips(pressed, dialect) == expected, pressed


async def test_two_writes_of_one_citizen_in_a_turn_both_stay(app: App, clock: FrozenClock) -> None:
    """A turn's writes go with its closing statement (storage.db.write_with_turn); two UPDATEs
    of one table are not folded into it, where one would be lost (one snapshot for all)."""
    key = UserKey("test", "77")
    now = clock.now()
    async with app.sessions() as db, db.begin():
        turn = await conversations.open_turn(db, key, "77-1", frozenset(), now=now)
        citizen = await citizens.set_locale(db, turn.citizen, "en")
        await citizens.give_consent(db, citizen, "2026-12", now=now)
        wrote = await conversations.close_turn(
            db, key, flow="menu", step="menu", data={}, event_id="77-1", reply_to=None, now=now
        )
    assert wrote
    async with app.sessions() as db:
        stored = await citizens.record(db, turn.citizen.id)
        consents = await audit.consents(db, citizens.actor_of(stored))
    assert (stored.locale, stored.consent_version) == ("en", "2026-12")
    assert [entry.action for entry in consents] == ["consent.give"]
