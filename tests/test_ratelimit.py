"""The outbox's pacing, on a virtual clock."""

from __future__ import annotations

import asyncio

from bot.ratelimit import RateLimiter


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.started: list[tuple[str, float]] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds  # the virtual clock only moves forward


async def test_overall_rate_and_per_chat_interval() -> None:
    time = VirtualTime()
    limiter = RateLimiter(per_second=10, chat_interval=1.0, monotonic=time.monotonic, sleep=time.sleep)
    slots = [limiter.book(chat) for chat in ("a", "b", "c", "a", "d", "a")]
    # In the order asked: "d" waits behind the second "a" (which waits for its chat).
    assert slots == [0.0, 0.1, 0.2, 1.0, 1.1, 2.0]


async def test_messages_start_in_order_and_a_429_pauses_the_channel() -> None:
    time = VirtualTime()
    limiter = RateLimiter(per_second=100, chat_interval=0.0, monotonic=time.monotonic, sleep=time.sleep)

    async def send(chat: str) -> None:
        await limiter.wait(chat)
        time.started.append((chat, time.now))

    limiter.pause(5.0)
    await asyncio.gather(*(send(f"chat-{n}") for n in range(3)))
    assert [chat for chat, _ in time.started] == ["chat-0", "chat-1", "chat-2"]
    assert time.started[0][1] >= 5.0


class StalledTime:
    """Time that moves only when the test says, waking every sleeper whose time has come at
    once, as a busy event loop does."""

    def __init__(self) -> None:
        self.now = 0.0
        self.moved = asyncio.Condition()

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        async with self.moved:
            await self.moved.wait_for(lambda: self.now >= until)

    async def move_to(self, moment: float) -> None:
        self.now = moment
        async with self.moved:
            self.moved.notify_all()
        for _ in range(100):  # let everyone woken run
            await asyncio.sleep(0)


async def test_late_wake_ups_never_put_more_than_the_rate_into_one_second() -> None:
    time = StalledTime()
    limiter = RateLimiter(per_second=10, chat_interval=0.0, monotonic=time.monotonic, sleep=time.sleep)
    gone: list[float] = []

    async def send(chat: str) -> None:
        await limiter.wait(chat)
        gone.append(time.now)

    sending = [asyncio.create_task(send(f"chat-{n}")) for n in range(25)]
    await time.move_to(0.0)  # all booked: 0.0, 0.1 … 2.4
    await time.move_to(2.0)  # the loop was busy for two seconds: 21 slots have passed
    moment = 2.0
    while not all(task.done() for task in sending):
        moment += 0.05
        await time.move_to(moment)
    assert len(gone) == 25
    busiest = max(sum(1 for m in gone if start <= m < start + 1.0 - 1e-9) for start in gone)
    assert busiest == 10


async def test_chats_whose_interval_has_passed_are_forgotten() -> None:
    time = VirtualTime()
    limiter = RateLimiter(per_second=1000, chat_interval=1.0, monotonic=time.monotonic, sleep=time.sleep)
    for n in range(10_001):
        limiter.book(f"chat-{n}")
    time.now = 100.0  # every interval has passed
    assert limiter.book("chat-0") == 100.0  # still paced as before
    assert len(limiter._next_for_chat) == 1
