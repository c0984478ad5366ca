"""The reception book (Sổ tiếp công dân, Form 03, Thông tư 04/2021/TT-TTCP) and registration counts.

`reception_book` reads a session's registrations as the rows of Form 03, already in the
reader's language, with denouncers masked unless the reader may see them (Luật Tố cáo
2018, Art. 9 and 56: then every revealed identity is logged). The file formats are built
from it in `bot.exports`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import MissingMessage, Translator
from storage import audit
from storage.errors import NotFound
from storage.models import (
    CaseType,
    Endpoint,
    ReceptionSession,
    Registration,
    RegistrationStatus,
    SessionEndpoint,
)
from storage.review import ROUTES
from storage.text import fold, mask_name

LISTED = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)
ID_DIGITS_SHOWN = 3  # a masked ID keeps its last digits, so staff can match a paper file
K = TypeVar("K")


@dataclass(frozen=True)
class BookRow:
    """One registration as a line of Form 03 (texts already in the reader's language)."""

    number: int
    date: datetime  # when the registration arrived, in the office's time zone
    name_and_address: str  # "name\naddress"
    id_number: str
    content: str
    classification: str  # "Khiếu nại — Đất đai"
    people: int
    prior_agency: str
    handling_route: str
    follow_up: str
    notes: str  # group representatives
    code: str
    status: RegistrationStatus


@dataclass(frozen=True)
class EndpointBook:
    endpoint_name: str
    rows: list[BookRow]


@dataclass(frozen=True)
class ReceptionBook:
    session_title: str
    starts_at: datetime  # in the office's time zone
    host: str
    endpoints: list[EndpointBook]  # only endpoints with registrations, by name
    masked: int  # rows whose denouncer identity is hidden

    @property
    def row_count(self) -> int:
        return sum(len(book.rows) for book in self.endpoints)


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


def field_text(t: Translator, code: str) -> str:
    # Fields are configurable: one without a catalog entry must not stop an export.
    try:
        return t(f"field.{code}")
    except MissingMessage:
        return code


def route_text(t: Translator, registration: Registration) -> str:
    """The handling route of Form 03 with the reviewer's note; empty before review."""
    route = registration.route
    if not route:
        return ""
    label = t(f"route.{route}", agency=registration.forwarded_to or "—") if route in ROUTES else route
    return f"{label}\n{registration.route_note}" if registration.route_note else label


def anonymised(registration: Registration) -> bool:
    """Erased at the citizen's request or after retention (a submitted one always has a name)."""
    return registration.full_name is None


def _row(number: int, registration: Registration, *, hide: bool, t: Translator) -> BookRow:
    name, address = registration.full_name or "", registration.address or ""
    id_number = registration.id_number or ""
    representatives = list(registration.representatives or [])
    if anonymised(registration):  # said so, not a blank line that reads like a mistake
        name = t("export.anonymised")
    elif hide:
        name, address, id_number = mask_name(name), t("export.hidden"), mask_id_number(id_number)
        representatives = [mask_name(person) for person in representatives]
    classification = f"{t(f'case_type.{registration.case_type.value}')} — {field_text(t, registration.field)}"
    notes = t("export.representatives", names=", ".join(representatives)) if representatives else ""
    return BookRow(
        number=number,
        date=registration.created_at.astimezone(t.tz),
        name_and_address="\n".join(part for part in (name, address) if part),
        id_number=id_number,
        content=registration.summary,
        classification=classification,
        people=registration.group_size,
        prior_agency=registration.prior_agency,
        handling_route=route_text(t, registration),
        follow_up=registration.outcome or "",
        notes=notes,
        code=registration.code or "",
        status=registration.status,
    )


async def reception_book(
    db: AsyncSession,
    session_id: int,
    *,
    endpoint_ids: frozenset[int] | None,
    reveal_denouncers: bool,
    actor: str,
    now: datetime,
    t: Translator,
) -> ReceptionBook:
    """Form 03 for one session: `endpoint_ids=None` for every endpoint, else only those.

    Revealing a denouncer writes an audit row; the caller commits. Raises NotFound.
    """
    session = await db.get(ReceptionSession, session_id)
    if session is None:
        raise NotFound(f"session {session_id}")
    query = (
        select(Registration)
        .join(SessionEndpoint, Registration.session_endpoint_id == SessionEndpoint.id)
        .where(Registration.session_id == session_id, Registration.status.in_(LISTED))
        .order_by(Registration.created_at, Registration.id)
    )
    if endpoint_ids is not None:
        query = query.where(SessionEndpoint.endpoint_id.in_(sorted(endpoint_ids)))
    registrations = list(await db.scalars(query))

    by_endpoint: dict[int, list[Registration]] = {}
    endpoints: dict[int, Endpoint] = {}
    for registration in registrations:
        endpoint = registration.session_endpoint.endpoint
        endpoints[endpoint.id] = endpoint
        by_endpoint.setdefault(endpoint.id, []).append(registration)

    books, masked = [], 0
    for endpoint in sorted(endpoints.values(), key=_name_key):
        rows = []
        for number, registration in enumerate(by_endpoint[endpoint.id], start=1):
            denouncer = registration.case_type == CaseType.DENUNCIATION and not anonymised(registration)
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
            rows.append(_row(number, registration, hide=hide, t=t))
        books.append(EndpointBook(endpoint_name=endpoint.name, rows=rows))
    return ReceptionBook(
        session_title=session.title,
        starts_at=session.starts_at.astimezone(t.tz),
        host=session.host,
        endpoints=books,
        masked=masked,
    )


def _most_first(counts: Counter[K], name: Callable[[K], str] = str) -> list[tuple[K, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], name(item[0])))


async def registration_stats(
    db: AsyncSession, *, since: datetime, until: datetime, endpoint_ids: frozenset[int] | None
) -> Stats:
    """Counts per endpoint, case type and field; `endpoint_ids=None` for every endpoint."""
    query = (
        select(Endpoint.name, Registration.case_type, Registration.field)
        .join(SessionEndpoint, Registration.session_endpoint_id == SessionEndpoint.id)
        .join(Endpoint, SessionEndpoint.endpoint_id == Endpoint.id)
        .join(ReceptionSession, Registration.session_id == ReceptionSession.id)
        .where(
            ReceptionSession.starts_at >= since,
            ReceptionSession.starts_at < until,
            Registration.status.in_(LISTED),
        )
    )
    if endpoint_ids is not None:
        query = query.where(SessionEndpoint.endpoint_id.in_(sorted(endpoint_ids)))
    rows = (await db.execute(query)).all()
    return Stats(
        since=since,
        until=until,
        total=len(rows),
        by_endpoint=_most_first(Counter(name for name, _, _ in rows), fold),
        by_case_type=_most_first(Counter(CaseType(kind) for _, kind, _ in rows)),
        by_field=_most_first(Counter(code for _, _, code in rows)),
    )
