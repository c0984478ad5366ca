"""What every fake server and test web server shares: serving on a free local port, and
waiting for a condition that the server's traffic makes true."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable

from aiohttp import web


def free_port() -> int:
    """A local port nobody listens on now (for a server started in another process)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def serve_locally(application: web.Application, port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve on 127.0.0.1 (port 0: a free one); returns the runner and the base URL."""
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def wait_until(
    condition: Callable[[], object], changed: asyncio.Event, within: float, last: Callable[[], object]
) -> None:
    """Wait for `condition()` to hold, checked whenever `changed` is set (and every 0.2 s);
    on time-out the assertion shows `last()`, what the server saw last."""
    deadline = time.monotonic() + within
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out; last messages: {last()}")
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=min(remaining, 0.2))
