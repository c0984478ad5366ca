"""Log lines an operator can follow: each carries the reference id of the event in hand.

An update gets a reference id when it enters the inbound pipeline (or the dialog engine,
when called without one: the console), kept in a context variable for as long as it is
handled, so every line logged meanwhile, by us or by a library, carries it; the apology a
citizen gets when the engine fails quotes the same id. A notice the outbox sends carries
`notice-<id>`.

LOG_FORMAT=text (the default) writes `time level logger [ref] message`; LOG_FORMAT=json
one JSON object per line: time, level, logger, message, ref (null outside any event), and
the traceback under `exception`.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(ref)s] %(message)s"
NO_REF = "-"


@dataclass
class Event:
    """The event in hand: its reference id, and whether the engine failed on it and
    apologised (the pipeline counts it so)."""

    ref: str
    apologised: bool = False


_current: ContextVar[Event | None] = ContextVar("tiepdan_event", default=None)


def new_ref() -> str:
    return uuid.uuid4().hex[:8]


def current() -> Event | None:
    return _current.get()


@contextmanager
def event(ref: str | None = None) -> Iterator[Event]:
    """A new event in hand for the block (a task started in it inherits it)."""
    mark = Event(ref or new_ref())
    token = _current.set(mark)
    try:
        yield mark
    finally:
        _current.reset(token)


@contextmanager
def event_in_hand() -> Iterator[Event]:
    """The event in hand, or a new one for the block when there is none."""
    mark = _current.get()
    if mark is not None:
        yield mark
        return
    with event() as mark:
        yield mark


# Libraries whose DEBUG lines quote what goes to or comes from the database: aiosqlite
# writes each statement with its values and results, SQLAlchemy's engine each row fetched.
# Such a line would put a citizen's name or ID number in the log, whoever set those
# loggers to DEBUG: our handler drops them (SQLAlchemy's INFO lines are kept: its
# statements carry no values, hide_parameters in storage/db.py).
VERBATIM_AT_DEBUG = ("sqlalchemy.engine", "aiosqlite")


class RefFilter(logging.Filter):
    """Adds `ref` to every record that passes the handler (a library's too), and drops the
    lines that would quote personal data verbatim (VERBATIM_AT_DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG and record.name.startswith(VERBATIM_AT_DEBUG):
            return False
        mark = _current.get()
        record.ref = mark.ref if mark is not None else None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "ref", None) is None:
            record.ref = NO_REF
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line (a traceback's newlines are escaped in it)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "ref": getattr(record, "ref", None),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing `log_format` lines to `stream` (stderr), each with its ref."""
    written = logging.StreamHandler(stream)
    written.addFilter(RefFilter())
    written.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return written


def configure(level: str | int, log_format: str) -> None:
    """Logging for a command, as logging.basicConfig would (nothing if the root logger has a
    handler already), in LOG_FORMAT."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(handler(log_format))
    root.setLevel(level)
