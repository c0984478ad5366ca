"""Database round trips, counted with SQLAlchemy's engine events, and told apart by who
caused them: the dialog engine (one event's own transaction) or the channel's pipeline
around it (storing a batch, marking updates handled).

A round trip is a BEGIN, a statement, a COMMIT or ROLLBACK, or a pool pre-ping. The
asyncpg driver pings in a transaction of its own (BEGIN, `;`, ROLLBACK: three round trips;
SQLAlchemy's `AsyncAdapt_asyncpg_connection._async_ping`). Not counted: asyncpg's
statement preparation, done once per statement per connection (warm after the first use).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialog.types import Capabilities, Incoming, Reply

DIALOG, PIPELINE = "dialog", "pipeline"
_scope: ContextVar[str] = ContextVar("bench_scope", default=PIPELINE)

TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?(\w+)", re.IGNORECASE)
WRITE = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
NOT_TABLES = {"set", "of"}  # `ON CONFLICT … DO UPDATE SET`, `FOR UPDATE OF`


def statement_label(sql: str) -> str:
    """What a statement does, for a person: its verb and the tables it touches, in order.
    `SELECT conversation_states+citizens+staff FOR UPDATE`, `INSERT citizens ON CONFLICT`,
    `WITH INSERT inbound_updates + UPDATE conversation_states` (writes joined in one)."""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    upper = sql.upper()
    tail = (" ON CONFLICT" if "ON CONFLICT" in upper else "") + (
        " FOR UPDATE" if "FOR UPDATE" in upper else ""
    )
    if verb == "WITH":
        writes = [
            f"{kind.split()[0].upper()} {table}"
            for kind, table in WRITE.findall(sql)
            if table.lower() not in NOT_TABLES
        ]
        return "WITH " + " + ".join(dict.fromkeys(writes)) + tail
    if verb not in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
        return verb
    tables = [table for table in TABLE.findall(sql) if table.lower() not in NOT_TABLES]
    return f"{verb} {'+'.join(dict.fromkeys(tables))}{tail}"


@dataclass(frozen=True)
class Trip:
    scope: str  # DIALOG or PIPELINE
    kind: str  # "begin", "statement", "commit", "rollback", "ping"
    label: str = ""  # a statement's verb and table


@dataclass(frozen=True)
class Tally:
    """What a stretch of work sent to the database."""

    trips: tuple[Trip, ...]
    ping_cost: int  # round trips per pre-ping on this driver

    def of(self, scope: str) -> Tally:
        return Tally(tuple(trip for trip in self.trips if trip.scope == scope), self.ping_cost)

    @property
    def statements(self) -> int:
        return sum(1 for trip in self.trips if trip.kind == "statement")

    @property
    def round_trips(self) -> int:
        return sum(self.ping_cost if trip.kind == "ping" else 1 for trip in self.trips)

    def breakdown(self) -> str:
        """`BEGIN, ping, SELECT conversation_states FOR UPDATE, …, COMMIT`, in order (a
        statement repeated at once counted: `SELECT endpoints ×2`)."""
        ping = "ping" if self.ping_cost == 1 else f"ping (×{self.ping_cost}: BEGIN, ';', ROLLBACK)"
        words = {"begin": "BEGIN", "commit": "COMMIT", "rollback": "ROLLBACK", "ping": ping}
        names = [words.get(t.kind, t.label) for t in self.trips]
        runs = [(name, len(list(group))) for name, group in itertools.groupby(names)]
        return ", ".join(f"{name} ×{times}" if times > 1 else name for name, times in runs)


def _autocommit(conn: Any) -> bool:
    """A connection in autocommit (`storage.db.one_statement` on PostgreSQL) sends no BEGIN,
    COMMIT or ROLLBACK: its driver does not, though SQLAlchemy's events still fire."""
    return bool(conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT")


class RoundTrips:
    """Listens to one engine; `mark()` and `since(mark)` bracket a stretch of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.trips: list[Trip] = []
        self.ping_cost = 3 if self.engine.dialect.driver == "asyncpg" else 1
        self._listeners = [
            ("before_cursor_execute", self._statement),
            ("begin", self._begin),
            ("commit", self._commit),
            ("rollback", self._rollback),
        ]
        for name, listener in self._listeners:
            event.listen(self.engine, name, listener)
        # A pre-ping goes through no engine event: count the dialect's ping itself.
        dialect = self.engine.dialect
        self._do_ping = dialect.do_ping

        def counted_ping(dbapi_connection: Any) -> bool:
            self._add("ping")
            return bool(self._do_ping(dbapi_connection))

        dialect.do_ping = counted_ping  # type: ignore[method-assign]

    def close(self) -> None:
        for name, listener in self._listeners:
            event.remove(self.engine, name, listener)
        self.engine.dialect.do_ping = self._do_ping  # type: ignore[method-assign]

    def _add(self, kind: str, label: str = "") -> None:
        self.trips.append(Trip(_scope.get(), kind, label))

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("BEGIN"):
            return  # SQLite's BEGIN IMMEDIATE, sent from the "begin" event: counted there
        self._add("statement", statement_label(statement))

    def _begin(self, conn: Any) -> None:
        if not _autocommit(conn):
            self._add("begin")

    def _commit(self, conn: Any) -> None:
        if not _autocommit(conn):
            self._add("commit")

    def _rollback(self, conn: Any) -> None:
        if not _autocommit(conn):
            self._add("rollback")

    def mark(self) -> int:
        return len(self.trips)

    def since(self, mark: int) -> Tally:
        return Tally(tuple(self.trips[mark:]), self.ping_cost)


@contextmanager
def scope(name: str) -> Iterator[None]:
    token = _scope.set(name)
    try:
        yield
    finally:
        _scope.reset(token)


class ScopedDialog:
    """The app's dialog engine, with the work of each event counted as the dialog's. Any
    other attribute (owed replies after a restart, …) is the engine's own."""

    def __init__(self, dialog: Any) -> None:
        self._dialog = dialog
        self.events = 0

    async def handle(self, incoming: Incoming, capabilities: Capabilities) -> list[Reply]:
        self.events += 1
        with scope(DIALOG):
            replies: list[Reply] = await self._dialog.handle(incoming, capabilities)
            return replies

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dialog, name)
