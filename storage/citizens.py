"""Citizens: consent, profile, and the rights to see, correct and delete their data."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, exists, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.db import insert_if_absent, mark_erased, write_with_turn
from storage.identity import UserKey
from storage.models import (
    CaseType,
    Citizen,
    ConversationState,
    Event,
    SignUp,
    SignUpStatus,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.registrations import ACTIVE, cancel


@dataclass(frozen=True)
class CitizenRecord:
    """A citizen as the flows see them: plain data, read with the conversation state."""

    id: int
    channel: str
    channel_user_id: str
    locale: str | None
    consent_version: str | None
    consent_at: datetime | None
    full_name: str | None
    phone: str | None
    id_number: str | None
    address: str | None
    unreachable: bool
    anonymised_at: datetime | None
    denouncer: bool = False  # has denounced: their identity is never echoed back to them
    # (event id, code) of each sign-up not cancelled: what they hold already.
    active_sign_ups: tuple[tuple[int, str], ...] = ()

    def code_held_for(self, event_id: int) -> str | None:
        """The code of their sign-up for this event, if they hold one."""
        return next((code for held, code in self.active_sign_ups if held == event_id), None)


# The columns of a CitizenRecord, in its order (a query selects them to build one).
RECORD_COLUMNS = (
    Citizen.id,
    Citizen.channel,
    Citizen.channel_user_id,
    Citizen.locale,
    Citizen.consent_version,
    Citizen.consent_at,
    Citizen.full_name,
    Citizen.phone,
    Citizen.id_number,
    Citizen.address,
    Citizen.unreachable,
    Citizen.anonymised_at,
    exists()
    .where(Submission.citizen_id == Citizen.id, Submission.case_type == CaseType.DENUNCIATION)
    .label("denouncer"),
    select(func.aggregate_strings(sql_cast(SignUp.session_id, String) + ":" + SignUp.code, ","))
    .where(SignUp.citizen_id == Citizen.id, SignUp.status != SignUpStatus.CANCELLED)
    .scalar_subquery()
    .label("active_sign_ups"),
)
DENOUNCER_AT = -2  # where `denouncer` is in RECORD_COLUMNS
_BY_ID = select(*RECORD_COLUMNS).where(Citizen.id == bindparam("citizen_id"))


_CITIZENS = cast(Table, Citizen.__table__)


@cache
def _setting(columns: tuple[str, ...]) -> Any:
    """The UPDATE of these columns of one citizen, built once."""
    values = {name: bindparam(f"set_{name}", type_=_CITIZENS.c[name].type) for name in columns}
    return update(_CITIZENS).where(_CITIZENS.c.id == bindparam("set_citizen")).values(values)


async def _set(db: AsyncSession, citizen: CitizenRecord, **values: Any) -> None:
    """Write a citizen's own columns with the turn's closing write."""
    params = {f"set_{name}": value for name, value in values.items()} | {"set_citizen": citizen.id}
    await write_with_turn(db, _setting(tuple(values)), params)


def record_of(values: Any) -> CitizenRecord:
    """A CitizenRecord from a row holding RECORD_COLUMNS in order."""
    held = (pair.split(":", 1) for pair in values[-1].split(",")) if values[-1] else ()
    return replace(
        CitizenRecord(*values[:-1]),
        denouncer=bool(values[DENOUNCER_AT]),  # SQLite says 0 or 1
        active_sign_ups=tuple((int(event_id), code) for event_id, code in held),
    )


async def record(db: AsyncSession, citizen_id: int) -> CitizenRecord:
    """The citizen as stored now."""
    return record_of((await db.execute(_BY_ID, {"citizen_id": citizen_id})).one())


async def remember_identity(
    db: AsyncSession,
    citizen: CitizenRecord,
    *,
    full_name: str | None,
    phone: str | None,
    id_number: str | None,
    address: str | None,
) -> CitizenRecord:
    """Keep the identity given with a registration for the next one (consented to)."""
    identity = {"full_name": full_name, "phone": phone, "id_number": id_number, "address": address}
    if all(getattr(citizen, name) == value for name, value in identity.items()):
        return citizen  # kept already (a second registration): nothing to write
    await _set(db, citizen, **identity)
    return replace(citizen, full_name=full_name, phone=phone, id_number=id_number, address=address)


def actor_of(citizen: Citizen | CitizenRecord) -> str:
    return str(UserKey(citizen.channel, citizen.channel_user_id))


async def set_locale(db: AsyncSession, citizen: CitizenRecord, locale: str) -> CitizenRecord:
    await _set(db, citizen, locale=locale)
    return replace(citizen, locale=locale)


async def get_or_create(db: AsyncSession, key: UserKey, *, now: datetime) -> Citizen:
    query = select(Citizen).where(Citizen.channel == key.channel, Citizen.channel_user_id == key.user_id)
    citizen = await db.scalar(query)
    if citizen is None:
        values = {"channel": key.channel, "channel_user_id": key.user_id, "created_at": now}
        await insert_if_absent(db, Citizen, values | {"unreachable": False})
        citizen = await db.scalar(query)
        assert citizen is not None
    return citizen


def has_consent(citizen: Citizen | CitizenRecord, version: str) -> bool:
    """Consent counts only for the current version of the privacy notice."""
    return citizen.consent_version == version and citizen.consent_at is not None


async def give_consent(
    db: AsyncSession, citizen: CitizenRecord, version: str, *, now: datetime
) -> CitizenRecord:
    """Consent to the current notice. A citizen who deleted their data and comes back is a
    citizen again: reached by broadcasts, listed for calls, and anonymised after retention."""
    await _set(db, citizen, consent_version=version, consent_at=now, anonymised_at=None)
    await audit.write(
        db,
        at=now,
        actor=actor_of(citizen),
        action="consent.give",
        target_type="citizen",
        target_id=citizen.id,
        version=version,
    )
    return replace(citizen, consent_version=version, consent_at=now, anonymised_at=None)


def refuse_consent(db: AsyncSession, citizen: CitizenRecord, version: str, *, now: datetime) -> None:
    audit.record(
        db,
        at=now,
        actor=actor_of(citizen),
        action="consent.refuse",
        target_type="citizen",
        target_id=citizen.id,
        version=version,
    )


async def _cancel_active(db: AsyncSession, citizen: Citizen | CitizenRecord, now: datetime) -> int:
    """Cancel the registrations for sessions still to come; those of past sessions stay as
    they were (the reception book and the counts keep them; no seat is given away late)."""
    registrations = await db.scalars(
        select(SignUp)
        .join(Event, Event.id == SignUp.session_id)
        .where(
            SignUp.citizen_id == citizen.id,
            SignUp.status.in_(ACTIVE),
            Event.starts_at > now,
        )
    )
    cancelled = 0
    for registration in list(registrations):
        await cancel(db, registration, now=now, actor=actor_of(citizen))
        cancelled += 1
    return cancelled


async def withdraw_consent(db: AsyncSession, citizen: Citizen | CitizenRecord, *, now: datetime) -> int:
    """Stop processing: clear consent and cancel active registrations. Returns how many."""
    cancelled = await _cancel_active(db, citizen, now)
    audit.record(
        db,
        at=now,
        actor=actor_of(citizen),
        action="consent.withdraw",
        target_type="citizen",
        target_id=citizen.id,
        version=citizen.consent_version,
    )
    cleared = {"consent_version": None, "consent_at": None, "anonymised_at": None}
    await db.execute(update(Citizen).where(Citizen.id == citizen.id).values(**cleared))  # read back next
    await db.flush()
    return cancelled


# A voter's petitions and a citizen's questions not answered yet are withdrawn when their data is
# erased (a reception case goes with its sign-up, cancelled above).
WITHDRAWN_WITH_THEIR_DATA = (SubmissionKind.PETITION, SubmissionKind.QUESTION)


async def anonymise(
    db: AsyncSession, citizen: Citizen | CitizenRecord, *, now: datetime, actor: str | None = None
) -> int:
    """Erase personal data but keep the counts (registrations stay, without identity)."""
    cancelled = await _cancel_active(db, citizen, now)
    await db.execute(
        update(Citizen)
        .where(Citizen.id == citizen.id)
        .values(
            full_name=None,
            phone=None,
            id_number=None,
            address=None,
            consent_version=None,
            consent_at=None,
            anonymised_at=now,
        )
        .execution_options(synchronize_session="fetch")
    )
    submissions = list(await db.scalars(select(Submission).where(Submission.citizen_id == citizen.id)))
    # A petition others were merged into keeps its text, the matter being theirs too.
    behind_others = set(
        await db.scalars(
            select(Submission.merged_into_id).where(
                Submission.merged_into_id.in_([submission.id for submission in submissions]),
                Submission.status == SubmissionStatus.MERGED,
            )
        )
    )
    for submission in submissions:
        submission.full_name = submission.phone = None
        submission.id_number = submission.address = None
        submission.representatives = []
        if submission.id in behind_others:
            continue
        unanswered = submission.status == SubmissionStatus.ACTIVE and submission.outcome_at is None
        if submission.kind in WITHDRAWN_WITH_THEIR_DATA and unanswered:
            # Erased and not answered: it would stand in the lists and the report as a blank.
            submission.status = SubmissionStatus.WITHDRAWN
        submission.summary = ""
        submission.prior_agency = ""
        submission.attachments = []
        # Staff's free-text notes often name the citizen or give their phone, in forms no
        # search would catch ("ông An", "0912 345 678"): cleared whole. What was decided
        # stays (route, agency forwarded to, when and by whom) for the counts.
        submission.route_note = submission.outcome = ""
    # A registration begun and left half-way keeps name, phone, CCCD and summary in the
    # conversation state: the citizen starts over from nothing.
    state = await db.get(ConversationState, (citizen.channel, citizen.channel_user_id))
    if state is not None:
        state.flow, state.step, state.data = "", "", {}
    audit.record(
        db,
        at=now,
        actor=actor or actor_of(citizen),
        action="citizen.anonymise",
        target_type="citizen",
        target_id=citizen.id,
        registrations_cancelled=cancelled,
    )
    await db.flush()
    mark_erased(db)  # after the commit, SQLite's write-ahead log is emptied too
    return cancelled


async def locale_of(db: AsyncSession, key: UserKey) -> str | None:
    """The language the citizen chose, if any."""
    query = select(Citizen.locale).where(
        Citizen.channel == key.channel, Citizen.channel_user_id == key.user_id
    )
    locale: str | None = await db.scalar(query)
    return locale


async def set_reachable(db: AsyncSession, key: UserKey, reachable: bool, *, now: datetime) -> None:
    """Blocked the bot (or came back): stop or resume sending to them."""
    citizen = await get_or_create(db, key, now=now)
    if citizen.unreachable == (not reachable):
        return
    citizen.unreachable = not reachable
    audit.record(
        db,
        at=now,
        actor=str(key),
        action="citizen.reachable" if reachable else "citizen.unreachable",
        target_type="citizen",
        target_id=citizen.id,
    )


async def anonymise_expired(db: AsyncSession, *, now: datetime, retention_days: int) -> int:
    """Anonymise citizens with no activity within the retention period. Returns how many.

    Activity: joining, talking to the bot, a registration changed, or a session
    of theirs that has not yet ended its retention period.
    """
    cutoff = now - timedelta(days=retention_days)
    recent_registration = (
        select(SignUp.id)
        .join(Event, Event.id == SignUp.session_id)
        .where(
            SignUp.citizen_id == Citizen.id,
            or_(SignUp.updated_at >= cutoff, Event.starts_at >= cutoff),
        )
        .exists()
    )
    recent_conversation = (
        select(ConversationState.user_id)
        .where(
            ConversationState.channel == Citizen.channel,
            ConversationState.user_id == Citizen.channel_user_id,
            ConversationState.updated_at >= cutoff,
        )
        .exists()
    )
    expired = await db.scalars(
        select(Citizen).where(
            Citizen.anonymised_at.is_(None),
            Citizen.created_at < cutoff,
            ~recent_registration,
            ~recent_conversation,
        )
    )
    count = 0
    for citizen in list(expired):
        await anonymise(db, citizen, now=now, actor="system:retention")
        count += 1
    return count
