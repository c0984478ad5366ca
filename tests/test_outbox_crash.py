"""The outbox when its process dies or is stopped: a dead sender's claims are taken over within
one tick, a live one's never; a kill repeats at most what was in flight; a stop gives back
what it has not sent, so it loses and repeats nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.dialog.types import Reply
from bot.notify import Outbox
from storage.models import Notification
from tests.conftest import World
from tests.flows import consent
from tests.support import ChatUser
from tests.test_broadcast import start_broadcast, three_registrants
from tests.test_outbox import RecordingChannel

TEXT = "Thông báo gửi khi tiến trình gửi bị dừng."


def one_tick(app: App) -> timedelta:
    return timedelta(seconds=app.settings.outbox_interval_seconds)


async def broadcast_to_four(app: App, admin: ChatUser) -> None:
    await three_registrants(app)
    await start_broadcast(admin, "Tất cả", None, TEXT)
    await admin.press("Gửi")


async def states(app: App) -> dict[int, tuple[str, int]]:
    async with app.sessions() as db:
        rows = await db.execute(
            select(Notification.id, Notification.state, Notification.attempts).where(
                Notification.kind == "broadcast"
            )
        )
        return {notice_id: (state, attempts) for notice_id, state, attempts in rows}


def received(channel: RecordingChannel) -> Counter[str]:
    return Counter(user for user, text in channel.sent if TEXT in text)


@dataclass
class DyingChannel(RecordingChannel):
    """Delivers to the first `until` recipients; the next message reaches the platform, but its
    answer never comes back (the process is killed mid-send)."""

    until: int = 2
    hung: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        await super().send(user_id, replies)
        if len(self.sent) > self.until:
            self.hung.set()
            await asyncio.Event().wait()


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll `condition` (a database read, no event to wait on) until it holds."""
    for _ in range(int(within / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the condition never held")


async def test_a_dead_senders_claims_are_taken_over_within_one_tick(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await broadcast_to_four(staff_app, admin)
    dead = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": RecordingChannel()})
    assert len(await dead._claim()) == 4  # claimed, then the process is killed: nothing recorded
    channel = RecordingChannel()
    restarted = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel})
    assert await restarted.send_due() == 0  # its lease still runs: it might be alive
    clock.advance(one_tick(staff_app))
    assert await restarted.send_due() == 4
    assert received(channel) == {"1": 1, "2": 1, "3": 1, "4": 1}


async def test_a_live_sender_keeps_its_claims_by_its_heartbeat(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await broadcast_to_four(staff_app, admin)
    slow = DyingChannel(until=0)  # alive, but its first send takes longer than a lease
    alive = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": slow})
    sending = asyncio.create_task(alive.send_due())
    try:
        await asyncio.wait_for(slow.hung.wait(), timeout=10)
        clock.advance(alive.lease * 3)

        async def renewed() -> bool:
            async with staff_app.sessions() as db:
                claimed_at = await db.scalars(
                    select(Notification.claimed_at).where(Notification.state == "sending")
                )
                return set(claimed_at) == {clock.now()}

        await eventually(renewed)
        other = RecordingChannel()
        second = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": other})
        assert await second.send_due() == 0
        assert other.sent == []
    finally:
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)


async def test_a_kill_repeats_at_most_what_was_in_flight(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    await broadcast_to_four(staff_app, admin)
    dying = DyingChannel(until=2)
    outbox = Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": dying})
    outbox.workers = 1  # one send at a time: the moment of the kill is exact
    sending = asyncio.create_task(outbox.send_due())
    await asyncio.wait_for(dying.hung.wait(), timeout=10)

    async def delivered_are_recorded() -> bool:
        return Counter(state for state, _ in (await states(staff_app)).values()) == {"sent": 2, "sending": 2}

    await eventually(delivered_are_recorded)  # each result written as soon as known
    at_kill = await states(staff_app)
    in_flight = sum(state == "sending" for state, _ in at_kill.values())
    sending.cancel()  # killed: nothing it holds is written any more
    await asyncio.gather(sending, return_exceptions=True)
    assert await states(staff_app) == at_kill
    clock.advance(one_tick(staff_app))
    channel = RecordingChannel()
    await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).drain()
    both = received(dying) + received(channel)
    assert set(both) == {"1", "2", "3", "4"}  # nobody lost
    duplicated = sum(count - 1 for count in both.values())
    assert duplicated == 1 <= in_flight  # only the send cut off mid-way went twice


async def test_a_stop_gives_back_unsent_claims_and_loses_or_repeats_nothing(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    for n in range(5, 17):  # 12 more citizens who consented
        await consent(ChatUser(staff_app.dialog, user_id=str(n)))
    await broadcast_to_four(staff_app, admin)
    slow = staff_app.settings.model_copy(update={"outbox_rate_per_second": 2.0})  # 16 take 8 s
    first = RecordingChannel()
    outbox = Outbox(staff_app.sessions, slow, staff_app.clock, {"test": first})
    sending = asyncio.create_task(outbox.drain())

    async def started() -> bool:
        return bool(first.sent)

    await eventually(started)
    outbox.stop_soon()  # SIGTERM
    await asyncio.wait_for(sending, timeout=2)  # at once, not after the claimed batch is sent
    after = await states(staff_app)
    assert not any(state == "sending" for state, _ in after.values())
    assert sum(state == "sent" for state, _ in after.values()) == len(first.sent) < 16
    assert all(attempts == 0 for state, attempts in after.values() if state == "pending")  # not counted
    second = RecordingChannel()
    await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": second}).drain()
    both = received(first) + received(second)
    assert len(both) == 16 and set(both.values()) == {1}
