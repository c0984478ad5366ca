"""The storage rules of registrations: capacity, groups, waitlist, deadline — on both engines.

Every sign-up and cancellation runs in its own AsyncSession and transaction, as the
dialog engine runs them, so the concurrency tests exercise the real row locking
(PostgreSQL) and the write lock (SQLite, `BEGIN IMMEDIATE`).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from bot.app import App
from storage import audit, registrations
from storage.errors import AlreadyRegistered, DeadlinePassed, NotFound, SessionNotOpen
from storage.models import (
    AuditEntry,
    CaseType,
    Citizen,
    Event,
    EventEndpoint,
    EventStatus,
    Notification,
    SignUp,
    SignUpStatus,
    Submission,
)
from storage.registrations import CitizenRegistration, Draft
from tests.conftest import NOW, World, local

LEAD_DAYS = 5
CONFIRMED = SignUpStatus.CONFIRMED
WAITLISTED = SignUpStatus.WAITLISTED
CANCELLED = SignUpStatus.CANCELLED
CODE = re.compile(r"TCD-2026-\d{6}")
# The first session starts Monday 7 Dec 2026 08:00 (VN): the summary is due 5 days earlier.
FIRST_DEADLINE = local(2026, 12, 2, 8, 0)
SECOND_DEADLINE = local(2027, 1, 6, 8, 0)


# ---------------------------------------------------------------- helpers


def draft(
    session_endpoint_id: int,
    number: int = 0,
    *,
    group_size: int = 1,
    representatives: tuple[str, ...] = (),
    summary: str = "Gia đình tôi bị thu hồi đất nhưng chưa nhận được tiền bồi thường.",
) -> Draft:
    return Draft(
        session_endpoint_id=session_endpoint_id,
        full_name=f"Công Dân Số {number}",
        phone="+84912345678",
        id_number="079203001234",
        address="12 Lý Thường Kiệt, phường Tân Bình",
        case_type=CaseType.COMPLAINT,
        field="land",
        summary=summary,
        group_size=group_size,
        representatives=list(representatives),
    )


async def make_citizens(app: App, count: int, prefix: str = "c") -> list[int]:
    async with app.sessions() as db, db.begin():
        people = [
            Citizen(channel="test", channel_user_id=f"{prefix}{n}", created_at=NOW) for n in range(count)
        ]
        db.add_all(people)
        await db.flush()
        return [person.id for person in people]


async def sign_up(app: App, citizen_id: int, data: Draft, *, now: datetime = NOW) -> CitizenRegistration:
    """One sign-up in its own session and transaction."""
    async with app.sessions() as db, db.begin():
        citizen = await db.get(Citizen, citizen_id)
        assert citizen is not None
        return await registrations.submit(db, citizen, data, now=now, lead_days=LEAD_DAYS)


async def cancel(app: App, registration_id: int, *, now: datetime = NOW) -> list[int]:
    async with app.sessions() as db, db.begin():
        registration = await db.get(SignUp, registration_id)
        assert registration is not None
        promoted = await registrations.cancel(db, registration, now=now, actor="test:staff")
        return [candidate.id for candidate in promoted]


async def seats_taken(app: App, session_endpoint_id: int) -> int:
    async with app.sessions() as db:
        taken = await db.scalar(
            select(EventEndpoint.seats_taken).where(EventEndpoint.id == session_endpoint_id)
        )
        assert taken is not None
        return taken


async def statuses(app: App) -> dict[int, SignUpStatus]:
    async with app.sessions() as db:
        rows = await db.execute(select(SignUp.id, SignUp.status))
        return {row.id: row.status for row in rows}


async def assert_seats_add_up(app: App) -> None:
    """The counter equals the seats of the confirmed registrations, at every endpoint."""
    async with app.sessions() as db:
        counters: dict[int, int] = {
            se_id: taken
            for se_id, taken in await db.execute(select(EventEndpoint.id, EventEndpoint.seats_taken))
        }
        confirmed: dict[int, int] = {
            se_id: total
            for se_id, total in await db.execute(
                select(SignUp.session_endpoint_id, func.sum(SignUp.seats))
                .where(SignUp.status == CONFIRMED)
                .group_by(SignUp.session_endpoint_id)
            )
        }
    assert counters == {se_id: confirmed.get(se_id, 0) for se_id in counters}


async def notifications(app: App) -> list[Notification]:
    async with app.sessions() as db:
        return list(await db.scalars(select(Notification).order_by(Notification.id)))


async def audit_actions(app: App, target_id: int) -> list[str]:
    async with app.sessions() as db:
        return list(
            await db.scalars(
                select(AuditEntry.action)
                .where(
                    AuditEntry.target_type == "registration",
                    AuditEntry.target_id == str(target_id),
                )
                .order_by(AuditEntry.id)
            )
        )


async def set_session_status(app: App, session_id: int, status: EventStatus) -> None:
    async with app.sessions() as db, db.begin():
        await db.execute(update(Event).where(Event.id == session_id).values(status=status))


async def fill(app: App, se_id: int, count: int, prefix: str) -> list[int]:
    """`count` single sign-ups one after the other, a minute apart; returns their ids."""
    ids = []
    for n, citizen_id in enumerate(await make_citizens(app, count, prefix)):
        joined = NOW + timedelta(minutes=n)
        registration = await sign_up(app, citizen_id, draft(se_id, n), now=joined)
        ids.append(registration.id)
    return ids


# ---------------------------------------------------------------- capacity under load


async def test_200_concurrent_sign_ups_for_30_seats(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "X-BINHCHANH")]
    assert (await seats_taken(app, se_id)) == 0
    people = await make_citizens(app, 200)

    results = await asyncio.gather(
        *(sign_up(app, citizen_id, draft(se_id, n)) for n, citizen_id in enumerate(people))
    )

    count = Counter(result.status for result in results)
    assert count == {CONFIRMED: 30, WAITLISTED: 170}
    assert (await seats_taken(app, se_id)) == 30
    codes = [result.code for result in results]
    assert all(code is not None and CODE.fullmatch(code) for code in codes), codes[:5]
    assert len(set(codes)) == 200
    # What the callers were told is what the database holds.
    stored = await statuses(app)
    assert {result.id: result.status for result in results} == stored
    async with app.sessions() as db:
        stored_codes = set(await db.scalars(select(SignUp.code)))
        submits = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "registration.submit")
        )
    assert stored_codes == set(codes)
    assert submits == 200
    await assert_seats_add_up(app)

    # Five confirmed citizens cancel at once: the five first in the queue move up.
    confirmed_ids = sorted(r.id for r in results if r.status == CONFIRMED)
    waiting_ids = sorted(r.id for r in results if r.status == WAITLISTED)  # same queued_at: by id
    promoted = await asyncio.gather(*(cancel(app, rid) for rid in confirmed_ids[:5]))
    assert sorted(rid for batch in promoted for rid in batch) == waiting_ids[:5]
    assert (await seats_taken(app, se_id)) == 30
    assert Counter((await statuses(app)).values()) == {CONFIRMED: 30, WAITLISTED: 165, CANCELLED: 5}
    assert sorted(n.params["registration_id"] for n in await notifications(app)) == waiting_ids[:5]
    await assert_seats_add_up(app)


async def test_sign_ups_at_different_endpoints_do_not_share_seats(app: App, world: World) -> None:
    tanbinh = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    condao = world.seats[(world.first_id, "DK-CONDAO")]  # 30 seats
    people = await make_citizens(app, 10)
    results = await asyncio.gather(
        *(
            sign_up(app, citizen_id, draft(tanbinh if n % 2 else condao, n))
            for n, citizen_id in enumerate(people)
        )
    )
    by_endpoint = Counter((r.session_endpoint_id, r.status) for r in results)
    assert by_endpoint == {
        (tanbinh, CONFIRMED): 2,
        (tanbinh, WAITLISTED): 3,
        (condao, CONFIRMED): 5,
    }
    assert (await seats_taken(app, tanbinh), await seats_taken(app, condao)) == (2, 5)


# ---------------------------------------------------------------- groups


async def test_group_takes_seats_of_its_representatives(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "X-BINHCHANH")]
    group, small, alone = await make_citizens(app, 3)
    registration = await sign_up(
        app, group, draft(se_id, group_size=7, representatives=("Nguyễn Văn An", "Trần Thị Bình"))
    )
    assert (registration.status, registration.seats, registration.group_size) == (CONFIRMED, 2, 7)
    assert registration.representatives == ["Nguyễn Văn An", "Trần Thị Bình"]
    assert (await seats_taken(app, se_id)) == 2

    # Under five people there are no representatives: everyone attends and takes a seat.
    registration = await sign_up(app, small, draft(se_id, group_size=4))
    assert (registration.status, registration.seats) == (CONFIRMED, 4)
    registration = await sign_up(app, alone, draft(se_id))
    assert registration.seats == 1
    assert (await seats_taken(app, se_id)) == 7

    assert registrations.seats_needed(12, ["A", "B", "C", "D", "E"]) == 5
    assert registrations.seats_needed(5, ["A"]) == 1
    assert registrations.seats_needed(3, []) == 3


async def test_group_that_does_not_fit_is_waitlisted_and_takes_nothing(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    first, group = await make_citizens(app, 2)
    assert (await sign_up(app, first, draft(se_id))).status == CONFIRMED
    registration = await sign_up(
        app, group, draft(se_id, group_size=6, representatives=("Lê Văn Cường", "Phạm Thị Dung"))
    )
    assert (registration.status, registration.seats) == (WAITLISTED, 2)
    assert (await seats_taken(app, se_id)) == 1
    await assert_seats_add_up(app)


# ---------------------------------------------------------------- one registration per session


async def test_one_active_registration_per_citizen_per_session(app: App, world: World) -> None:
    tanbinh = world.seats[(world.first_id, "P-TANBINH")]
    condao = world.seats[(world.first_id, "DK-CONDAO")]
    [citizen] = await make_citizens(app, 1)
    first = await sign_up(app, citizen, draft(tanbinh))

    for se_id in (tanbinh, condao):  # the same session, at any endpoint
        with pytest.raises(AlreadyRegistered) as refused:
            await sign_up(app, citizen, draft(se_id))
        assert refused.value.code == first.code
    assert (await seats_taken(app, tanbinh), await seats_taken(app, condao)) == (1, 0)

    # Another session is another matter.
    other = await sign_up(app, citizen, draft(world.seats[(world.second_id, "P-TANBINH")]))
    assert other.status == CONFIRMED and other.code != first.code

    # A waitlisted registration is active too.
    full = await fill(app, tanbinh, 1, "fill")
    assert (await statuses(app))[full[0]] == CONFIRMED
    [late] = await make_citizens(app, 1, "late")
    assert (await sign_up(app, late, draft(tanbinh))).status == WAITLISTED
    with pytest.raises(AlreadyRegistered):
        await sign_up(app, late, draft(condao))
    await assert_seats_add_up(app)


async def test_same_citizen_racing_itself_gets_one_registration(app: App, world: World) -> None:
    binhchanh = world.seats[(world.first_id, "X-BINHCHANH")]
    condao = world.seats[(world.first_id, "DK-CONDAO")]
    people = await make_citizens(app, 10)

    outcomes = await asyncio.gather(
        *(
            sign_up(app, citizen_id, draft(se_id, n))
            for n, citizen_id in enumerate(people)
            for se_id in (binhchanh, condao)
        ),
        return_exceptions=True,
    )

    pairs = zip(outcomes[::2], outcomes[1::2], strict=True)
    for citizen_id, pair in zip(people, pairs, strict=True):
        won = [o for o in pair if isinstance(o, CitizenRegistration)]
        lost = [o for o in pair if isinstance(o, AlreadyRegistered)]
        assert len(won) == 1 and len(lost) == 1, (citizen_id, pair)
        assert won[0].citizen_id == citizen_id and won[0].status == CONFIRMED
    async with app.sessions() as db:
        per_citizen = Counter(await db.scalars(select(SignUp.citizen_id)))
    assert per_citizen == dict.fromkeys(people, 1)
    assert (await seats_taken(app, binhchanh)) + (await seats_taken(app, condao)) == 10
    await assert_seats_add_up(app)


async def test_refused_duplicate_keeps_no_seat_when_the_caller_commits(app: App, world: World) -> None:
    """The dialog catches AlreadyRegistered and commits its transaction: no seat may stick.

    The second submit starts while the first is still uncommitted, so on PostgreSQL it
    passes the "already registered?" check and is stopped by the unique index.
    """
    se_id = world.seats[(world.first_id, "X-BINHCHANH")]
    [citizen_id] = await make_citizens(app, 1)
    first_done = asyncio.Event()

    async def first() -> CitizenRegistration:
        async with app.sessions() as db, db.begin():
            citizen = await db.get(Citizen, citizen_id)
            assert citizen is not None
            registration = await registrations.submit(db, citizen, draft(se_id), now=NOW, lead_days=LEAD_DAYS)
            first_done.set()
            await asyncio.sleep(0.3)  # the second submit runs into our locks meanwhile
            return registration

    async def second() -> str | None:
        await first_done.wait()
        async with app.sessions() as db, db.begin():
            citizen = await db.get(Citizen, citizen_id)
            assert citizen is not None
            try:
                await registrations.submit(db, citizen, draft(se_id), now=NOW, lead_days=LEAD_DAYS)
            except AlreadyRegistered as refused:
                code = refused.code
            else:
                raise AssertionError("the second submit was accepted")
            # The dialog goes on in the same transaction (it saves the conversation state).
            citizen.locale = "en"
            audit.record(db, at=NOW, actor="test:dialog", action="test.after_refusal")
            await db.flush()
            return code

    registration, _code = await asyncio.gather(first(), second())
    assert registration.status == CONFIRMED
    assert (await seats_taken(app, se_id)) == 1
    assert list((await statuses(app)).values()) == [CONFIRMED]
    async with app.sessions() as db:
        citizen = await db.get(Citizen, citizen_id)
        assert citizen is not None and citizen.locale == "en"
        after = await db.scalar(select(AuditEntry).where(AuditEntry.action == "test.after_refusal"))
        assert after is not None
    await assert_seats_add_up(app)


async def test_codes_are_the_row_ids_and_grow_past_six_digits(app: App, world: World) -> None:
    """The code goes in with the row (one INSERT): its number is the id the row got."""
    se_id = world.seats[(world.first_id, "X-BINHCHANH")]
    first_id, second_id = await make_citizens(app, 2)
    first = await sign_up(app, first_id, draft(se_id))
    assert first.code == f"TCD-2026-{first.id:06d}"
    async with app.sessions() as db, db.begin():  # as if a million had registered
        if app.engine.dialect.name == "postgresql":
            await db.execute(text("SELECT setval(pg_get_serial_sequence('sign_ups', 'id'), 999999)"))
        else:  # the case points at its sign-up: moved along with it
            case = await db.scalar(select(Submission.id).where(Submission.sign_up_id == first.id))
            await db.execute(update(Submission).where(Submission.id == case).values(sign_up_id=None))
            await db.execute(update(SignUp).where(SignUp.id == first.id).values(id=999_999))
            await db.execute(update(Submission).where(Submission.id == case).values(sign_up_id=999_999))
    second = await sign_up(app, second_id, draft(se_id))
    assert (second.id, second.code) == (1_000_000, "TCD-2026-1000000")
    async with app.sessions() as db:
        assert await db.scalar(select(SignUp.code).where(SignUp.id == second.id)) == second.code


async def test_after_cancelling_the_citizen_may_register_again(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]
    [citizen] = await make_citizens(app, 1)
    first = await sign_up(app, citizen, draft(se_id))
    assert await cancel(app, first.id, now=NOW + timedelta(hours=1)) == []
    assert (await seats_taken(app, se_id)) == 0

    again = await sign_up(app, citizen, draft(se_id), now=NOW + timedelta(hours=2))
    assert again.status == CONFIRMED and again.id != first.id and again.code != first.code
    assert await statuses(app) == {first.id: CANCELLED, again.id: CONFIRMED}
    async with app.sessions() as db:
        old = await db.get(SignUp, first.id)
        assert old is not None and old.cancelled_at == NOW + timedelta(hours=1)
    assert (await seats_taken(app, se_id)) == 1
    with pytest.raises(AlreadyRegistered):
        await sign_up(app, citizen, draft(se_id))


# ---------------------------------------------------------------- waitlist


async def test_cancelling_confirmed_promotes_the_first_in_queue(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    confirmed = await fill(app, se_id, 2, "seat")
    early, late, latest = await make_citizens(app, 3, "wait")
    # Queue order is the time of joining, not the row id: `late` is inserted first.
    late_reg = await sign_up(app, late, draft(se_id), now=NOW + timedelta(hours=3))
    early_reg = await sign_up(app, early, draft(se_id), now=NOW + timedelta(hours=2))
    latest_reg = await sign_up(app, latest, draft(se_id), now=NOW + timedelta(hours=4))
    assert late_reg.id < early_reg.id
    assert {late_reg.status, early_reg.status, latest_reg.status} == {WAITLISTED}

    when = NOW + timedelta(days=1)
    assert await cancel(app, confirmed[0], now=when) == [early_reg.id]
    assert (await seats_taken(app, se_id)) == 2
    assert await statuses(app) == {
        confirmed[0]: CANCELLED,
        confirmed[1]: CONFIRMED,
        early_reg.id: CONFIRMED,
        late_reg.id: WAITLISTED,
        latest_reg.id: WAITLISTED,
    }
    [notice] = await notifications(app)
    assert (notice.kind, notice.citizen_id, notice.state) == ("waitlist_promoted", early, "pending")
    assert notice.params == {"registration_id": early_reg.id}
    assert notice.due_at == when
    assert notice.dedupe_key == f"waitlist_promoted:{early_reg.id}:{when.isoformat()}:{early}"
    assert await audit_actions(app, early_reg.id) == ["registration.submit", "registration.promote"]
    assert await audit_actions(app, confirmed[0]) == ["registration.submit", "registration.cancel"]
    async with app.sessions() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "registration.promote"))
        assert entry is not None and (entry.actor, entry.at) == ("system", when)
        promoted = await db.get(SignUp, early_reg.id)
        assert promoted is not None and promoted.queued_at == NOW + timedelta(hours=2)

    # The next cancellation goes to the next in line.
    assert await cancel(app, confirmed[1], now=when) == [late_reg.id]
    assert len(await notifications(app)) == 2
    await assert_seats_add_up(app)


async def test_group_at_head_of_queue_blocks_smaller_later_ones(app: App, world: World) -> None:
    """Strict first come, first served (see `_promote_waitlisted`)."""
    se_id = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    first, second = await fill(app, se_id, 2, "seat")
    group_citizen, single_citizen = await make_citizens(app, 2, "wait")
    group = await sign_up(
        app,
        group_citizen,
        draft(se_id, group_size=7, representatives=("Nguyễn Văn An", "Trần Thị Bình")),
        now=NOW + timedelta(hours=1),
    )
    single = await sign_up(app, single_citizen, draft(se_id), now=NOW + timedelta(hours=2))
    assert (group.status, single.status) == (WAITLISTED, WAITLISTED)

    # One seat frees up: the group needs two, and the single one behind it waits too.
    assert await cancel(app, first) == []
    assert (await seats_taken(app, se_id)) == 1
    assert (await statuses(app))[group.id] == WAITLISTED
    assert (await statuses(app))[single.id] == WAITLISTED
    assert await notifications(app) == []
    async with app.sessions() as db:
        kept = await db.get(SignUp, group.id)
        assert kept is not None and kept.queued_at == NOW + timedelta(hours=1)  # place kept

    # The second seat frees up: now the group fits; the single one still waits.
    assert await cancel(app, second) == [group.id]
    assert (await seats_taken(app, se_id)) == 2
    assert (await statuses(app))[single.id] == WAITLISTED
    await assert_seats_add_up(app)


async def test_cancelling_waitlisted_frees_nothing(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]
    seated = await fill(app, se_id, 2, "seat")
    waiting = await fill(app, se_id, 2, "wait")
    assert [(await statuses(app))[rid] for rid in waiting] == [WAITLISTED, WAITLISTED]

    assert await cancel(app, waiting[0]) == []
    assert (await seats_taken(app, se_id)) == 2
    assert await statuses(app) == {
        seated[0]: CONFIRMED,
        seated[1]: CONFIRMED,
        waiting[0]: CANCELLED,
        waiting[1]: WAITLISTED,
    }
    assert await notifications(app) == []
    assert await audit_actions(app, waiting[0]) == ["registration.submit", "registration.cancel"]
    # Cancelling again changes nothing and writes nothing.
    assert await cancel(app, waiting[0]) == []
    assert await audit_actions(app, waiting[0]) == ["registration.submit", "registration.cancel"]

    # The freed queue place is skipped when a seat opens.
    assert await cancel(app, seated[0]) == [waiting[1]]
    await assert_seats_add_up(app)


async def test_concurrent_double_cancel_gives_seats_back_once(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    seated = await fill(app, se_id, 2, "seat")
    waiting = await fill(app, se_id, 3, "wait")

    # Two presses of "cancel" for the same registration, each in its own transaction.
    presses = await asyncio.gather(cancel(app, seated[0]), cancel(app, seated[0]))
    assert sorted(presses) == [[], [waiting[0]]]
    assert (await seats_taken(app, se_id)) == 2
    assert len(await notifications(app)) == 1
    assert (await audit_actions(app, seated[0])).count("registration.cancel") == 1

    # Two handlers that both read the registration while it was still confirmed.
    async with app.sessions() as db:
        stale = await db.get(SignUp, seated[1])
        assert stale is not None and stale.status == CONFIRMED

    async def cancel_stale() -> list[int]:
        async with app.sessions() as db, db.begin():
            promoted = await registrations.cancel(db, stale, now=NOW, actor="test:staff")
            return [candidate.id for candidate in promoted]

    stale_results = await asyncio.gather(cancel_stale(), cancel_stale())
    assert sorted(stale_results) == [[], [waiting[1]]]
    assert (await seats_taken(app, se_id)) == 2
    assert (await audit_actions(app, seated[1])).count("registration.cancel") == 1

    # Everyone cancels twice at once: the counter ends at zero, never below.
    results = await asyncio.gather(*(cancel(app, rid) for rid in waiting for _ in range(2)))
    promoted = [rid for batch in results for rid in batch]
    assert promoted in ([], [waiting[2]])  # promoted at most once, if it was still waiting
    assert (await seats_taken(app, se_id)) == 0
    assert set((await statuses(app)).values()) == {CANCELLED}
    assert len(await notifications(app)) == 2 + len(promoted)
    for rid in waiting:
        assert (await audit_actions(app, rid)).count("registration.cancel") == 1
    await assert_seats_add_up(app)


async def test_cancel_of_a_registration_promoted_meanwhile_still_cancels_it(app: App, world: World) -> None:
    """The citizen read "waitlisted", then a seat freed up before their cancel arrived."""
    se_id = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    seated = await fill(app, se_id, 2, "seat")
    waiting = await fill(app, se_id, 2, "wait")
    async with app.sessions() as db:
        stale = await db.get(SignUp, waiting[0])
        assert stale is not None and stale.status == WAITLISTED
    assert await cancel(app, seated[0]) == [waiting[0]]

    async with app.sessions() as db, db.begin():
        promoted = await registrations.cancel(db, stale, now=NOW, actor="test:citizen")
        assert [candidate.id for candidate in promoted] == [waiting[1]]
    assert (await statuses(app))[waiting[0]] == CANCELLED
    assert (await seats_taken(app, se_id)) == 2
    assert await audit_actions(app, waiting[0]) == [
        "registration.submit",
        "registration.promote",
        "registration.cancel",
    ]
    await assert_seats_add_up(app)


async def test_cancel_racing_the_promotion_of_the_same_registration(app: App, world: World) -> None:
    """A waitlisted citizen cancels while a cancellation elsewhere promotes them."""
    se_id = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    seated = await fill(app, se_id, 2, "seat")
    waiting = await fill(app, se_id, 2, "wait")
    promoting = asyncio.Event()

    async def staff_cancels() -> list[int]:
        async with app.sessions() as db, db.begin():
            registration = await db.get(SignUp, seated[0])
            assert registration is not None
            promoted = await registrations.cancel(db, registration, now=NOW, actor="test:staff")
            promoting.set()
            await asyncio.sleep(0.3)  # the citizen's cancel runs into our locks meanwhile
            return [candidate.id for candidate in promoted]

    async def citizen_cancels() -> list[int]:
        await promoting.wait()
        return await cancel(app, waiting[0])

    staff, citizen = await asyncio.gather(staff_cancels(), citizen_cancels())
    assert (staff, citizen) == ([waiting[0]], [waiting[1]])
    assert await statuses(app) == {
        seated[0]: CANCELLED,
        seated[1]: CONFIRMED,
        waiting[0]: CANCELLED,
        waiting[1]: CONFIRMED,
    }
    assert (await seats_taken(app, se_id)) == 2
    await assert_seats_add_up(app)


async def test_concurrent_cancels_of_different_registrations_promote_in_order(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]  # 2 seats
    seated = await fill(app, se_id, 2, "seat")
    waiting = await fill(app, se_id, 3, "wait")
    results = await asyncio.gather(*(cancel(app, rid) for rid in seated))
    assert sorted(rid for batch in results for rid in batch) == waiting[:2]
    assert (await seats_taken(app, se_id)) == 2
    assert (await statuses(app))[waiting[2]] == WAITLISTED
    await assert_seats_add_up(app)


# ---------------------------------------------------------------- deadline and session status


async def test_deadline_to_the_minute(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]
    next_se_id = world.seats[(world.second_id, "P-TANBINH")]
    assert world.first_start - timedelta(days=5) == FIRST_DEADLINE
    on_time, late = await make_citizens(app, 2)

    registration = await sign_up(app, on_time, draft(se_id), now=FIRST_DEADLINE)
    assert registration.status == CONFIRMED and registration.queued_at == FIRST_DEADLINE

    with pytest.raises(DeadlinePassed) as closed:
        await sign_up(app, late, draft(se_id), now=FIRST_DEADLINE + timedelta(minutes=1))
    assert closed.value.deadline == FIRST_DEADLINE
    assert closed.value.next_session_id == next_se_id
    assert (await seats_taken(app, se_id)) == 1

    # The next session is open then; after its own deadline nothing is left to offer.
    moved = await sign_up(app, late, draft(next_se_id), now=FIRST_DEADLINE + timedelta(minutes=1))
    assert moved.status == CONFIRMED
    [nobody] = await make_citizens(app, 1, "x")
    with pytest.raises(DeadlinePassed) as closed:
        await sign_up(app, nobody, draft(next_se_id), now=SECOND_DEADLINE + timedelta(minutes=1))
    assert closed.value.deadline == SECOND_DEADLINE and closed.value.next_session_id is None


async def test_deadline_offers_no_cancelled_session(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "X-BINHCHANH")]
    await set_session_status(app, world.second_id, EventStatus.CANCELLED)
    [citizen] = await make_citizens(app, 1)
    with pytest.raises(DeadlinePassed) as closed:
        await sign_up(app, citizen, draft(se_id), now=FIRST_DEADLINE + timedelta(minutes=1))
    assert closed.value.next_session_id is None


async def test_edit_summary_follows_the_deadline(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]
    next_se_id = world.seats[(world.second_id, "P-TANBINH")]
    citizen_id, stranger_id = await make_citizens(app, 2)
    registration = await sign_up(app, citizen_id, draft(se_id))

    async def edit(text: str, now: datetime, who: int = citizen_id) -> CitizenRegistration:
        async with app.sessions() as db, db.begin():
            citizen = await db.get(Citizen, who)
            assert citizen is not None
            return await registrations.edit_summary(
                db, citizen, registration.id, text, now=now, lead_days=LEAD_DAYS
            )

    edited = await edit("Nội dung đã bổ sung đầy đủ giấy tờ liên quan.", FIRST_DEADLINE)
    assert edited.summary == "Nội dung đã bổ sung đầy đủ giấy tờ liên quan."
    assert edited.updated_at == FIRST_DEADLINE

    with pytest.raises(DeadlinePassed) as closed:
        await edit("Quá hạn rồi.", FIRST_DEADLINE + timedelta(minutes=1))
    assert closed.value.deadline == FIRST_DEADLINE
    assert closed.value.next_session_id == next_se_id
    with pytest.raises(NotFound):  # someone else's registration
        await edit("Không phải của tôi.", NOW, who=stranger_id)

    async with app.sessions() as db:
        stored = await db.get(SignUp, registration.id)
        assert stored is not None
        assert stored.case.summary == "Nội dung đã bổ sung đầy đủ giấy tờ liên quan."
    assert await audit_actions(app, registration.id) == [
        "registration.submit",
        "registration.edit_summary",
    ]

    # A cancelled registration cannot be edited, even before the deadline.
    await cancel(app, registration.id)
    with pytest.raises(SessionNotOpen):
        await edit("Sửa sau khi huỷ.", NOW)


async def test_edit_summary_of_a_cancelled_session_is_refused(app: App, world: World) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]
    [citizen_id] = await make_citizens(app, 1)
    registration = await sign_up(app, citizen_id, draft(se_id))
    await set_session_status(app, world.first_id, EventStatus.CANCELLED)
    async with app.sessions() as db, db.begin():
        citizen = await db.get(Citizen, citizen_id)
        assert citizen is not None
        with pytest.raises(SessionNotOpen):
            await registrations.edit_summary(
                db, citizen, registration.id, "Nội dung mới.", now=NOW, lead_days=LEAD_DAYS
            )


@pytest.mark.parametrize(
    ("status", "accepted"),
    [
        (EventStatus.CANCELLED, False),
        (EventStatus.DONE, False),
        (EventStatus.RESCHEDULED, True),
        (EventStatus.SCHEDULED, True),
    ],
)
async def test_only_scheduled_sessions_take_sign_ups(
    app: App, world: World, status: EventStatus, accepted: bool
) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]
    await set_session_status(app, world.first_id, status)
    [citizen] = await make_citizens(app, 1)
    if accepted:
        assert (await sign_up(app, citizen, draft(se_id))).status == CONFIRMED
    else:
        with pytest.raises(SessionNotOpen):
            await sign_up(app, citizen, draft(se_id))
        # Even past the deadline a cancelled session says "not open", not "deadline".
        with pytest.raises(SessionNotOpen):
            await sign_up(app, citizen, draft(se_id), now=FIRST_DEADLINE + timedelta(days=1))
        assert (await seats_taken(app, se_id)) == 0
        assert await statuses(app) == {}


async def test_unknown_session_endpoint(app: App, world: World) -> None:
    [citizen] = await make_citizens(app, 1)
    with pytest.raises(NotFound):
        await sign_up(app, citizen, draft(999_999))
