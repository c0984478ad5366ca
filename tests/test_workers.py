"""Several workers on one database: each in-process worker here is a whole app of its own
(its engine, engine locks, pipeline and name), as two `tiepdan run` processes would be; the
clock is shared and moved to make one of them dead. The end-to-end run of two real worker
processes is at the end (tests/worker_processes.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels import inbound as pipeline
from bot.channels.telegram.runner import make_bot
from bot.clock import FrozenClock
from bot.dialog.types import Incoming
from bot.workers import AnotherWorkerOnSqlite
from storage import inbound, migrate, workers
from storage.models import AuditEntry, Citizen, InboundUpdate
from tests.conftest import make_settings
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.support import BUTTONS, ChatUser
from tests.telegram_harness import make_telegram_bot
from tests.worker_processes import run_workers

POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
HEARTBEAT_S = 1.0


async def worker(database_url: str, clock: FrozenClock, port: int) -> App:
    """Another worker's app: named after its port, joined (its heartbeat written)."""
    settings = make_settings(database_url, web_port=port, worker_heartbeat_seconds=HEARTBEAT_S)
    app = build_app(settings, clock)
    await app.presence.join()
    return app


@pytest.fixture
async def pair(database_url: str, clock: FrozenClock) -> AsyncIterator[tuple[App, App]]:
    first, second = await worker(database_url, clock, 8001), await worker(database_url, clock, 8002)
    yield first, second
    await first.close()
    await second.close()


def texts(fake: FakeTelegram, user_id: int) -> list[str]:
    return [message.text for message in fake.sent_to(user_id)]


async def row(app: App, update: dict[str, Any]) -> InboundUpdate:
    async with app.sessions() as db:
        found = await db.scalar(
            select(InboundUpdate).where(InboundUpdate.update_id == str(update["update_id"]))
        )
        assert found is not None
        return found


def dead(clock: FrozenClock, app: App) -> None:
    """Time passes beyond `app`'s last heartbeat: it is dead to the others."""
    clock.advance(app.presence.dead_after + timedelta(seconds=1))


# --- storage: what is taken over, on both engines ----------------------------------------


async def test_only_the_unfinished_updates_of_dead_or_no_workers_are_taken_over(
    app: App, clock: FrozenClock
) -> None:
    now, payload = clock.now(), {"x": 1}
    async with app.sessions() as db, db.begin():
        await workers.beat(db, "live:1", now)
        await workers.beat(db, "dead:1", now - timedelta(minutes=5))
        for worker, ids in (("live:1", ["1", "2"]), ("dead:1", ["3", "4", "5", "6", "7"])):
            batch = [(i, "w" if i == "7" else "u", payload) for i in ids]
            await inbound.store_new(db, "telegram", batch, now, worker=worker)
        await inbound.store(db, "telegram", "8", payload, now - timedelta(minutes=5))  # no worker, old
        await inbound.store(db, "telegram", "9", payload, now)  # no worker, just stored
        # Of the dead worker's: 3 finished; 4 and 5 handled, replies owed (5's are u's last);
        # 6 not handled; 7 (another user's) finished.
        for update_id in ("3", "4", "5", "7"):
            await inbound.first_handling(db, "telegram", update_id, now, reply_to="u")
        await inbound.replies_sent(db, "telegram", ["3", "7"], now)
    async with app.sessions() as db, db.begin():
        taken = await inbound.take_over(
            db, "telegram", "me:1", alive_since=now - timedelta(seconds=30), orphaned_before=now
        )
    assert [(t.update_id, t.handled, t.reply_to, t.superseded) for t in taken] == [
        ("4", True, "u", True),
        ("5", True, "u", False),
        ("6", False, None, False),
        ("8", False, None, False),
    ]
    async with app.sessions() as db, db.begin():  # taken, by a live worker: the next finds only 9
        await workers.beat(db, "me:1", now)
        assert await inbound.take_over(db, "telegram", "other:1", alive_since=now, orphaned_before=None) == [
            inbound.Taken("9", None, payload, False, None, False)
        ]


# --- one event handed to two workers at once ----------------------------------------------


