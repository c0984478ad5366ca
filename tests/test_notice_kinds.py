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
from storage.models import (
    Agency,
    Broadcast,
    CaseType,
    Event,
    Notification,
    SignUp,
    Submission,
    SubmissionKind,
)
from storage.outbox import (
    PARAMS,
    AboutRegistration,
    BroadcastDone,
    BroadcastMessage,
    HearingCancelled,
    HearingConclusion,
    HearingMoved,
    NoticeKind,
    NoticeParams,
    PetitionAnswer,
    QuestionDecision,
    Reminder,
    ReportDue,
    RoundCancelled,
    RoundDeadline,
    RoundMoved,
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
    petition_id: int  # an answered petition of the same citizen
    agency_id: int = 0  # an agency that has not filed its report (the session stands for a hearing)


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
    RoundMoved: lambda c: RoundMoved(
        c.session.id,
        None,
        old=c.session.starts_at - timedelta(days=7),
        new=c.session.starts_at,
        deadline=c.session.starts_at + timedelta(days=5),
        reason="Trùng lịch kỳ họp",
    ),
    RoundCancelled: lambda c: RoundCancelled(c.session.id, reason="Trùng lịch kỳ họp"),
    BroadcastMessage: lambda c: BroadcastMessage(c.broadcast_id),
    BroadcastDone: lambda c: BroadcastDone(c.broadcast_id),
    SessionNotice: lambda c: SessionNotice(c.session.id, c.session.starts_at),
    # The sample event's compile and materials deadlines are set to one moment (below).
    RoundDeadline: lambda c: RoundDeadline(c.session.id, c.session.starts_at + timedelta(days=5)),
    TokenFailed: lambda c: TokenFailed(reason="refresh token expired", failed_at=c.session.created_at),
    StaffRevoked: lambda c: StaffRevoked(),
    PetitionAnswer: lambda c: PetitionAnswer(c.petition_id),
    ReportDue: lambda c: ReportDue(c.session.id, c.agency_id, c.session.starts_at - timedelta(days=7), 3),
    # The citizen's own submission, told of a decision on it; the sample event's conclusion (below).
    QuestionDecision: lambda c: QuestionDecision(c.petition_id),
    HearingConclusion: lambda c: HearingConclusion(c.session.id),
    HearingMoved: lambda c: HearingMoved(
        c.session.id,
        "liaison",
        old=c.session.starts_at - timedelta(days=7),
        new=c.session.starts_at,
        reason="Trùng lịch kỳ họp",
    ),
    HearingCancelled: lambda c: HearingCancelled(c.session.id, "question", reason="Trùng lịch kỳ họp"),
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
        petition = Submission(
            kind=SubmissionKind.PETITION,
            event_id=registration.session_id,
            citizen_id=registration.citizen_id,
            code="KNCT-2026-000001",
            case_type=CaseType.PETITION,
            field="transport",
            summary="Đề nghị sửa chữa đường liên xã đã xuống cấp",
            forwarded_to="Sở Xây dựng",
            outcome="Đã đưa vào kế hoạch đầu tư công năm 2027",
            outcome_at=clock.now(),
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        db.add(petition)
        session = await db.get_one(Event, registration.session_id)
        session.compile_deadline = session.materials_deadline = session.starts_at + timedelta(days=5)
        session.conclusion = "Các cơ quan khắc phục tồn tại trước quý II năm 2027"
        db.add(  # a petition not classified yet: the reminder before the compile deadline has one
            Submission(
                kind=SubmissionKind.PETITION,
                event_id=session.id,
                case_type=CaseType.PETITION,
                field="",
                summary="Đề nghị sửa đường liên xã",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
        await db.flush()
        agency = Agency(name="Sở Tài nguyên và Môi trường", created_at=clock.now())
        db.add(agency)
        await db.flush()
        case = Case(registration, registration.event, broadcast.id, petition.id, agency.id)
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
