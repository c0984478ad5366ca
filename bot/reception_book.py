"""Form 03 (Sổ tiếp công dân, Thông tư 04/2021/TT-TTCP) as texts in the reader's language.

`reception_book` reads the session's registrations through `storage.reception_book` (which
masks denouncers and logs every revealed identity) and makes each a line of Form 03; the
file formats are built from it in `bot.exports`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import MissingMessage, Translator
from storage.models import SignUpStatus
from storage.reception_book import BookEntry, anonymised, mask_id_number, session_book
from storage.review import ROUTES
from storage.text import mask_name


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
    status: SignUpStatus


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


def field_text(t: Translator, code: str) -> str:
    # Fields are configurable: one without a catalog entry must not stop an export.
    try:
        return t(f"field.{code}")
    except MissingMessage:
        return code


class Routed(Protocol):
    """A registration, or a staff flow's plain copy of one (storage.review.Case)."""

    @property
    def route(self) -> str | None: ...
    @property
    def route_note(self) -> str: ...
    @property
    def forwarded_to(self) -> str: ...


def route_text(t: Translator, registration: Routed) -> str:
    """The handling route of Form 03 with the reviewer's note; empty before review."""
    route = registration.route
    if not route:
        return ""
    label = t(f"route.{route}", agency=registration.forwarded_to or "—") if route in ROUTES else route
    return f"{label}\n{registration.route_note}" if registration.route_note else label


def _row(entry: BookEntry, t: Translator) -> BookRow:
    number, registration, case, hide = entry.number, entry.registration, entry.case, entry.hidden
    name, address = case.full_name or "", case.address or ""
    id_number = case.id_number or ""
    representatives = list(case.representatives or [])
    if anonymised(case):  # said so, not a blank line that reads like a mistake
        name = t("export.anonymised")
    elif hide:
        name, address, id_number = mask_name(name), t("export.hidden"), mask_id_number(id_number)
        representatives = [mask_name(person) for person in representatives]
    classification = f"{t(f'case_type.{case.case_type.value}')} — {field_text(t, case.field)}"
    notes = t("export.representatives", names=", ".join(representatives)) if representatives else ""
    return BookRow(
        number=number,
        date=registration.created_at.astimezone(t.tz),
        name_and_address="\n".join(part for part in (name, address) if part),
        id_number=id_number,
        content=case.summary,
        classification=classification,
        people=case.group_size,
        prior_agency=case.prior_agency,
        handling_route=route_text(t, case),
        follow_up=case.outcome or "",
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
    """Form 03 for one session, in `t`'s language: `endpoint_ids=None` for every endpoint,
    else only those. Revealing a denouncer writes an audit row; the caller commits. Raises
    NotFound."""
    book = await session_book(
        db, session_id, endpoint_ids=endpoint_ids, reveal_denouncers=reveal_denouncers, actor=actor, now=now
    )
    session = book.session
    return ReceptionBook(
        session_title=session.title,
        starts_at=session.starts_at.astimezone(t.tz),
        host=session.host,
        endpoints=[
            EndpointBook(name, [_row(entry, t) for entry in entries]) for name, entries in book.endpoints
        ],
        masked=book.masked,
    )
