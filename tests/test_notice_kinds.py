"""The outbox's one door: every kind of notice has its params and a renderer that writes it in
both languages; a notice goes in once per kind, occasion and recipient."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.clock import FrozenClock
from bot.dialog.types import Reply
from bot.i18n import SUPPORTED_LOCALES, Translator
from bot.notify import RENDERERS
from storage.models import Broadcast, Event, Notification, SignUp
from storage.outbox import (
    PARAMS,
    AboutRegistration,
    BroadcastDone,
    BroadcastMessage,
    NoticeKind,
    NoticeParams,
    Reminder,
    SessionCancelled,
    SessionMoved,
    SessionNotice,
    StaffRevoked,
    TokenFailed,
    params_of,
    queue,
    queue_all,
)
from tests.conftest import World
from tests.flows import registered_citizen


@dataclass(frozen=True)
class Case:
    """What the sample notices are about: a confirmed registration, its session, a broadcast."""

    registration: SignUp
    session: Event
    broadcast_id: int


SAMPLES: dict[type[NoticeParams], Callable[[Case], NoticeParams]] = {
    AboutRegistration: lambda c: AboutRegistration(c.registration.id),
    Reminder: lambda c: Reminder(c.registration.id, 24, c.session.starts_at, calendar=True),
    SessionMoved: lambda c: SessionMoved(
        c.registration.id,
        old=c.session.starts_at - timedelta(days=7),
        new=c.session.starts_at,
        deadline=c.session.starts_at - timedelta(days=3),
        reason="Hội trường sửa chữa",
    ),
    SessionCancelled: lambda c: SessionCancelled(c.registration.id, reason="Hội trường sửa chữa"),
    BroadcastMessage: lambda c: BroadcastMessage(c.broadcast_id),
    BroadcastDone: lambda c: BroadcastDone(c.broadcast_id),
    SessionNotice: lambda c: SessionNotice(c.session.id, c.session.starts_at),
    TokenFailed: lambda c: TokenFailed(reason="refresh token expired", failed_at=c.session.created_at),
    StaffRevoked: lambda c: StaffRevoked(),
}


def test_every_kind_has_its_params_and_a_renderer() -> None:
    assert set(PARAMS) == set(NoticeKind) == set(RENDERERS)
    assert set(SAMPLES) == set(PARAMS.values())  # a new kind of params gets a sample below


async def test_every_kind_is_written_in_both_languages(app: App, world: World, clock: FrozenClock) -> None:
    await registered_citizen(app)
    async with app.sessions() as db, db.begin():
        registration = await db.scalar(select(SignUp))
        assert registration is not None
        broadcast = Broadcast(created_by="telegram:9", audience="all", text="Thông báo lịch tiếp", total=1)
        broadcast.created_at = clock.now()
        db.add(broadcast)
        await db.flush()
        case = Case(registration, registration.event, broadcast.id)
        sent = {kind: SAMPLES[PARAMS[kind]](case) for kind in NoticeKind}
        for kind, params in sent.items():
            await queue(db, kind, citizen_id=registration.citizen_id, params=params, now=clock.now())

    clock.advance(timedelta(minutes=1))  # claimed a minute later
    async with app.sessions() as db:
        notices = list(await db.scalars(select(Notification)))
        assert sorted(notice.kind for notice in notices) == sorted(NoticeKind)
        for notice in notices:
            kind = NoticeKind(notice.kind)
            assert params_of(notice, PARAMS[kind]) == sent[kind]  # what went in comes out
            notice.claimed_at = clock.now()
            texts = set()
            for locale in SUPPORTED_LOCALES:
                rendered = await RENDERERS[kind](db, notice, Translator(locale, app.settings.tz))
                assert rendered is not None, kind
                text = rendered.text if isinstance(rendered, Reply) else rendered
                assert text.strip() and "{" not in text, (kind, locale, text)
                texts.add(text)
            assert len(texts) == len(SUPPORTED_LOCALES), kind  # a text of its own in each


async def test_a_notice_goes_in_once_per_kind_occasion_and_recipient(
    app: App, world: World, clock: FrozenClock
) -> None:
    await registered_citizen(app)
    async with app.sessions() as db, db.begin():
        registration = await db.scalar(select(SignUp))
        assert registration is not None
        citizen, session = registration.citizen_id, registration.event
        reminder = Reminder(registration.id, 24, session.starts_at, calendar=False)
        # From every tick until it is sent: once.
        await queue_all(db, NoticeKind.REMINDER, [(citizen, reminder)] * 2, now=clock.now())
        clock.advance(timedelta(minutes=1))
        await queue(db, NoticeKind.REMINDER, citizen_id=citizen, params=reminder, now=clock.now())
        # A later decision is news of its own; the same one written twice is not.
        decision = AboutRegistration(registration.id)
        for _ in range(2):
            await queue(db, NoticeKind.ROUTE_RETURN, citizen_id=citizen, params=decision, now=clock.now())
        clock.advance(timedelta(seconds=1))
        await queue(db, NoticeKind.ROUTE_ACCEPT, citizen_id=citizen, params=decision, now=clock.now())
        await queue(db, NoticeKind.ROUTE_RETURN, citizen_id=citizen, params=decision, now=clock.now())
        counts = dict(
            (await db.execute(select(Notification.kind, func.count()).group_by(Notification.kind))).all()
        )
    assert counts == {"reminder": 1, "route_return": 2, "route_accept": 1}


async def test_a_kind_takes_its_own_params(app: App, world: World, clock: FrozenClock) -> None:
    await registered_citizen(app)
    async with app.sessions() as db, db.begin():
        registration = await db.scalar(select(SignUp))
        assert registration is not None
        wrong = AboutRegistration(registration.id)
        with pytest.raises(TypeError, match="a reminder notice takes Reminder, not AboutRegistration"):
            await queue(
                db, NoticeKind.REMINDER, citizen_id=registration.citizen_id, params=wrong, now=clock.now()
            )