@POSTGRES_ONLY
async def test_an_event_two_workers_handle_at_once_is_written_once(pair: tuple[App, App]) -> None:
    """The consent's writes are clauses of the state's write (storage.db.write_with_turn). The
    worker that waits on the state's lock reads the state the other wrote (its button is now
    an old one), and the event's mark, taken, makes it roll back: one consent, one audit."""
    first, second = pair
    chat = ChatUser(first.dialog, user_id="42")
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    agree = chat.find_option("agree").payload
    same = Incoming(channel="test", user_id="42", option=agree, event_id="42-agree")
    answered = await asyncio.gather(*(app.dialog.handle(same, BUTTONS) for app in (first, second)))
    assert sorted(bool(replies) for replies in answered) == [False, True]  # one answers
    async with first.sessions() as db:
        given = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "consent.give")
        )
        citizen = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "42"))
    assert given == 1
    assert citizen is not None and citizen.consent_at is not None


# --- a dead worker's updates ---------------------------------------------------------------


@POSTGRES_ONLY
async def test_a_dead_workers_updates_are_taken_over_a_live_ones_never(
    pair: tuple[App, App], clock: FrozenClock, fake: FakeTelegram
) -> None:
    a, b = pair
    telegram_a, telegram_b = make_telegram_bot(a, fake, max_retries=0), make_telegram_bot(b, fake)
    # A stored an update of 301 it has not handled yet, and handled one of 302 whose reply it
    # is still sending (here: failed to send, as when A dies between the commit and the send).
    waiting = fake.message_update(301, "/start")
    async with a.sessions() as db, db.begin():
        await inbound.store_new(
            db, "telegram", [(str(waiting["update_id"]), "301", waiting)], clock.now(), worker=a.presence.name
        )
    fake.inject("sendMessage", 500)
    await telegram_a.inbound.accept([fake.message_update(302, "/start")])
    await telegram_a.inbound.wait_idle()
    assert fake.sent_to(302) == []
    # B starts, and sweeps, while A lives: nothing of A's is touched.
    assert await telegram_b.resume_unhandled() == 0
    assert await telegram_b.inbound.sweep() == 0
    assert fake.sent_to(301) == fake.sent_to(302) == []

    dead(clock, a)
    await b.presence.beat()
    assert await telegram_b.inbound.sweep() == 2  # one to handle, one reply owed
    await telegram_b.inbound.wait_idle()
    assert "Xin chào" in texts(fake, 301)[0] and "Xin chào" in texts(fake, 302)[0]
    assert (await row(b, waiting)).worker == b.presence.name
    async with b.sessions() as db:
        assert await inbound.replies_owed(db, "telegram") == []
        assert await inbound.unhandled(db, "telegram") == []
    # A was not dead after all, only slow: its late handling of what B took over changes
    # nothing (no second answer, nothing marked on B's behalf), and a second sweep finds nothing.
    telegram_a.inbound.spawn(waiting)
    await telegram_a.inbound.wait_idle()
    assert await telegram_b.inbound.sweep() == 0
    assert len(fake.sent_to(301)) == len(fake.sent_to(302)) == 1
    await telegram_a.stop()
    await telegram_b.stop()


@POSTGRES_ONLY
async def test_a_worker_that_stopped_cleanly_leaves_at_once(
    pair: tuple[App, App], clock: FrozenClock, fake: FakeTelegram
) -> None:
    a, b = pair
    telegram_b = make_telegram_bot(b, fake)
    waiting = fake.message_update(303, "/start")
    async with a.sessions() as db, db.begin():
        await inbound.store_new(
            db, "telegram", [(str(waiting["update_id"]), "303", waiting)], clock.now(), worker=a.presence.name
        )
    assert await telegram_b.inbound.sweep() == 0
    await a.presence.stop()  # no time passes: leaving is enough
    assert await telegram_b.inbound.sweep() == 1
    await telegram_b.inbound.wait_idle()
    assert "Xin chào" in texts(fake, 303)[0]
    await telegram_b.stop()


# --- one user's order across workers -------------------------------------------------------


