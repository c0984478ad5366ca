"""The reception book (Sổ tiếp công dân, Form 03, Thông tư 04/2021/TT-TTCP) and registration counts.

`session_book` reads a session's registrations for Form 03, each marked hidden when the
reader may not see a denouncer (Luật Tố cáo 2018, Art. 9 and 56: every revealed identity
is logged). Its texts, in the reader's language, are made in `bot.reception_book`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import NotFound
from storage.models import (
    CaseType,
    Endpoint,
    Event,
    EventEndpoint,
    SignUp,
    SignUpStatus,
    Submission,
)
from storage.registrations import CASE_OF_SIGN_UP
from storage.text import fold

LISTED = (SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED)
ID_DIGITS_SHOWN = 3  # a masked ID keeps its last digits, so staff can match a paper file
K = TypeVar("K")


@dataclass(frozen=True)
class Stats:
    """Non-cancelled registrations of the sessions starting in [since, until)."""

    since: datetime
    until: datetime
    total: int
    by_endpoint: list[tuple[str, int]]  # endpoint name, count; most first
    by_case_type: list[tuple[CaseType, int]]
    by_field: list[tuple[str, int]]  # field code, count


def _name_key(endpoint: Endpoint) -> tuple[str, str, int]:
    # Sorted here, not in SQL: SQLite and PostgreSQL collate "Đ" differently.
    return fold(endpoint.name), endpoint.name, endpoint.id


def mask_id_number(id_number: str) -> str:
    """`079203001234` -> `*********234`."""
    shown = id_number[-ID_DIGITS_SHOWN:] if len(id_number) > ID_DIGITS_SHOWN else ""
    return "*" * (len(id_number) - len(shown)) + shown


def anonymised(case: Submission) -> bool:
    """Erased at the citizen's request or after retention (a submitted one always has a name)."""
    return case.full_name is None


@dataclass(frozen=True)
class BookEntry:
    """One registration of the book, numbered within its endpoint."""

    number: int
    registration: SignUp
    case: Submission  # what the registration handed in: identity, summary, review
    hidden: bool  # a denouncer's identity, masked for this reader


@dataclass(frozen=True)
class SessionBook:
    session: Event
    endpoints: list[tuple[str, list[BookEntry]]]  # endpoint name, its entries; by name
    masked: int  # entries whose denouncer identity is hidden


async def session_book(
    db: AsyncSession,
    session_id: int,
    *,
    endpoint_ids: frozenset[int] | None,
    reveal_denouncers: bool,
    actor: str,
    now: datetime,
) -> SessionBook:
    """The registrations of Form 03 for one session: `endpoint_ids=None` for every endpoint,
    else only those, each marked hidden when the reader may not see the denouncer.

    Revealing a denouncer writes an audit row; the caller commits. Raises NotFound.
    """
    session = await db.get(Event, session_id)
    if session is None:
        raise NotFound(f"session {session_id}")
    query = (
        select(SignUp)
        .join(EventEndpoint, SignUp.session_endpoint_id == EventEndpoint.id)
        .join(Submission, CASE_OF_SIGN_UP)
        .where(SignUp.session_id == session_id, SignUp.status.in_(LISTED))
        .order_by(SignUp.created_at, SignUp.id)
    )
    if endpoint_ids is not None:
        query = query.where(EventEndpoint.endpoint_id.in_(sorted(endpoint_ids)))
    registrations = list(await db.scalars(query))

    by_endpoint: dict[int, list[SignUp]] = {}
    endpoints: dict[int, Endpoint] = {}
    for registration in registrations:
        endpoint = registration.event_endpoint.endpoint
        endpoints[endpoint.id] = endpoint
        by_endpoint.setdefault(endpoint.id, []).append(registration)

    books, masked = [], 0
    for endpoint in sorted(endpoints.values(), key=_name_key):
        entries = []
        for number, registration in enumerate(by_endpoint[endpoint.id], start=1):
            case = registration.case
            assert case is not None  # joined above
            denouncer = case.case_type == CaseType.DENUNCIATION and not anonymised(case)
            hide = denouncer and not reveal_denouncers
            if hide:
                masked += 1
            elif denouncer:
                audit.record(
                    db,
                    at=now,
                    actor=actor,
                    action="denouncer.view",
                    target_type="registration",
                    target_id=registration.id,
                    via="export",
                )
            entries.append(BookEntry(number, registration, case, hide))
        books.append((endpoint.name, entries))
    return SessionBook(session=session, endpoints=books, masked=masked)


def _most_first(counts: Counter[K], name: Callable[[K], str] = str) -> list[tuple[K, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], name(item[0])))


async def registration_stats(
    db: AsyncSession, *, since: datetime, until: datetime, endpoint_ids: frozenset[int] | None
) -> Stats:
    """Counts per endpoint, case type and field; `endpoint_ids=None` for every endpoint."""
    query = (
        select(Endpoint.name, Submission.case_type, Submission.field)
        .select_from(SignUp)
        .join(Submission, CASE_OF_SIGN_UP)
        .join(EventEndpoint, SignUp.session_endpoint_id == EventEndpoint.id)
        .join(Endpoint, EventEndpoint.endpoint_id == Endpoint.id)
        .join(Event, SignUp.session_id == Event.id)
        .where(
            Event.starts_at >= since,
            Event.starts_at < until,
            SignUp.status.in_(LISTED),
        )
    )
    if endpoint_ids is not None:
        query = query.where(EventEndpoint.endpoint_id.in_(sorted(endpoint_ids)))
    rows = (await db.execute(query)).all()
    return Stats(
        since=since,
        until=until,
        total=len(rows),
        by_endpoint=_most_first(Counter(name for name, _, _ in rows), fold),
        by_case_type=_most_first(Counter(CaseType(kind) for _, kind, _ in rows)),
        by_field=_most_first(Counter(code for _, _, code in rows)),
    )
