"""A bot in a process of its own, for `telegram_updates.py`: its CPU time is its own.

    python -m bench.worker echo|tiepdan|layer|unmeasured --api URL [--database-url URL]
        [--recorder ID] [--metrics-port PORT]

- `echo`: a bare aiogram echo bot on aiogram's polling loop (the baseline);
- `tiepdan`: the whole stack, as `tiepdan run` serves Telegram by long polling;
- `layer`: the same, with the dialog engine replaced by a replay of the replies the citizen
  `--recorder` got (no flow and no conversation state): the Telegram layer and the pipeline;
- `unmeasured`: the whole stack with its metrics counting nothing (bench/metrics_cost.py).

With `--metrics-port`, `GET /metrics` is served on 127.0.0.1:PORT, as `tiepdan run` serves it.
With `BENCH_PROFILE=DIR` in the environment, each bot writes its CPU profile (cProfile, on
process time) to DIR/<kind>.prof: `python -m pstats DIR/tiepdan.prof`.

Talks to the driver in lines. Out: `ready`; `done <update_id>` once the bot has finished
with an update (every reply sent); `cpu <seconds>` (this process's CPU time, all threads)
when asked. In: `cpu`, `quit`.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, cast

from aiogram.types import TelegramObject, Update
from aiohttp import web

from bench.echo_bot import echo_dispatcher
from bot.app import build_app, freeze_startup_objects
from bot.channels.telegram.runner import TelegramBot, make_bot
from bot.dialog.engine import Dialog
from bot.dialog.types import Capabilities, Incoming, Reply
from bot.metrics import Metrics
from bot.scrape import MetricsPage
from bot.settings import Settings
from tests.fakes.telegram_api import TOKEN


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def done(
    handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
    update: TelegramObject,
    data: dict[str, Any],
) -> Any:
    """An outer middleware: the update is finished when its handler returns."""
    try:
        return await handler(update, data)
    finally:
        assert isinstance(update, Update)
        say(f"done {update.update_id}")


@dataclass
class Replaying:
    """Stands in for the dialog engine: the recorder gets the real one, and every other
    citizen, step by step, the replies the recorder got."""

    dialog: Dialog
    recorder: str
    replies: list[list[Reply]] = field(default_factory=list)
    steps: dict[str, int] = field(default_factory=dict)

    async def handle(self, incoming: Incoming, capabilities: Capabilities) -> list[Reply]:
        if incoming.user_id == self.recorder:
            replies = await self.dialog.handle(incoming, capabilities)
            self.replies.append(replies)
            return replies
        step = self.steps.get(incoming.user_id, 0)
        self.steps[incoming.user_id] = step + 1
        return self.replies[step]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dialog, name)


class Unmeasured(Metrics):
    """Counts nothing: the update path as it was before the metrics."""

    def update_done(self, channel: str, outcome: str, seconds: float | None = None) -> None:
        pass

    def notice_done(self, channel: str, result: str) -> None:
        pass

    def throttled(self, channel: str) -> None:
        pass


async def commands() -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def main(kind: str, api: str, database_url: str, recorder: str, metrics_port: int) -> None:
    stop: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]] | None = None
    page: web.AppRunner | None = None
    if kind == "echo":
        bot, dp = make_bot(TOKEN, api, 5), echo_dispatcher()
        dp.update.outer_middleware(done)
        polling = dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=True)
        stop = dp.stop_polling
    else:
        # WEB_PORT names the worker: two bots on one database at once are two workers.
        settings = Settings(_env_file=None, database_url=database_url, web_port=metrics_port or 8080)  # type: ignore[call-arg]
        app = build_app(settings)
        app.settings.telegram_polling_timeout = 1
        if kind == "layer":
            app = replace(app, dialog=cast(Dialog, Replaying(app.dialog, recorder)))
        if kind == "unmeasured":
            app = replace(app, metrics=Unmeasured())
        if metrics_port:
            application = web.Application()
            application.router.add_get("/metrics", MetricsPage(app).answer)
            page = web.AppRunner(application, access_log=None)
            await page.setup()
            await web.TCPSite(page, "127.0.0.1", metrics_port).start()
        telegram = TelegramBot(app, bot=make_bot(TOKEN, api, 5))
        telegram.dp.update.outer_middleware(done)
        polling, stop, close = telegram.run_polling(), telegram.stop, app.close
    freeze_startup_objects()  # as `tiepdan run` does before serving
    serving = asyncio.create_task(polling)
    reader = await commands()
    say("ready")
    while line := (await reader.readline()).decode().strip():
        if line == "cpu":
            say(f"cpu {time.process_time()}")
        elif line == "quit":
            break
    await stop()
    await serving
    if page is not None:
        await page.cleanup()
    if close is not None:
        await close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("kind", choices=["echo", "tiepdan", "layer", "unmeasured"])
    parser.add_argument("--api", required=True)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--recorder", default="")
    parser.add_argument("--metrics-port", type=int, default=0)
    args = parser.parse_args()
    run = main(args.kind, args.api, args.database_url, args.recorder, args.metrics_port)
    if profile_to := os.environ.get("BENCH_PROFILE"):  # a directory: one cProfile file per bot
        with cProfile.Profile(time.process_time) as profiler:  # CPU, not wall time
            asyncio.run(run)
        profiler.dump_stats(os.path.join(profile_to, f"{args.kind}.prof"))
    else:
        asyncio.run(run)