@POSTGRES_ONLY
async def test_a_users_older_update_another_live_worker_holds_is_answered_first(
    pair: tuple[App, App], clock: FrozenClock, fake: FakeTelegram
) -> None:
    a, b = pair
    telegram_a, telegram_b = make_telegram_bot(a, fake), make_telegram_bot(b, fake)
    first, second = fake.message_update(304, "/start"), fake.message_update(304, "/help")
    # A has stored the first, and is slow to handle it; B gets the second meanwhile.
    async with a.sessions() as db, db.begin():
        await inbound.store_new(
            db, "telegram", [(str(first["update_id"]), "304", first)], clock.now(), worker=a.presence.name
        )
    await telegram_b.inbound.accept([second])
    await asyncio.sleep(0.3)
    assert fake.sent_to(304) == []  # B waits for A
    telegram_a.inbound.spawn(first)
    await telegram_a.inbound.wait_idle()
    await telegram_b.inbound.wait_idle()
    replies = texts(fake, 304)
    assert len(replies) == 2 and "Xin chào" in replies[0] and "HƯỚNG DẪN" in replies[1]
    assert (await row(b, first)).worker == a.presence.name  # waited for, not taken
    await telegram_a.stop()
    await telegram_b.stop()


@POSTGRES_ONLY
async def test_a_users_older_update_of_a_dead_worker_is_taken_over_first(
    pair: tuple[App, App], clock: FrozenClock, fake: FakeTelegram
) -> None:
    a, b = pair
    telegram_b = make_telegram_bot(b, fake)
    first, second = fake.message_update(305, "/start"), fake.message_update(305, "/help")
    async with a.sessions() as db, db.begin():
        await inbound.store_new(
            db, "telegram", [(str(first["update_id"]), "305", first)], clock.now(), worker=a.presence.name
        )
    dead(clock, a)
    await b.presence.beat()
    started = time.monotonic()
    await telegram_b.inbound.accept([second])
    await telegram_b.inbound.wait_idle()
    assert time.monotonic() - started < pipeline.ORDER_PATIENCE_S  # not waited for
    replies = texts(fake, 305)
    assert len(replies) == 2 and "Xin chào" in replies[0] and "HƯỚNG DẪN" in replies[1]
    assert (await row(b, first)).worker == b.presence.name
    await telegram_b.stop()


