"""Notices that did not reach the citizen: failed after every retry, outside a chat window with
no template, or about their own case to a citizen who blocked the bot. Listed for staff to
call, then marked as contacted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from storage import audit
from storage.models import CaseType, Citizen, Notification, SignUp
from storage.outbox import ABOUT_THEIR_CASE
from storage.review import Case, case_of
from storage.staff import Actor

TO_CALL = ("failed", "undeliverable")
CONTACTED = "contacted"
SCAN = 500  # the latest rows looked at for an officer's scope; older ones wait their turn


@dataclass(frozen=True)
class ToCall:
    """A notice to make up for by phone, with whom to call and the case it was about."""

    notice_id: int
    kind: str
    due_at: datetime
    state: str  # failed | undeliverable | unreachable: why it did not reach them
    citizen_name: str | None
    phone: str | None
    channel: str
    case: Case | None  # None: a broadcast or a staff notice


async def to_call(db: AsyncSession, actor: Actor, *, limit: int = 10) -> list[ToCall]:
    """The latest undelivered notices the actor may act on: an officer those of registrations
    at their endpoints, never a denouncer's without the right to see denouncers."""
    rows = await db.execute(
        select(Notification, Citizen)
        .join(Citizen, Citizen.id == Notification.citizen_id)
        .where(to_call_now(), Citizen.anonymised_at.is_(None))
        .order_by(Notification.due_at.desc(), Notification.id.desc())
        .limit(SCAN)
    )
    found = []
    for notice, citizen in rows:
        registration_id = notice.params.get("registration_id")
        registration = await db.get(SignUp, registration_id) if registration_id else None
        if not may_act(actor, registration):
            continue
        found.append(
            ToCall(
                notice_id=notice.id,
                kind=notice.kind,
                due_at=notice.due_at,
                state=notice.state,
                citizen_name=citizen.full_name,
                phone=citizen.phone,
                channel=citizen.channel,
                case=None if registration is None else case_of(registration),
            )
        )
        if len(found) == limit:
            break
    return found


def to_call_now() -> ColumnElement[bool]:
    return or_(
        Notification.state.in_(TO_CALL),
        and_(Notification.state == "unreachable", Notification.kind.in_(ABOUT_THEIR_CASE)),
    )


def may_act(actor: Actor, registration: SignUp | None) -> bool:
    if registration is None:  # a broadcast or a staff notice: the office's, admins only
        return actor.is_admin
    case = registration.case
    if case is not None and case.case_type == CaseType.DENUNCIATION and not actor.see_denouncers:
        return False
    return actor.sees_endpoint(registration.event_endpoint.endpoint_id)


async def mark_contacted(db: AsyncSession, notice_id: int, actor: Actor, *, now: datetime) -> bool:
    """False if the notice is gone, already marked, or not the actor's to act on."""
    notice = await db.scalar(select(Notification).where(Notification.id == notice_id, to_call_now()))
    if notice is None:
        return False
    registration_id = notice.params.get("registration_id")
    registration = await db.get(SignUp, registration_id) if registration_id else None
    if not may_act(actor, registration):
        return False
    notice.state, notice.result = CONTACTED, f"contacted by {actor} ({notice.result})"[:300]
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action="notice.contacted",
        target_type="notification",
        target_id=notice.id,
    )
    return True
