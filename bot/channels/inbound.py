"""The inbound pipeline every channel and mode shares (DESIGN.md §3).

- **Store before acknowledging**: a batch of updates (a poll's, a webhook request's) is
  stored in one statement before the poll's offset moves past it or the webhook answers
  200; an update seen before is not handled again (a stored one is resumed at start).
- **Per-user order**: each update is handled in a task that takes its user's lock before
  any await, so one user's updates are handled in arrival order, different users' at once.
- **Marked handled, replies confirmed**: once an update's replies are sent (or the engine
  failed and apologised, or the update was not for the engine), it is marked finished. The
  marks of updates finishing together go in one statement (a group commit): under load
  that is far less than a round trip per update.
- **Only the kinds it handles**: an update of another kind (one a newer Bot API added) is
  marked handled and logged by its id and kind only, never passed on: its content (a
  sender's name, what they typed) must reach no log line and no library warning.
- **Resume after a crash**: at start, the prompt of every user whose update was handled
  but whose replies were not confirmed sent is sent again (at least once: a repeat is
  possible, a miss is not), then the updates stored but never handled are handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.dialog.engine import KeyedLocks
from bot.dialog.types import RecipientUnreachable, Reply
from storage import inbound
from storage.identity import UserKey

log = logging.getLogger(__name__)

T = TypeVar("T")
Payload = dict[str, Any]


async def acknowledged(channel: str, storing: Awaitable[None]) -> web.Response:
    """A webhook's answer: 200 once the update is stored, 503 when the database cannot take
    it now (locked, unreachable), so the platform delivers it again. Logged in one line by the
    error's kind only: a database error may quote what it refused."""
    try:
        await storing
    except (SQLAlchemyError, OSError) as error:
        kind = type(error).__name__
        log.error("%s webhook: an update could not be stored (%s); answered 503", channel, kind)
        return web.json_response({"ok": False, "error": "unavailable"}, status=503)
    return web.json_response({"ok": True})


async def unless_stopped(stopping: asyncio.Event, work: Awaitable[T]) -> T | None:
    """`work`'s result, or None (work cancelled) once `stopping` is set."""
    job = asyncio.ensure_future(work)
    stopped = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({job, stopped}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the waiting task itself is cancelled
        job.cancel()
        raise
    finally:
        stopped.cancel()
    if not job.done():
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
        return None
    return job.result()


class Inbound:
    """The pipeline of one channel. The channel says how to read an update (its id, its
    user), how to handle it (map it, run the engine, send the replies) and how to send
    replies again; `handle` returning means finished, raising means not (logged; a reply the
    engine owed is sent again at the next start)."""

    def __init__(
        self,
        app: App,
        channel: str,
        *,
        event_id_of: Callable[[Payload], str],
        user_of: Callable[[Payload], str],
        handle: Callable[[Payload], Awaitable[None]],
        send: Callable[[str, list[Reply]], Awaitable[None]],
        on_finished: Callable[[str], None] | None = None,
        kind_of: Callable[[Payload], str] | None = None,
        kinds: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.channel = channel
        self.event_id_of = event_id_of
        self.user_of = user_of
        self.handle = handle
        self.send = send
        self.on_finished = on_finished  # told each event id once it is done (tests)
        self.kind_of = kind_of  # with `kinds`: an update of another kind is only marked handled
        self.kinds = kinds
        self._order = KeyedLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[str] = []  # waiting for the next group commit
        self._commit = asyncio.Lock()

    # --- in ------------------------------------------------------------------------------

    async def accept(
        self, payloads: list[Payload], also: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> None:
        """Store the batch (with `also`, in the same transaction), then handle what is new.
        Raises if it could not be stored: the caller must not acknowledge it."""
        if not payloads:
            return
        batch = [(self.event_id_of(payload), payload) for payload in payloads]
        async with self.app.sessions() as db, db.begin():
            new = await inbound.store_new(db, self.channel, batch, self.app.clock.now())
            if also is not None:
                await also(db)
        for event_id, payload in batch:
            if event_id in new:
                new.discard(event_id)  # the same id twice in one batch: handled once
                self.spawn(payload)

    def spawn(self, payload: Payload) -> None:
        self._track(self._handle(payload))

    def _track(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, payload: Payload) -> None:
        event_id = self.event_id_of(payload)
        if self.kind_of is not None and (kind := self.kind_of(payload)) not in self.kinds:
            log.info("%s update %s of kind %s not handled", self.channel, event_id, kind)
            try:
                await self._finish(event_id)
            except Exception:
                log.exception("%s update %s could not be marked handled", self.channel, event_id)
            finally:
                if self.on_finished is not None:
                    self.on_finished(event_id)
            return
        try:
            # The user's lock is taken before any other await: tasks queue in arrival order.
            async with self._order.hold(UserKey(self.channel, self.user_of(payload))):
                await self.handle(payload)
            await self._finish(event_id)
        except Exception:
            log.exception("%s update %s failed", self.channel, event_id)
        finally:
            if self.on_finished is not None:
                self.on_finished(event_id)

    async def _finish(self, event_id: str) -> None:
        """Mark the update finished, with every other one finishing meanwhile (group commit)."""
        self._finished.append(event_id)
        async with self._commit:
            batch, self._finished = self._finished, []
            if batch:  # else a commit while we waited took ours
                async with self.app.sessions() as db, db.begin():
                    await inbound.replies_sent(db, self.channel, batch, self.app.clock.now())

    # --- after a crash ---------------------------------------------------------------------

    async def resume(self) -> int:
        """Send again every reply that may not have gone out, then handle every update stored
        but not handled; returns how many updates were resumed, once all are done."""
        async with self.app.sessions() as db:
            owed = await inbound.replies_owed(db, self.channel)
            payloads = await inbound.unhandled(db, self.channel)
        by_user: dict[str, list[str]] = {}
        for event_id, user_id in owed:
            by_user.setdefault(user_id, []).append(event_id)
        resumed = [self._resend(user_id, event_ids) for user_id, event_ids in by_user.items()]
        resumed += [self._handle(payload) for payload in payloads]
        tasks = [asyncio.ensure_future(work) for work in resumed]  # in order: locks are FIFO
        for task in tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.gather(*tasks)
        return len(payloads)

    async def _resend(self, user_id: str, event_ids: list[str]) -> None:
        key = UserKey(self.channel, user_id)
        try:
            async with self._order.hold(key):
                replies = await self.app.dialog.owed_replies(key)
                log.info("%s: the last replies to %s sent again after a restart", self.channel, user_id)
                with contextlib.suppress(RecipientUnreachable):  # the channel marked them
                    await self.send(user_id, replies)
            for event_id in event_ids:
                await self._finish(event_id)
        except Exception:
            log.exception("%s: the replies owed to %s could not be sent again", self.channel, user_id)

    # --- out -----------------------------------------------------------------------------

    async def wait_idle(self) -> None:
        """Until every update in hand is handled and marked."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
