"""Serving the messengers configured in the settings, in one process, until SIGINT/SIGTERM.

Telegram (polling or webhook), the Zalo Bot API (polling or webhook) and the Zalo OA
(webhook only) run side by side. Every webhook is a route of one aiohttp server on
WEB_HOST:WEB_PORT, next to `GET /healthz` and `GET /metrics` (bot/scrape.py), which are
served in every mode (polling too).
The outbox sends through all of them.
Platform modules are imported here only when configured, so a Telegram-only office never
loads the Zalo client and a console run loads neither.
Several such processes (workers) may serve one PostgreSQL database behind a load balancer:
each joins the others (bot/workers.py) before it serves, and leaves once its work is done.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot.app import App, freeze_startup_objects
from bot.dialog.types import Channel
from bot.notify import TemplateSender
from bot.scheduler import Ticker
from bot.scrape import MetricsPage

log = logging.getLogger(__name__)

DATABASE_PROBE_SECONDS = 5.0


class WebPortUnavailable(Exception):
    """WEB_HOST:WEB_PORT cannot be listened on (in use by another program, not allowed)."""

    def __init__(self, host: str, port: int, error: OSError) -> None:
        reason = "is in use by another program" if error.errno == errno.EADDRINUSE else error.strerror
        super().__init__(f"WEB_HOST:WEB_PORT {host}:{port} {reason}")


def bind_web_port(host: str, port: int) -> list[socket.socket]:
    """Listen on WEB_HOST:WEB_PORT (each address the host names) before any other work, so a
    busy port is told before the database is touched; `serve` serves on these sockets."""
    listening: list[socket.socket] = []
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            listener = socket.socket(family, kind, proto)
            listening.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
            if family == socket.AF_INET6:  # "::" must not also take the IPv4 port listed next
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listener.bind(address)
            listener.listen(128)
            listener.setblocking(False)
    except OSError as error:
        for listener in listening:
            listener.close()
        raise WebPortUnavailable(host, port, error) from error
    return listening


@dataclass
class Services:
    """What `serve` starts and stops: channels for the outbox, routes, loops, stop hooks."""

    channels: dict[str, Channel] = field(default_factory=dict)
    fallbacks: dict[str, TemplateSender] = field(default_factory=dict)
    routes: list[Callable[[web.Application], None]] = field(default_factory=list)
    loops: list[Callable[[], Coroutine[Any, Any, Any]]] = field(default_factory=list)  # polling
    on_serving: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)  # webhooks set
    on_stop: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)


def build_services(app: App) -> Services:
    settings = app.settings
    services = Services()
    if settings.telegram_bot_token:
        from bot.channels.telegram.runner import TelegramBot

        telegram = TelegramBot(app)
        services.channels[telegram.channel.name] = telegram.outbox_channel
        if settings.telegram_webhook_url:
            services.routes.append(telegram.add_routes)
            services.on_serving.append(telegram.register_webhook)
        else:
            services.loops.append(telegram.run_polling)
        services.on_stop.append(telegram.stop)
        app.presence.sweep_with(telegram.inbound.sweep)
    if settings.zalo_bot_token:
        from bot.channels.zalo.bot_runner import ZaloBotRunner

        zalo_bot = ZaloBotRunner(app)
        services.channels[zalo_bot.channel.name] = zalo_bot.channel
        if settings.zalo_bot_webhook_url:
            services.routes.append(zalo_bot.add_routes)
            services.on_serving.append(zalo_bot.start_webhook)
        else:
            services.loops.append(zalo_bot.run_polling)
        services.on_stop.append(zalo_bot.stop)
        app.presence.sweep_with(zalo_bot.inbound.sweep)
    if "zalo" in settings.messengers:
        from bot.channels.zalo.oa_webhook import ZaloOA

        zalo = ZaloOA(app)
        services.channels[zalo.channel.name] = zalo.channel
        services.fallbacks[zalo.channel.name] = zalo.zns
        services.routes.append(zalo.add_routes)
        services.on_serving.append(zalo.start)
        services.on_stop.append(zalo.stop)
        app.presence.sweep_with(zalo.inbound.sweep)
    return services


class Health:
    """`GET /healthz` for a load balancer or systemd: 200 when every messenger is served
    (webhooks registered, polling started) and the database answers; otherwise 503, saying
    which of the two is missing."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.ready = False

    async def answer(self, request: web.Request) -> web.Response:
        database = await self._database_reachable()
        healthy = self.ready and database
        body = {"ok": healthy, "ready": self.ready, "database": "reachable" if database else "unreachable"}
        return web.json_response(body, status=200 if healthy else 503)

    async def _database_reachable(self) -> bool:
        try:
            async with asyncio.timeout(DATABASE_PROBE_SECONDS):
                async with self.app.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as error:
            log.warning("health check: the database does not answer (%s)", type(error).__name__)
            return False
        return True


async def start_web_server(
    app: App, services: Services, health: Health, listening: list[socket.socket] | None = None
) -> web.AppRunner:
    """The webhooks' routes, /healthz and /metrics on WEB_HOST:WEB_PORT (on `listening`, when
    bound already)."""
    application = web.Application()
    application.router.add_get("/healthz", health.answer)
    application.router.add_get("/metrics", MetricsPage(app).answer)
    for add_routes in services.routes:
        add_routes(application)
    runner = web.AppRunner(application)
    await runner.setup()
    host, port = app.settings.web_host, app.settings.web_port
    try:
        if listening:
            for listener in listening:
                await web.SockSite(runner, listener).start()
        else:
            await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        raise WebPortUnavailable(host, port, error) from error
    log.info(
        "serving %s on %s:%s",
        "webhooks, /healthz and /metrics" if services.routes else "/healthz and /metrics",
        host,
        port,
    )
    return runner


async def serve(
    app: App, stop: asyncio.Event | None = None, listening: list[socket.socket] | None = None
) -> int:
    """Serve every configured messenger until SIGINT/SIGTERM (or `stop` is set), or until a
    polling loop fails; the web server on `listening` (see bind_web_port) if given."""
    services = build_services(app)
    freeze_startup_objects()
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
    ticker = Ticker(app, services.channels, services.fallbacks)
    health = Health(app)
    runner: web.AppRunner | None = None
    polling: list[asyncio.Task[Any]] = []
    joined = False
    try:
        await app.presence.join()  # alive before anything is stored under its name
        joined = True
        app.presence.start()
        runner = await start_web_server(app, services, health, listening)  # a busy port: before any work
        polling = [asyncio.create_task(run()) for run in services.loops]
        for started in services.on_serving:
            await started()
        ticker.start()
        health.ready = True  # webhooks registered, polling started
        log.info("serving %s", ", ".join(services.channels))
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *polling], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        for task in done - {stopped}:
            task.result()  # a polling loop ended by itself: surface why (e.g. a wrong token)
    finally:
        health.ready = False
        await ticker.stop()
        for stop_service in services.on_stop:  # polling ends, work in hand is finished
            await stop_service()
        for task in polling:
            task.cancel()
        await asyncio.gather(*polling, return_exceptions=True)
        if joined:  # after the work in hand: leaving hands what is left to the other workers
            await app.presence.stop()
        if runner is not None:
            await runner.cleanup()
    return 0
