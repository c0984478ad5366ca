"""What runs for every update reads no history: with thousands of handled updates stored (the
table keeps them HANDLED_KEEP_DAYS), storing a batch looks only at the few unfinished ones.

SQLite's planner walked every older row by rowid for each update stored, so the bot grew
slower with every update it had ever received (3 ms a statement after 4,000). The plans are
read with the database's own EXPLAIN, for the statements the pipeline really sent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from bot.app import App
from bot.clock import FrozenClock
from storage import inbound
from tests.conftest import World
from tests.flows import consent, register
from tests.support import ChatUser

HISTORY = 3000  # handled updates of one user, already stored


async def stored_history(app: App, clock: FrozenClock) -> None:
    now = clock.now() - timedelta(hours=1)
    rows = [
        {"channel": "telegram", "update_id": str(n), "user_id": "7", "payload": "{}", "at": now, "w": "w:1"}
        for n in range(HISTORY)
    ]
    async with app.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO inbound_updates (channel, update_id, user_id, payload, received_at,"
                " handled_at, worker) VALUES (:channel, :update_id, :user_id, :payload, :at, :at, :w)"
            ),
            rows,
        )
        if connection.dialect.name == "postgresql":
            await connection.execute(text("ANALYZE inbound_updates"))


async def test_storing_an_update_reads_only_the_unfinished_ones(app: App, clock: FrozenClock) -> None:
    await stored_history(app, clock)
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(app.engine.sync_engine, "before_cursor_execute", keep)
    try:
        async with app.sessions() as db:  # rolled back: the plan below stores the same batch
            batch = [(str(HISTORY + n), "7", {"n": n}) for n in range(5)]
            fresh = await inbound.store_new(db, "telegram", batch, clock.now(), worker="w:1")
            await db.rollback()
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", keep)
    assert fresh == {str(HISTORY + n): False for n in range(5)}
    (statement, parameters), *_ = [(s, p) for s, p in sent if s.lstrip().upper().startswith("INSERT")]

    async with app.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        if app.engine.dialect.name == "sqlite":
            plan = " / ".join(row[3] for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters))
            assert "USING INDEX ix_inbound_updates_unfinished" in plan, plan
            assert "rowid" not in plan, plan
        else:  # the rows the statement really looked at, with this history (then rolled back)
            transaction = raw.transaction()
            await transaction.start()
            found = await raw.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *parameters)
            await transaction.rollback()
            plan = json.loads(found) if isinstance(found, str) else found  # SQLAlchemy's codec decodes
            examined = rows_examined(plan[0]["Plan"])
            assert examined < 50, f"{examined} rows of inbound_updates read to store 5 updates"


def rows_examined(node: dict[str, Any]) -> int:
    """Rows PostgreSQL read from inbound_updates in a plan: those kept and those filtered out."""
    own = 0
    if node.get("Relation Name") == "inbound_updates":
        loops = node.get("Actual Loops", 1)
        own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
    return own + sum(rows_examined(child) for child in node.get("Plans", []))


# Tables that grow with the citizens and their events; a full scan of one, for an event of
# one citizen, makes the bot slower with every citizen it has served.
GROWING = (
    "citizens",
    "conversation_states",
    "inbound_updates",
    "sign_ups",
    "submissions",
    "audit_log",
    "notifications",
    "attachments",
    "consents",
)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
async def test_no_step_of_a_registration_scans_a_table_that_grows(app: App, world: World) -> None:
    """SQLite's plans do not depend on how many rows there are (it keeps no statistics here),
    so an empty database shows what a full one would do."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(app.engine.sync_engine, "before_cursor_execute", keep)
    try:
        chat = ChatUser(app.dialog, user_id="5")
        await consent(chat)
        await register(chat)
        await chat.press("mine")
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", keep)
    scans: set[str] = set()
    async with app.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        for statement, parameters in sent:
            if not statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
                continue
            for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters):
                words = row[3].split()
                whole = words[:1] == ["SCAN"] and "USING" not in words
                history = words[:1] == ["SEARCH"] and ("(rowid<?)" in words or "(rowid>?)" in words)
                if (whole or history) and words[1] in GROWING:
                    scans.add(f"{row[3]}  ←  {' '.join(statement.split())[:300]}")
    assert not scans, "\n".join(sorted(scans))
