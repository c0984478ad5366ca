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
- **Followed**: each update is handled under a reference id of its own (bot/logs.py: in
  every log line meanwhile, and in the apology if the engine fails) and counted by its
  outcome, with the time from accepting it to its replies sent (bot/metrics.py).
- **Several workers** (PostgreSQL, bot/workers.py): an update is handled by the worker that
  stored it. One whose user has an older update another worker has not finished waits for
  it first (up to ORDER_PATIENCE_S), or takes it over if that worker is dead; so one user's
  updates are handled, and answered, in the order they were stored. After each heartbeat a
  worker sweeps: a dead worker's unfinished updates are taken over (each by one worker) and
  finished here. Replies another live worker owes are never sent again here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import logs, metrics
from bot.app import App
from bot.dialog.engine import KeyedLocks
from bot.dialog.types import RecipientUnreachable, Reply
from storage import inbound, workers
from storage.db import one_statement
from storage.identity import UserKey

log = logging.getLogger(__name__)

# How long an update waits for an older one of its user that a live worker holds (not
# handled, or its replies not yet sent). A live worker gets to it, however long its queue
# (its messages wait for their turn in the bot's rate); past this, one that is stuck
# (alive, yet not finishing it) holds nobody back.
ORDER_PATIENCE_S = 60.0
FIRST_LOOK_S, LAST_LOOK_S = 0.02, 0.5  # between two looks at whether it is finished

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
    engine owed is sent again at the next start, or by another worker once this one is dead)."""

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
        self._in_hand: set[str] = set()  # stored or taken over here, not done yet
        self._queued: dict[str, Payload] = {}  # waiting for their user's lock
        self._done_here: set[str] = set()  # handled ahead of their turn, by a later one's task
        self._accepted_at: dict[str, float] = {}  # time.monotonic() when accepted, until finished
        app.metrics.serving(channel)

    @property
    def worker(self) -> str:
        return self.app.presence.name

    # --- in ------------------------------------------------------------------------------

    async def accept(
        self, payloads: list[Payload], also: Callable[[AsyncSession], Awaitable[None]] | None = None
    ) -> None:
        """Store the batch (with `also`, in the same transaction), then handle what is new.
        Raises if it could not be stored: the caller must not acknowledge it."""
        if not payloads:
            return
        accepted_at = time.monotonic()
        batch = [(self.event_id_of(payload), self.user_of(payload) or None, payload) for payload in payloads]
        # In hand before stored: a start's resume running meanwhile leaves them to this.
        fresh = {event_id for event_id, _, _ in batch} - self._in_hand
        self._in_hand |= fresh
        try:
            if also is None:
                async with one_statement(self.app.sessions) as db:
                    new = await inbound.store_new(
                        db, self.channel, batch, self.app.clock.now(), worker=self.worker
                    )
            else:
                async with self.app.sessions() as db, db.begin():
                    new = await inbound.store_new(
                        db, self.channel, batch, self.app.clock.now(), worker=self.worker
                    )
                    await also(db)
        except BaseException:
            self._in_hand -= fresh
            for _ in payloads:  # a webhook answers 503, a poll tries again: delivered again
                self.app.metrics.update_done(self.channel, metrics.UNSTORED)
            raise
        self._in_hand -= fresh - new.keys()
        for _ in range(len(batch) - len(new)):
            self.app.metrics.update_done(self.channel, metrics.DUPLICATE)
        self._accepted_at.update(dict.fromkeys(new, accepted_at))
        for event_id, _, payload in batch:
            if event_id in new:  # the same id twice in one batch: handled once
                self.spawn(payload, behind=new.pop(event_id))

    def spawn(self, payload: Payload, *, behind: bool = False) -> None:
        """Handle it in the background; `behind`: an older update of its user may be another
        worker's, unfinished."""
        self._track(self._handle(payload, behind))

    def _track(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _other_kind(self, payload: Payload) -> bool:
        """An update of a kind not handled (logged by its id and kind only)."""
        if self.kind_of is None or (kind := self.kind_of(payload)) in self.kinds:
            return False
        log.info("%s update %s of kind %s not handled", self.channel, self.event_id_of(payload), kind)
        return True

    async def _handle(self, payload: Payload, behind: bool = False) -> None:
        event_id = self.event_id_of(payload)
        with logs.event() as event:
            try:
                outcome = metrics.IGNORED
                if not self._other_kind(payload):
                    user_id = self.user_of(payload)
                    self._queued[event_id] = payload
                    # The user's lock is taken before any other await: tasks queue in arrival order.
                    async with self._order.hold(UserKey(self.channel, user_id)):
                        self._queued.pop(event_id, None)
                        if event_id in self._done_here:  # a later update's task handled it first
                            self._done_here.discard(event_id)
                            return
                        if behind:
                            await self._after_older(user_id, event_id)
                        await self.handle(payload)
                        outcome = metrics.APOLOGISED if event.apologised else metrics.HANDLED
                took = self._since_accepted(event_id)  # its replies are sent
                await self._finish(event_id)
                self.app.metrics.update_done(self.channel, outcome, took)
            except Exception:
                log.exception("%s update %s failed", self.channel, event_id)
                self.app.metrics.update_done(self.channel, metrics.FAILED)
            finally:
                self._queued.pop(event_id, None)
                self._in_hand.discard(event_id)
                self._accepted_at.pop(event_id, None)
                if self.on_finished is not None:
                    self.on_finished(event_id)

    async def _handle_now(self, payload: Payload, event_id: str, how: str = "") -> None:
        """Handle an update out of its own task (ahead of its turn, or taken over) and finish
        it, under a reference id of its own; a failure is logged (`how` it came here)."""
        with logs.event() as event:
            try:
                outcome = metrics.IGNORED
                if not self._other_kind(payload):
                    await self.handle(payload)
                    outcome = metrics.APOLOGISED if event.apologised else metrics.HANDLED
                took = self._since_accepted(event_id)
                await self._finish(event_id)
            except Exception:
                log.exception("%s update %s%s failed", self.channel, event_id, how)
                self.app.metrics.update_done(self.channel, metrics.FAILED)
                return
            self.app.metrics.update_done(self.channel, outcome, took)

    def _since_accepted(self, event_id: str) -> float | None:
        """Seconds since the update was accepted, if it was in this process."""
        accepted_at = self._accepted_at.pop(event_id, None)
        return None if accepted_at is None else time.monotonic() - accepted_at

    async def _finish(self, event_id: str) -> None:
        """Mark the update finished, with every other one finishing meanwhile (group commit).
        Only if still this worker's: one taken over meanwhile is the new owner's to finish."""
        self._finished.append(event_id)
        async with self._commit:
            batch, self._finished = self._finished, []
            if batch:  # else a commit while we waited took ours
                async with one_statement(self.app.sessions) as db:
                    await inbound.replies_sent(
                        db, self.channel, batch, self.app.clock.now(), worker=self.worker
                    )

    # --- one user's order across workers -------------------------------------------------

    async def _after_older(self, user_id: str, event_id: str) -> None:
        """Holding the user's lock: until the user's older updates are finished. Another live
        worker's are waited for (at most ORDER_PATIENCE_S); a dead one's are taken over and
        finished here, and so are this worker's own still queued behind this one (stored in
        the other order): oldest first, up to the next a live worker holds."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + ORDER_PATIENCE_S
        pause = FIRST_LOOK_S
        while True:
            now = self.app.clock.now()
            alive_since = self.app.presence.alive_since()
            async with self.app.sessions() as db:
                ahead = await inbound.ahead_of(
                    db,
                    self.channel,
                    user_id,
                    event_id,
                    worker=self.worker,
                    owed_since=now - timedelta(seconds=ORDER_PATIENCE_S),
                )
                ahead = [
                    older for older in ahead if older.worker != self.worker or older.update_id in self._queued
                ]
                if not ahead:
                    return
                alive = await workers.alive(db, since=alive_since)
            if await self._finish_first(ahead, alive.keys() - {self.worker}, alive_since):
                continue
            if loop.time() > give_up:
                log.warning(
                    "%s update %s handled before the older %s, which worker %s has not finished in %.0f s",
                    self.channel,
                    event_id,
                    ahead[0].update_id,
                    ahead[0].worker,
                    ORDER_PATIENCE_S,
                )
                return
            await asyncio.sleep(pause)
            pause = min(2 * pause, LAST_LOOK_S)

    async def _finish_first(
        self, ahead: list[inbound.Ahead], others_alive: Collection[str], alive_since: datetime
    ) -> bool:
        """Finish here the oldest of `ahead` that no other live worker holds; whether any."""
        finished = False
        for older in ahead:
            if older.worker in others_alive:
                break
            if older.worker == self.worker:
                payload = self._queued.pop(older.update_id, None)
                if payload is None:  # its own task has it
                    break
                self._done_here.add(older.update_id)  # its own task will find it done
                await self._handle_now(payload, older.update_id)
            else:
                taken = await self._take_over(alive_since, [older.update_id])
                await self._finish_taken(taken)
                if not taken:  # another worker took it first: it is that one's now
                    break
            finished = True
        return finished

    async def _take_over(
        self,
        alive_since: datetime,
        update_ids: list[str] | None = None,
        *,
        orphaned_before: datetime | None = None,
        at_start: bool = False,
    ) -> list[inbound.Taken]:
        async with self.app.sessions() as db, db.begin():
            taken = await inbound.take_over(
                db,
                self.channel,
                self.worker,
                alive_since=alive_since,
                orphaned_before=orphaned_before,
                own=at_start,
                update_ids=update_ids,
            )
        taken = [row for row in taken if row.update_id not in self._in_hand]
        self._in_hand.update(row.update_id for row in taken)
        if taken and not at_start:
            log.warning(
                "%s: %d updates of workers not heard of for %.0f s taken over",
                self.channel,
                len(taken),
                self.app.presence.dead_after.total_seconds(),
            )
        return taken

    async def _finish_taken(self, taken: list[inbound.Taken]) -> None:
        """Finish, in order, updates of one user taken over while holding the user's lock."""
        for row in taken:
            try:
                if not row.handled:
                    await self._handle_now(row.payload, row.update_id, " taken over")
                elif not row.superseded and row.reply_to is not None:
                    with logs.event():
                        await self._send_owed(row.reply_to)
                        await self._finish(row.update_id)
                    self.app.metrics.update_done(self.channel, metrics.RESENT)
                else:
                    await self._finish(row.update_id)
            except Exception:
                log.exception("%s update %s taken over failed", self.channel, row.update_id)
            finally:
                self._in_hand.discard(row.update_id)

    # --- after a crash, or a worker's death ------------------------------------------------

    async def resume(self) -> int:
        """At start: send again every reply that may not have gone out, then handle every
        update stored but not handled, of this worker's previous run or of dead workers;
        returns how many updates were resumed, once all are done."""
        tasks, resumed = await self._sweep(at_start=True)
        await asyncio.gather(*tasks)
        return resumed

    async def sweep(self) -> int:
        """After a heartbeat: take over dead workers' unfinished updates and finish them in
        the background. Returns how many were taken over."""
        tasks, _ = await self._sweep(at_start=False)
        return len(tasks)

    async def _sweep(self, *, at_start: bool) -> tuple[list[asyncio.Task[None]], int]:
        alive_since = self.app.presence.alive_since()
        # Rows stored with no worker (before workers were recorded) are anyone's, once old.
        taken = await self._take_over(
            alive_since, orphaned_before=None if at_start else alive_since, at_start=at_start
        )
        owed: dict[str, list[str]] = {}
        done: list[str] = []  # replies owed, but a later update's replies went out since
        for row in taken:
            if row.handled and not row.superseded and row.reply_to is not None:
                owed.setdefault(row.reply_to, []).append(row.update_id)
            elif row.handled:
                done.append(row.update_id)
        work = [self._resend(user_id, event_ids) for user_id, event_ids in owed.items()]
        work += [self._finish_quietly(event_id) for event_id in done]
        unhandled = [row.payload for row in taken if not row.handled]
        work += [self._handle(payload, behind=True) for payload in unhandled]
        return [self._track(item) for item in work], len(unhandled)  # in order: locks are FIFO

    async def _finish_quietly(self, event_id: str) -> None:
        try:
            await self._finish(event_id)
        except Exception:
            log.exception("%s update %s could not be marked finished", self.channel, event_id)
        finally:
            self._in_hand.discard(event_id)

    async def _resend(self, user_id: str, event_ids: list[str]) -> None:
        try:
            with logs.event():
                async with self._order.hold(UserKey(self.channel, user_id)):
                    await self._send_owed(user_id)
                for event_id in event_ids:
                    await self._finish(event_id)
                    self.app.metrics.update_done(self.channel, metrics.RESENT)
        except Exception:
            log.exception("%s: the replies owed to %s could not be sent again", self.channel, user_id)
        finally:
            self._in_hand.difference_update(event_ids)

    async def _send_owed(self, user_id: str) -> None:
        replies = await self.app.dialog.owed_replies(UserKey(self.channel, user_id))
        log.info("%s: the last replies to %s sent again", self.channel, user_id)
        with contextlib.suppress(RecipientUnreachable):  # the channel marked them
            await self.send(user_id, replies)

    # --- out -----------------------------------------------------------------------------

    async def wait_idle(self) -> None:
        """Until every update in hand is handled and marked."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
