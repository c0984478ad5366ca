"""Broadcasts: one outbox row per recipient, written with the broadcast itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.models import (
    Broadcast,
    Citizen,
    Endpoint,
    Event,
    EventEndpoint,
    Notification,
    SignUp,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.outbox import BroadcastMessage, NoticeKind, queue_all
from storage.registrations import ACTIVE
from storage.rules import OPEN_STATUSES
from storage.staff import Actor

AUDIENCES = ("session", "endpoint", "all")


@dataclass(frozen=True)
class Started:
    id: int
    total: int  # recipients


@dataclass(frozen=True)
class Progress:
    id: int
    total: int
    sent: int
    failed: int
    unreachable: int
    left: int
    state: str


async def recipients(db: AsyncSession, audience: str, target_id: int | None, *, now: datetime) -> list[int]:
    """Reachable citizens: an event's sign-ups and petitioners, an endpoint's coming ones, or all
    who consented."""
    reachable = (Citizen.unreachable.is_(False), Citizen.anonymised_at.is_(None))
    if audience == "all":
        query = select(Citizen.id).where(*reachable, Citizen.consent_at.is_not(None))
    else:
        query = (
            select(Citizen.id)
            .join(SignUp, SignUp.citizen_id == Citizen.id)
            .join(Event, Event.id == SignUp.session_id)
            .join(EventEndpoint, EventEndpoint.id == SignUp.session_endpoint_id)
            .where(*reachable, SignUp.status.in_(ACTIVE))
        )
        if audience == "session":
            # And the voters who petitioned, in writing too (no sign-up): a round's results are theirs.
            petitioned = and_(
                Submission.kind == SubmissionKind.PETITION, Submission.status != SubmissionStatus.WITHDRAWN
            )
            petitioners = (
                select(Citizen.id)
                .join(Submission, Submission.citizen_id == Citizen.id)
                .where(*reachable, Submission.event_id == target_id, petitioned)
            )
            signed_up = query.where(SignUp.session_id == target_id)
            return sorted(set(await db.scalars(union(signed_up, petitioners))))
        else:
            query = query.where(
                EventEndpoint.endpoint_id == target_id,
                Event.starts_at > now,
                Event.status.in_(OPEN_STATUSES),
            )
    return sorted(set(await db.scalars(query.distinct())))


async def target_name(db: AsyncSession, audience: str, target_id: int | None) -> str | None:
    """The title of the session or the name of the endpoint an audience names; None for all
    citizens, or when there is no such session or endpoint."""
    if audience == "session" and target_id is not None:
        return await db.scalar(select(Event.title).where(Event.id == target_id))
    if audience == "endpoint" and target_id is not None:
        return await db.scalar(select(Endpoint.name).where(Endpoint.id == target_id))
    return None


async def start(
    db: AsyncSession, *, audience: str, target_id: int | None, text: str, actor: Actor, now: datetime
) -> Started:
    people = await recipients(db, audience, target_id, now=now)
    broadcast = Broadcast(
        created_by=str(actor),
        audience=audience,
        target_id=target_id,
        text=text,
        total=len(people),
        state="running",
        created_at=now,
    )
    db.add(broadcast)
    await db.flush()
    message = BroadcastMessage(broadcast.id)
    await queue_all(db, NoticeKind.BROADCAST, [(citizen_id, message) for citizen_id in people], now=now)
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action="broadcast.start",
        target_type="broadcast",
        target_id=broadcast.id,
        audience=audience,
        audience_id=target_id,
        recipients=len(people),
    )
    await db.flush()
    return Started(broadcast.id, broadcast.total)


async def progress(db: AsyncSession, broadcast: Broadcast) -> Progress:
    counts = dict(
        (
            await db.execute(
                select(Notification.state, func.count())
                .where(Notification.broadcast_id == broadcast.id)
                .group_by(Notification.state)
            )
        ).all()
    )
    left = counts.get("pending", 0) + counts.get("sending", 0)
    # One notice per recipient, written at the start; sent ones are deleted after
    # HANDLED_KEEP_DAYS (outbox.purge_sent), so what the other states do not hold was sent.
    not_sent = sum(count for state, count in counts.items() if state != "sent")
    return Progress(
        id=broadcast.id,
        total=broadcast.total,
        sent=broadcast.total - not_sent,
        failed=counts.get("failed", 0),
        unreachable=counts.get("unreachable", 0),
        left=left,
        state=broadcast.state,
    )


async def recent(db: AsyncSession, limit: int = 10) -> list[Progress]:
    """The latest broadcasts, newest first, each with how far it got."""
    found = list(await db.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(limit)))
    return [await progress(db, broadcast) for broadcast in found]


async def state_of(db: AsyncSession, broadcast_id: int) -> str | None:
    """running | cancelled | done; None if there is no such broadcast."""
    return await db.scalar(select(Broadcast.state).where(Broadcast.id == broadcast_id))


async def cancel(db: AsyncSession, broadcast_id: int, *, actor: Actor, now: datetime) -> int:
    """Stop a running broadcast: what has not gone yet will not. Returns how many were stopped."""
    broadcast = await db.get(Broadcast, broadcast_id)
    if broadcast is None:
        return 0
    result = await db.execute(
        update(Notification)
        .where(Notification.broadcast_id == broadcast.id, Notification.state == "pending")
        .values(state="cancelled", result="broadcast cancelled")
    )
    broadcast.state, broadcast.finished_at = "cancelled", now
    audit.record(
        db,
        at=now,
        actor=str(actor),
        action="broadcast.cancel",
        target_type="broadcast",
        target_id=broadcast.id,
    )
    await db.flush()
    return int(result.rowcount)  # type: ignore[attr-defined]


async def finish_done(db: AsyncSession, *, now: datetime) -> list[Broadcast]:
    """Running broadcasts with nothing left to send become done; returned so the sender can report."""
    running = list(await db.scalars(select(Broadcast).where(Broadcast.state == "running")))
    finished = []
    for broadcast in running:
        if (await progress(db, broadcast)).left == 0:
            broadcast.state, broadcast.finished_at = "done", now
            finished.append(broadcast)
    await db.flush()
    return finished
