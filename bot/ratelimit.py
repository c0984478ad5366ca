"""Pacing of outgoing messages per channel: so many a second overall, one chat at a time.

Slots are booked synchronously, before any wait, so messages start in the order they
were asked for, and two messages to one chat keep their order and their distance. A
message waiting for its chat holds back the ones behind it; notices rarely go to one chat
twice in a batch, and order is worth more than those seconds.
Time and sleep are injected so tests can run on a virtual clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable

FORGET_CHATS_OVER = 10_000  # chats whose interval has passed are forgotten past this many


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        chat_interval: float,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.chat_interval = chat_interval
        self.monotonic = monotonic
        self.sleep = sleep
        self._next_slot = 0.0
        self._next_for_chat: dict[str, float] = {}
        self._gone: deque[float] = deque()  # when the messages of the last second went
        self.set_rate(per_second)

    def set_rate(self, per_second: float) -> None:
        """From now on at most `per_second` (a worker's share changes as workers come and go)."""
        self.interval = 1.0 / per_second
        self.per_window = max(1, math.floor(per_second))

    def book(self, chat: str) -> float:
        """Reserve the earliest slot for `chat`; returns when it starts."""
        now = self.monotonic()
        if len(self._next_for_chat) > FORGET_CHATS_OVER:  # a long-lived sender meets many chats
            self._next_for_chat = {key: at for key, at in self._next_for_chat.items() if at > now}
        start = max(now, self._next_slot, self._next_for_chat.get(chat, 0.0))
        self._next_slot = start + self.interval
        self._next_for_chat[chat] = start + self.chat_interval
        return start

    async def wait(self, chat: str) -> None:
        start = self.book(chat)
        delay = start - self.monotonic()
        if delay > 0:
            await self.sleep(delay)
        # Slots are booked ahead; if the event loop was busy, messages booked apart wake up
        # together. Counted when they go, no second ever carries more than the rate (a
        # platform counts them as they arrive and answers a burst with 429s).
        while True:
            now = self.monotonic()
            while self._gone and now - self._gone[0] >= 1.0:
                self._gone.popleft()
            if len(self._gone) < self.per_window:
                break
            await self.sleep(max(self._gone[0] + 1.0 - now, 0.001))
        self._gone.append(self.monotonic())

    def pause(self, seconds: float) -> None:
        """The platform said 429: nothing goes out for `seconds`."""
        self._next_slot = max(self._next_slot, self.monotonic() + seconds)