@POSTGRES_ONLY
async def test_two_workers_waiting_on_each_other_do_not_stall(
    pair: tuple[App, App], clock: FrozenClock, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three updates of one user: B stores the 1st and the 3rd, A the 2nd; B's two commits
    came back in the other order (delivered at once), so the 3rd's task holds B's lock for
    the user while the 1st queues behind it. The 3rd waits for A's 2nd, which waits for B's
    1st: B handles its queued 1st there and then, and all three go in order."""
    monkeypatch.setattr(pipeline, "ORDER_PATIENCE_S", 5.0)
    a, b = pair
    telegram_a, telegram_b = make_telegram_bot(a, fake), make_telegram_bot(b, fake)
    first, second, third = (fake.message_update(307, words) for words in ("/start", "/language", "/help"))
    for app, update in ((b, first), (a, second)):
        async with app.sessions() as db, db.begin():
            stored = [(str(update["update_id"]), "307", update)]
            await inbound.store_new(db, "telegram", stored, clock.now(), worker=app.presence.name)
    started = time.monotonic()
    await telegram_b.inbound.accept([third])  # behind A's 2nd: waits, holding B's lock for 307
    await asyncio.sleep(0.2)
    telegram_b.inbound.spawn(first)  # queued behind the 3rd
    telegram_a.inbound.spawn(second, behind=True)  # behind B's 1st
    await telegram_b.inbound.wait_idle()
    await telegram_a.inbound.wait_idle()
    assert time.monotonic() - started < pipeline.ORDER_PATIENCE_S
    replies = texts(fake, 307)
    assert len(replies) == 3
    assert "Xin chào" in replies[0] and "chọn ngôn ngữ" in replies[1] and "HƯỚNG DẪN" in replies[2]
    await telegram_a.stop()
    await telegram_b.stop()


@POSTGRES_ONLY
async def test_an_older_update_a_live_worker_never_finishes_holds_the_next_back_only_so_long(
    pair: tuple[App, App], clock: FrozenClock, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "ORDER_PATIENCE_S", 0.5)
    a, b = pair
    telegram_b = make_telegram_bot(b, fake)
    stuck, second = fake.message_update(306, "/start"), fake.message_update(306, "/help")
    async with a.sessions() as db, db.begin():
        await inbound.store_new(
            db, "telegram", [(str(stuck["update_id"]), "306", stuck)], clock.now(), worker=a.presence.name
        )
    await telegram_b.inbound.accept([second])
    await telegram_b.inbound.wait_idle()
    assert len(fake.sent_to(306)) == 1  # the second's answer, after half a second
    assert (await row(b, stuck)).handled_at is None  # still A's to handle
    await telegram_b.stop()


# --- pacing ----------------------------------------------------------------------------


@POSTGRES_ONLY
async def test_the_workers_together_keep_within_the_bots_rate(pair: tuple[App, App]) -> None:
    """Two workers, each sending as fast as it may to a Bot API that refuses more than 10
    messages a second: with TELEGRAM_RATE_PER_SECOND=8 each sends 4 a second, no 429."""
    fake = FakeTelegram(per_second_limit=10)
    await fake.start()
    bots = []
    try:
        for app in pair:
            await app.presence.beat()  # both alive: each its half
            bots.append(make_bot(TOKEN, fake.base_url, 0, pacer=app.presence.pacer(8)))
        started = time.monotonic()
        await asyncio.gather(*(bot.send_message(700 + n, "hi") for bot in bots for n in range(10)))
        elapsed = time.monotonic() - started
    finally:
        for bot in bots:
            await bot.session.close()
        await fake.stop()
    assert [c.status for c in fake.calls_of("sendMessage")] == [200] * 20
    assert elapsed > 2.0  # 20 messages at 8 a second overall


async def test_a_workers_share_follows_the_live_count(database_url: str, clock: FrozenClock) -> None:
    app = build_app(make_settings(database_url), clock)
    try:
        limiter = app.presence.pacer(30)
        await app.presence.beat()
        assert limiter.interval == pytest.approx(1 / 30)
        async with app.sessions() as db, db.begin():
            await workers.beat(db, "another:8081", clock.now())
        await app.presence.beat()
        assert app.presence.live == 2 and limiter.interval == pytest.approx(1 / 15)
        dead(clock, app)  # the other stops beating (this one beats again below)
        await app.presence.beat()
        assert app.presence.live == 1 and limiter.interval == pytest.approx(1 / 30)
    finally:
        await app.close()


# --- SQLite is one process -------------------------------------------------------------


async def test_a_second_worker_on_sqlite_is_refused(tmp_path: Path, clock: FrozenClock) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/one.db"
    await migrate.upgrade(url)
    first = build_app(make_settings(url, web_port=8001), clock)
    second = build_app(make_settings(url, web_port=8002), clock)
    again = build_app(make_settings(url, web_port=8001), clock)
    try:
        await first.presence.join()
        with pytest.raises(AnotherWorkerOnSqlite, match="one process only"):
            await second.presence.join()
        await again.presence.join()  # the same worker started again: its own name
        await first.presence.stop()
        await second.presence.join()  # the first has stopped
    finally:
        for app in (first, second, again):
            await app.close()


# --- start-up --------------------------------------------------------------------------


@POSTGRES_ONLY
async def test_workers_starting_together_migrate_one_at_a_time(database_url: str) -> None:
    await migrate.downgrade(database_url, "base")
    await asyncio.gather(*(migrate.upgrade(database_url) for _ in range(3)))
    assert await migrate.current(database_url) == migrate.revisions()[-1][0]


# --- two real worker processes ---------------------------------------------------------


@POSTGRES_ONLY
async def test_two_worker_processes_with_every_update_delivered_to_both(
    database_url: str, tmp_path: Path
) -> None:
    figures = await run_workers(database_url, tmp_path, citizens=6, updates=9, heartbeat=1.0, rate=20)
    print(figures.line())
    assert figures.problems == []
    assert figures.handled_twice == figures.answered_twice == figures.out_of_order == figures.lost == 0
    assert figures.too_many_requests == 0
    assert min(figures.stored_by.values()) > 0, figures.stored_by  # both workers took updates
    assert figures.resumed_in is not None and figures.resumed_in < 60
