"""Retries for Bot API requests: wait out 429s, back off on 5xx and network errors."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response

log = logging.getLogger(__name__)


class RetryMiddleware(BaseRequestMiddleware):
    """429: the whole bot waits `retry_after` (Telegram's flood limit is per bot, so every
    request in flight, replies and outbox alike, holds back), then retries.
    5xx, timeouts, garbled answers: exponential backoff with jitter.

    getUpdates is left alone: the polling loop has its own backoff. The outbox's bot does not
    wait out 429s here: its rate limiter pauses, so the sends held back do not all go at once
    when the pause ends (which would earn the next 429).
    """

    def __init__(
        self,
        max_retries: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        wait_out_rate_limits: bool = True,
    ) -> None:
        self.max_retries = max_retries
        self.wait_out_rate_limits = wait_out_rate_limits
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._paused_until = 0.0  # event-loop time before which no request goes out

    async def _wait_for_pause(self) -> None:
        delay = self._paused_until - asyncio.get_running_loop().time()
        if delay > 0:  # a pause extended meanwhile is met by the next 429
            await asyncio.sleep(delay)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        if isinstance(method, GetUpdates):
            return await make_request(bot, method)
        attempt = 0
        while True:
            await self._wait_for_pause()
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if not self.wait_out_rate_limits:
                    raise  # the caller paces itself (the outbox) and must hear of it at once
                failure: Exception = error
                delay = float(error.retry_after)
                self._paused_until = max(self._paused_until, asyncio.get_running_loop().time() + delay)
            except (TelegramServerError, TelegramNetworkError, ClientDecodeError) as error:
                failure = error
                delay = min(self.max_delay, self.base_delay * 2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            if attempt > self.max_retries:
                raise failure
            log.warning(
                "%s failed (%s), retry %d/%d in %.2fs",
                type(method).__name__,
                type(failure).__name__,
                attempt,
                self.max_retries,
                delay,
            )
            await asyncio.sleep(delay)


class RateLimitCounter(BaseRequestMiddleware):
    """Tells `throttled` of every 429 Telegram answers (registered innermost: each attempt's)."""

    def __init__(self, throttled: Callable[[], None]) -> None:
        self.throttled = throttled

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[Any],
        bot: Bot,
        method: TelegramMethod[Any],
    ) -> Response[Any]:
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter:
            self.throttled()
            raise
