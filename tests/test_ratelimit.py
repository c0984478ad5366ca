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
