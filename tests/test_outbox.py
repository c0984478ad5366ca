"""The outbox sender delivers waitlist promotions once, in the recipient's language."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.dialog.types import Capabilities, RateLimited, RecipientUnreachable, Reply
from bot.notify import MAX_ATTEMPTS, Outbox
from storage.models import Citizen, Notification
from tests.conftest import World
from tests.flows import consent, register
from tests.support import BUTTONS, ChatUser


@dataclass
class RecordingChannel:
    """A channel that keeps what it was asked to send; `fail` makes it raise like a dead network."""

    name: str = "test"
    capabilities: Capabilities = BUTTONS
    sent: list[tuple[str, str]] = field(default_factory=list)
    documents: list[tuple[str, str]] = field(default_factory=list)
    fail: bool = False
    blocked: bool = False
    limited: float = 0.0

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        if self.fail:
            raise ConnectionError("network down")
        if self.blocked:
            raise RecipientUnreachable(user_id)
        if self.limited:
            raise RateLimited(self.limited)
        self.sent.extend((user_id, reply.text) for reply in replies)
        self.documents.extend((user_id, r.document.filename) for r in replies if r.document is not None)


async def fill_endpoint_and_promote(app: App) -> None:
    """Tân Bình has 2 seats: two confirmed, an English speaker waitlisted, then one cancels."""
    users = [ChatUser(app.dialog, user_id=str(n)) for n in (1, 2, 3)]
    for user, language in zip(users, ("Tiếng Việt", "Tiếng Việt", "English"), strict=True):
        await consent(user, language=language)
        await register(user)
    assert "ON THE WAITING LIST" in users[2].text
    await users[0].press("mine")
    await users[0].press("r:")
    await users[0].press("cancel")
    await users[0].press("yes")


async def test_promotion_notice_is_sent_once(app: App, world: World) -> None:
    await fill_endpoint_and_promote(app)
    channel = RecordingChannel()
    outbox = Outbox(app.sessions, app.settings, app.clock, {"test": channel})
    assert await outbox.send_due() == 1
    [(user_id, text)] = channel.sent
    assert user_id == "3"
    assert "A SEAT IS YOURS" in text and "TCD-2026-000003" in text and "Monday, 07/12/2026 08:00" in text
    assert await outbox.send_due() == 0  # never twice
    assert len(channel.sent) == 1
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
        assert notice is not None and notice.state == "sent" and notice.sent_at == app.clock.now()


async def test_failures_are_retried_later_each_time_then_marked_failed(
    app: App, world: World, clock: FrozenClock
) -> None:
    await fill_endpoint_and_promote(app)
    channel = RecordingChannel(fail=True)
    outbox = Outbox(app.sessions, app.settings, app.clock, {"test": channel})
    delays = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await outbox.send_due() == 0
        async with app.sessions() as db:
            notice = await db.scalar(select(Notification))
            assert notice is not None and notice.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            delays.append(notice.due_at - clock.now())
            assert await outbox.send_due() == 0  # not before its time
            async with app.sessions() as db:
                assert await db.scalar(select(Notification.attempts)) == attempt
            clock.set(notice.due_at)
    # Exponential with jitter: each wait within [half, full] of 30 s, 60 s, 120 s, 240 s.
    for number, delay in enumerate(delays):
        full = timedelta(seconds=30 * 2**number)
        assert full / 2 <= delay <= full, (number, delay)
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
        assert notice is not None
        assert notice.state == "failed" and notice.attempts == MAX_ATTEMPTS
        assert "network down" in notice.result


async def test_unreachable_citizens_are_not_sent_to(app: App, world: World) -> None:
    await fill_endpoint_and_promote(app)
    async with app.sessions() as db, db.begin():
        citizen = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "3"))
        assert citizen is not None
        citizen.unreachable = True
    channel = RecordingChannel()
    outbox = Outbox(app.sessions, app.settings, app.clock, {"test": channel})
    assert await outbox.send_due() == 0
    assert channel.sent == []
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
        assert notice is not None and notice.state == "unreachable"


async def test_notices_for_other_channels_are_left_to_their_process(app: App, world: World) -> None:
    await fill_endpoint_and_promote(app)
    outbox = Outbox(app.sessions, app.settings, app.clock, {"telegram": RecordingChannel(name="telegram")})
    assert await outbox.send_due() == 0
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
        assert notice is not None and notice.state == "pending" and notice.attempts == 0


async def test_a_blocked_recipient_is_not_retried(app: App, world: World) -> None:
    await fill_endpoint_and_promote(app)
    outbox = Outbox(app.sessions, app.settings, app.clock, {"test": RecordingChannel(blocked=True)})
    assert await outbox.send_due() == 0
    assert await outbox.send_due() == 0
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
        assert notice is not None and notice.state == "unreachable" and notice.attempts == 1


async def test_a_429_pauses_the_channel_and_the_notice_waits(app: App, world: World) -> None:
    await fill_endpoint_and_promote(app)
    channel = RecordingChannel(limited=7.0)
    outbox = Outbox(app.sessions, app.settings, app.clock, {"test": channel})
    assert await outbox.send_due() == 0
    limiter = outbox.limiters["test"]
    assert limiter.book("someone") >= limiter.monotonic() + 6.9  # nothing before the pause ends
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
        assert notice is not None and notice.state == "pending" and "rate limited" in notice.result
        assert notice.due_at == app.clock.now() + timedelta(seconds=7)  # just when the pause ends
