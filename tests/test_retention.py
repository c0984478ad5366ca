"""Retention: citizens inactive for longer than RETENTION_DAYS are anonymised."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import select, update

from bot import retention
from bot.app import App
from bot.clock import FrozenClock
from storage import inbound
from storage.models import (
    AuditEntry,
    Citizen,
    ConversationState,
    InboundUpdate,
    Notification,
    SignUp,
    SignUpStatus,
)
from storage.outbox import NoticeKind, SessionCancelled, dedupe_key, queue
from tests.conftest import World
from tests.flows import consent, register
from tests.support import ChatUser


async def citizen(app: App, user_id: str) -> Citizen:
    async with app.sessions() as db:
        found = await db.scalar(select(Citizen).where(Citizen.channel_user_id == user_id))
        assert found is not None
        return found


async def test_old_data_is_anonymised_recent_data_kept(app: App, world: World, clock: FrozenClock) -> None:
    old, recent = ChatUser(app.dialog, user_id="1"), ChatUser(app.dialog, user_id="2")
    await consent(old)
    await register(old)
    retention_days = app.settings.retention_days
    # Time passes: the session is over and nothing happens for the whole retention period.
    clock.set(world.first_start + timedelta(days=retention_days - 1))
    await consent(recent)
    assert await retention.sweep(app) == 0  # the session is not yet past retention
    clock.set(world.first_start + timedelta(days=retention_days + 1))
    assert await retention.sweep(app) == 1
    gone = await citizen(app, "1")
    assert gone.anonymised_at == clock.now() and gone.full_name is None and gone.phone is None
    kept = await citizen(app, "2")
    assert kept.anonymised_at is None and kept.consent_at is not None
    async with app.sessions() as db:
        registration = await db.scalar(select(SignUp))
        actors = [
            e.actor
            for e in await db.scalars(select(AuditEntry).where(AuditEntry.action == "citizen.anonymise"))
        ]
    assert (
        registration is not None and registration.case.full_name is None and registration.case.summary == ""
    )
    assert actors == ["system:retention"]
    assert await retention.sweep(app) == 0  # once


async def test_anonymising_leaves_past_sessions_as_they_were(
    app: App, world: World, clock: FrozenClock
) -> None:
    """A session long over keeps its list: no registration of it is cancelled, and nobody on
    its waiting list is told, years later, that a seat became free."""
    citizens = [ChatUser(app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    for person in citizens:  # Phường Tân Bình has 2 seats: the third waits
        await consent(person)
        await register(person)
    clock.set(world.first_start + timedelta(days=app.settings.retention_days + 1))
    assert await retention.sweep(app) == 3
    async with app.sessions() as db:
        statuses = [r.status for r in await db.scalars(select(SignUp).order_by(SignUp.id))]
        notices = list(await db.scalars(select(Notification.kind)))
    confirmed, waitlisted = SignUpStatus.CONFIRMED, SignUpStatus.WAITLISTED
    assert statuses == [confirmed, confirmed, waitlisted]
    assert "waitlist_promoted" not in notices


async def test_a_half_entered_registration_is_not_left_behind(
    app: App, world: World, clock: FrozenClock
) -> None:
    """A registration begun and left at the address step keeps name, phone and CCCD in the
    conversation state: anonymising the citizen must not leave them there."""
    chat = ChatUser(app.dialog, user_id="1")
    await consent(chat)
    await register(chat)
    await chat.press("register")
    await chat.say("binh chanh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat.say("nguyễn văn bốn")
    await chat.say("0987 654 321")
    await chat.say("079203004321")  # and then the citizen never comes back
    clock.set(world.first_start + timedelta(days=app.settings.retention_days + 1))
    assert await retention.sweep(app) == 1
    async with app.sessions() as db:
        [state] = list(await db.scalars(select(ConversationState)))
    assert state.data == {}
    assert "079203004321" not in repr(state.data) and "+84987654321" not in repr(state.data)
    await chat.say("xin chào")  # back years later: asked for consent, nothing half-done resumes
    assert "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN" in chat.text


async def test_handled_updates_and_sent_notices_are_deleted_after_the_window(
    app: App, world: World, clock: FrozenClock
) -> None:
    """inbound_updates and the outbox no longer grow without bound: what is handled or sent
    goes after HANDLED_KEEP_DAYS; what still has work (unhandled, failed) stays."""
    keep = timedelta(days=app.settings.handled_keep_days)
    start = clock.now()

    async def arrive(update_id: str, handled: bool) -> None:
        async with app.sessions() as db, db.begin():
            await inbound.store(db, "telegram", update_id, {"update_id": update_id}, clock.now())
            if handled:
                assert await inbound.first_handling(db, "telegram", update_id, clock.now())

    registration_ids = itertools.count(1)

    async def notice(reason: str, state: str) -> None:
        """A notice told apart by its `reason`."""
        async with app.sessions() as db, db.begin():
            citizen = await db.scalar(select(Citizen))
            assert citizen is not None
            params = SessionCancelled(registration_id=next(registration_ids), reason=reason)
            kind, now = NoticeKind.SESSION_CANCELLED, clock.now()
            await queue(db, kind, citizen_id=citizen.id, params=params, now=now)
            sent_at = clock.now() if state == "sent" else None
            await db.execute(
                update(Notification)
                .where(Notification.dedupe_key == dedupe_key(kind, citizen.id, params, now))
                .values(state=state, sent_at=sent_at)
            )

    await consent(ChatUser(app.dialog, user_id="1"))  # its events are handled now too
    await arrive("1", handled=True)
    await arrive("2", handled=False)  # the process died before handling it
    await notice("old-sent", "sent")
    await notice("old-failed", "failed")  # staff still have to call
    await notice("old-cancelled", "cancelled")
    clock.set(start + keep - timedelta(hours=1))
    await arrive("3", handled=True)
    await notice("recent-sent", "sent")
    assert await retention.sweep(app) == 0
    async with app.sessions() as db:  # nothing is past the window yet
        assert (
            len(list(await db.scalars(select(InboundUpdate).where(InboundUpdate.channel == "telegram")))) == 3
        )
        assert len(list(await db.scalars(select(Notification)))) == 4

    clock.set(start + keep + timedelta(minutes=1))
    await retention.sweep(app)
    async with app.sessions() as db:
        updates = sorted(f"{row.channel}:{row.update_id}" for row in await db.scalars(select(InboundUpdate)))
        notices = sorted(row.params["reason"] for row in await db.scalars(select(Notification)))
    assert updates == ["telegram:2", "telegram:3"]  # the chat's, handled at the start, too
    assert notices == ["old-cancelled", "old-failed", "recent-sent"]
