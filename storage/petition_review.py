"""Voters' petitions (ý kiến, kiến nghị cử tri) as staff handle them: the list of a round with
its counts, classification by field and by the level that must answer, merging petitions on one
matter, forwarding to the competent agency, and the answer that goes back to every voter behind
a petition. Every change is audited.

What the flows get back is plain data (`Petition`, `PetitionPage`); the statements are Core.
A petition's state is one SQL expression (`STATE`), so the list, its filter and its counts
always agree. An officer sees only the petitions of their endpoints (`Actor.endpoint_ids`).

Merged petitions keep their rows: status MERGED and `merged_into_id` pointing at the kept one
(always the top one: merging a kept petition moves the ones behind it along), so the voters and
endpoints behind a petition are a query over `merged_into_id`; the kept one's `voters` counts
them all.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, Table, and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import DomainError, NotFound
from storage.models import (
    AnswerLevel,
    CaseType,
    Endpoint,
    Event,
    EventEndpoint,
    EventKind,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.outbox import NoticeKind, PetitionAnswer, queue_all

if TYPE_CHECKING:
    from storage.staff import Actor

SUBMISSIONS = typing.cast(Table, Submission.__table__)
ENDPOINTS = typing.cast(Table, Endpoint.__table__)
EVENTS = typing.cast(Table, Event.__table__)
EVENT_ENDPOINTS = typing.cast(Table, EventEndpoint.__table__)
S = SUBMISSIONS.c


class PetitionState(enum.StrEnum):
    """Where a petition stands, as staff filter and count them."""

    UNCLASSIFIED = "unclassified"  # as the voter sent it: no staff has checked field and level
    CLASSIFIED = "classified"  # field and level set by staff
    FORWARDED = "forwarded"  # sent to the competent agency
    ANSWERED = "answered"  # the answer recorded, and sent to the voters
    MERGED = "merged"  # folded into another petition on the same matter
    WITHDRAWN = "withdrawn"  # by the voter


# A written petition (lấy ý kiến bằng văn bản): from a commune the round does not connect, no
# sign-up to attend. The one meaning of "written", for the list, the card and the report.
WRITTEN = and_(
    S.sign_up_id.is_(None),
    ~exists().where(
        EVENT_ENDPOINTS.c.session_id == S.event_id, EVENT_ENDPOINTS.c.endpoint_id == S.endpoint_id
    ),
)
# From someone who has denounced (in any submission): their identity is kept on every one of
# theirs, or the mask on one would be undone by the name on another (Luật Tố cáo, Art. 9).
_THEIRS = SUBMISSIONS.alias("theirs")
BY_A_DENOUNCER = or_(
    S.case_type == CaseType.DENUNCIATION.value,
    exists().where(_THEIRS.c.citizen_id == S.citizen_id, _THEIRS.c.case_type == CaseType.DENUNCIATION.value),
)
# Staff have checked its field and level (`classify`): the one meaning of "classified", for the
# list's states, the report and the reminder before the compile deadline.
CLASSIFIED = S.reviewed_at.is_not(None)
STATE = case(
    (S.status == SubmissionStatus.WITHDRAWN.value, PetitionState.WITHDRAWN.value),
    (S.status == SubmissionStatus.MERGED.value, PetitionState.MERGED.value),
    (S.outcome_at.is_not(None), PetitionState.ANSWERED.value),
    (S.forwarded_to != "", PetitionState.FORWARDED.value),
    (CLASSIFIED, PetitionState.CLASSIFIED.value),
    else_=PetitionState.UNCLASSIFIED.value,
)
# Still to work on: not merged, withdrawn or answered.
OPEN = and_(S.status == SubmissionStatus.ACTIVE.value, S.outcome_at.is_(None))


class PetitionNotOpen(DomainError):
    """Merged, withdrawn or answered meanwhile (by another officer, or by the voter)."""

    def __init__(self, petition: Petition) -> None:
        super().__init__(f"petition {petition.id} is {petition.state.value}")
        self.petition = petition


class NotClassified(DomainError):
    """Forwarded before its field and level were checked."""


class NotForwarded(DomainError):
    """An answer is the competent agency's: the petition must be forwarded first."""


class CannotMerge(DomainError):
    """`reason`: "none" (nothing to merge), "itself", "other_round"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PetitionFilter:
    """None: any."""

    state: PetitionState | None = None
    level: AnswerLevel | None = None
    field: str | None = None
    endpoint_id: int | None = None


@dataclass(frozen=True)
class Petition:
    id: int
    code: str
    event_id: int
    written: bool  # sent in writing, without a sign-up (a commune the round does not connect)
    citizen_id: int | None
    endpoint_id: int | None
    endpoint_name: str  # "" when it names no endpoint
    full_name: str | None  # None: anonymised
    case_type: CaseType
    field: str
    level: AnswerLevel | None
    summary: str
    files: int  # attachments sent with it
    voters: int  # the voters behind it, merged ones included
    merged_into_id: int | None
    forwarded_to: str
    outcome: str
    outcome_at: datetime | None
    created_at: datetime
    state: PetitionState

    by_a_denouncer: bool  # a denunciation, or from someone who has denounced

    @property
    def denunciation(self) -> bool:
        """The denouncer rules apply (Luật Tố cáo, Art. 9): a denunciation sent as a petition,
        or any petition of someone who has denounced."""
        return self.by_a_denouncer

    @property
    def open(self) -> bool:
        return self.state in (PetitionState.UNCLASSIFIED, PetitionState.CLASSIFIED, PetitionState.FORWARDED)


@dataclass(frozen=True)
class PetitionPage:
    items: tuple[Petition, ...]
    counts: dict[PetitionState, int]  # per state, the rest of the filter applied
    total: int  # matching the filter, over every page
    page: int  # from 0
    pages: int


@dataclass(frozen=True)
class EndpointCount:
    endpoint_id: int
    name: str
    petitions: int


@dataclass(frozen=True)
class Round:
    """A voter-contact round as the petition list heads it."""

    id: int
    kind: EventKind
    title: str
    starts_at: datetime


@dataclass(frozen=True)
class Answered:
    petition: Petition
    notified: int  # voters told (each once)


@dataclass(frozen=True)
class VoterAnswer:
    """What one voter is told of the answer to a petition they are behind."""

    codes: tuple[str, ...]  # their own petitions' codes (two, if both were merged into it)
    summary: str  # the text of their (first) petition
    title: str  # the round
    agency: str
    outcome: str


_COLUMNS = (
    S.id,
    S.code,
    S.event_id,
    S.sign_up_id,
    S.citizen_id,
    S.endpoint_id,
    func.coalesce(ENDPOINTS.c.name, "").label("endpoint_name"),
    S.full_name,
    S.case_type,
    S.field,
    S.level,
    S.summary,
    S.attachments,
    S.voters,
    S.merged_into_id,
    S.forwarded_to,
    S.outcome,
    S.outcome_at,
    S.created_at,
    STATE.label("state"),
    WRITTEN.label("written"),
    BY_A_DENOUNCER.label("by_a_denouncer"),
)
_FROM = SUBMISSIONS.outerjoin(ENDPOINTS, ENDPOINTS.c.id == S.endpoint_id)
_PETITIONS = select(*_COLUMNS).select_from(_FROM).where(S.kind == SubmissionKind.PETITION.value)


def _petition(row: Any) -> Petition:
    return Petition(
        id=row.id,
        code=row.code or "",
        event_id=row.event_id,
        written=bool(row.written),
        by_a_denouncer=bool(row.by_a_denouncer),
        citizen_id=row.citizen_id,
        endpoint_id=row.endpoint_id,
        endpoint_name=row.endpoint_name,
        full_name=row.full_name,
        case_type=CaseType(row.case_type),
        field=row.field,
        level=None if row.level is None else AnswerLevel(row.level),
        summary=row.summary,
        files=len(row.attachments or ()),
        voters=row.voters,
        merged_into_id=row.merged_into_id,
        forwarded_to=row.forwarded_to,
        outcome=row.outcome,
        outcome_at=row.outcome_at,
        created_at=row.created_at,
        state=PetitionState(row.state),
    )


def _scoped(query: Select[Any], actor: Actor) -> Select[Any]:
    if actor.endpoint_ids is None:
        return query
    return query.where(S.endpoint_id.in_(sorted(actor.endpoint_ids)))


def _filtered(query: Select[Any], filt: PetitionFilter, *, with_state: bool = True) -> Select[Any]:
    if with_state and filt.state is not None:
        query = query.where(STATE.in_([filt.state.value]))
    if filt.level is not None:
        query = query.where(S.level == filt.level.value)
    if filt.field is not None:
        query = query.where(S.field == filt.field)
    if filt.endpoint_id is not None:
        query = query.where(S.endpoint_id == filt.endpoint_id)
    return query


def in_scope(actor: Actor, petition: Petition) -> bool:
    """An officer's petitions are those of their endpoints; one naming none is for all-endpoint staff."""
    if actor.endpoint_ids is None:
        return True
    return petition.endpoint_id is not None and petition.endpoint_id in actor.endpoint_ids


async def voter_round(db: AsyncSession, event_id: int) -> Round | None:
    row = (
        await db.execute(
            select(EVENTS.c.id, EVENTS.c.kind, EVENTS.c.title, EVENTS.c.starts_at).where(
                EVENTS.c.id == event_id
            )
        )
    ).first()
    return None if row is None else Round(row.id, EventKind(row.kind), row.title, row.starts_at)


async def counts(
    db: AsyncSession, actor: Actor, event_id: int, filt: PetitionFilter = PetitionFilter()
) -> dict[PetitionState, int]:
    """Petitions of the round in the actor's scope per state (the filter's other parts applied)."""
    query = _filtered(
        _scoped(
            select(STATE.label("state"), func.count().label("n"))
            .select_from(SUBMISSIONS)
            .where(S.kind == SubmissionKind.PETITION.value, S.event_id == event_id),
            actor,
        ),
        filt,
        with_state=False,
    ).group_by(STATE)
    found = {state: 0 for state in PetitionState}
    for row in await db.execute(query):
        found[PetitionState(row.state)] = row.n
    return found


async def listing(
    db: AsyncSession, actor: Actor, event_id: int, filt: PetitionFilter, *, page: int, size: int
) -> PetitionPage:
    """One page of the round's petitions in the actor's scope, oldest first, with the counts per
    state (two statements). A page past the last one (petitions merged meanwhile) is the last."""
    per_state = await counts(db, actor, event_id, filt)
    total = per_state[filt.state] if filt.state is not None else sum(per_state.values())
    pages = max(1, -(-total // size))
    page = min(max(page, 0), pages - 1)
    query = _filtered(_scoped(_PETITIONS.where(S.event_id == event_id), actor), filt)
    rows = await db.execute(query.order_by(S.created_at, S.id).offset(page * size).limit(size))
    return PetitionPage(tuple(_petition(row) for row in rows), per_state, total, page, pages)


async def endpoints_of_round(db: AsyncSession, actor: Actor, event_id: int) -> list[EndpointCount]:
    """The endpoints (communes) the round's petitions in scope come from, with how many each."""
    query = _scoped(
        select(ENDPOINTS.c.id, ENDPOINTS.c.name, func.count(S.id).label("n"))
        .select_from(SUBMISSIONS.join(ENDPOINTS, ENDPOINTS.c.id == S.endpoint_id))
        .where(S.kind == SubmissionKind.PETITION.value, S.event_id == event_id),
        actor,
    ).group_by(ENDPOINTS.c.id, ENDPOINTS.c.name)
    rows = await db.execute(query.order_by(ENDPOINTS.c.name, ENDPOINTS.c.id))
    return [EndpointCount(row.id, row.name, row.n) for row in rows]


async def get(db: AsyncSession, actor: Actor, petition_id: int) -> Petition | None:
    """The petition as it stands, if it exists and is within the actor's scope."""
    row = (await db.execute(_PETITIONS.where(S.id == petition_id))).first()
    if row is None:
        return None
    petition = _petition(row)
    return petition if in_scope(actor, petition) else None


async def by_id(db: AsyncSession, petition_id: int) -> Petition | None:
    """Whatever the scope: the petition a kept one lists, or the one it was merged into."""
    row = (await db.execute(_PETITIONS.where(S.id == petition_id))).first()
    return None if row is None else _petition(row)


async def behind(db: AsyncSession, petition_id: int) -> list[Petition]:
    """The petitions merged into this one (whatever the endpoint: they are its voters)."""
    rows = await db.execute(
        _PETITIONS.where(S.merged_into_id == petition_id, S.status == SubmissionStatus.MERGED.value).order_by(
            S.created_at, S.id
        )
    )
    return [_petition(row) for row in rows]


async def candidates(db: AsyncSession, actor: Actor, petition: Petition, *, limit: int) -> list[Petition]:
    """Open petitions of the same round in scope that could be merged into `petition`, those
    of the same field first."""
    query = _scoped(
        _PETITIONS.where(S.event_id == petition.event_id, S.id != petition.id, OPEN), actor
    ).order_by(case((S.field == petition.field, 0), else_=1), S.created_at, S.id)
    return [_petition(row) for row in await db.execute(query.limit(limit))]


async def by_codes(
    db: AsyncSession, actor: Actor, event_id: int, codes: Iterable[str]
) -> tuple[list[Petition], list[str]]:
    """Petitions of the round in scope by their codes (as typed: any case, or only the number
    after the last dash); and the codes not found."""
    wanted = [code.strip().upper() for code in codes if code.strip()]
    if not wanted:
        return [], []
    rows = await db.execute(_scoped(_PETITIONS.where(S.event_id == event_id), actor))
    mine = [_petition(row) for row in rows]
    found: list[Petition] = []
    unknown: list[str] = []
    for code in wanted:
        match = [
            p
            for p in mine
            if p.code == code
            or (code.isdecimal() and p.code.rsplit("-", 1)[-1].lstrip("0") == code.lstrip("0"))
        ]
        if len(match) == 1:
            if match[0] not in found:
                found.append(match[0])
        else:
            unknown.append(code)
    return found, unknown


# --- changes ------------------------------------------------------------------------


async def _locked(db: AsyncSession, actor: Actor, petition_ids: Sequence[int]) -> list[Petition]:
    """The petitions, locked until the end of the transaction (PostgreSQL: FOR UPDATE, in id
    order; SQLite's writer holds its lock from BEGIN IMMEDIATE), so what is checked is what is
    changed. Raises NotFound when one is gone or outside the actor's scope."""
    ids = sorted(set(petition_ids))
    locked = select(S.id).where(S.id.in_(ids), S.kind == SubmissionKind.PETITION.value).order_by(S.id)
    await db.execute(locked.with_for_update())
    rows = await db.execute(_PETITIONS.where(S.id.in_(ids)))
    found = {petition.id: petition for petition in map(_petition, rows)}
    petitions = []
    for petition_id in petition_ids:
        petition = found.get(petition_id)
        if petition is None or not in_scope(actor, petition):
            raise NotFound(f"petition {petition_id}")
        petitions.append(petition)
    return petitions


async def _reread(db: AsyncSession, petition_id: int) -> Petition:
    petition = await by_id(db, petition_id)
    assert petition is not None  # locked by this transaction
    return petition


async def classify(
    db: AsyncSession, petition_id: int, *, field: str, level: AnswerLevel, actor: Actor, now: datetime
) -> Petition:
    """Field and answering level, checked by staff. Raises NotFound (gone or out of scope) or
    PetitionNotOpen (merged, withdrawn or answered)."""
    (petition,) = await _locked(db, actor, [petition_id])
    if not petition.open:
        raise PetitionNotOpen(petition)
    await db.execute(
        update(SUBMISSIONS)
        .where(S.id == petition.id)
        .values(field=field, level=level.value, reviewed_at=now, reviewed_by=str(actor), updated_at=now)
    )
    await audit.write(
        db,
        at=now,
        actor=str(actor),
        action="petition.classify",
        target_type="petition",
        target_id=petition.id,
        field=field,
        level=level.value,
        before={"field": petition.field, "level": None if petition.level is None else petition.level.value},
    )
    return await _reread(db, petition.id)


async def merge(
    db: AsyncSession, keep_id: int, other_ids: Sequence[int], *, actor: Actor, now: datetime
) -> Petition:
    """Fold `other_ids` into `keep_id`: they become MERGED behind it (with whatever was merged
    into them), and it counts the voters behind it all (each person once). Raises NotFound,
    CannotMerge, or PetitionNotOpen (naming the first petition no longer open)."""
    others = [other for other in dict.fromkeys(other_ids) if other != keep_id]
    if not others:
        raise CannotMerge("itself" if keep_id in other_ids else "none")
    keep, *folded = await _locked(db, actor, [keep_id, *others])
    for petition in (keep, *folded):
        if not petition.open:
            raise PetitionNotOpen(petition)
        if petition.event_id != keep.event_id:
            raise CannotMerge("other_round")
    folded_ids = [petition.id for petition in folded]
    await db.execute(  # what was behind a folded one moves behind the kept one
        update(SUBMISSIONS)
        .where(S.merged_into_id.in_(folded_ids), S.status == SubmissionStatus.MERGED.value)
        .values(merged_into_id=keep.id, updated_at=now)
    )
    await db.execute(
        update(SUBMISSIONS)
        .where(S.id.in_(folded_ids))
        .values(status=SubmissionStatus.MERGED.value, merged_into_id=keep.id, updated_at=now)
    )
    voters = await _count_voters(db, keep.id)
    await db.execute(update(SUBMISSIONS).where(S.id == keep.id).values(voters=voters, updated_at=now))
    await audit.write(
        db,
        at=now,
        actor=str(actor),
        action="petition.merge",
        target_type="petition",
        target_id=keep.id,
        merged=folded_ids,
        voters=voters,
    )
    return await _reread(db, keep.id)


async def forward(
    db: AsyncSession, petition_id: int, agency: str, *, actor: Actor, now: datetime
) -> Petition:
    """To the competent agency (another one, if it was forwarded already and not answered).
    Raises NotFound, PetitionNotOpen or NotClassified."""
    (petition,) = await _locked(db, actor, [petition_id])
    if not petition.open:
        raise PetitionNotOpen(petition)
    if petition.state == PetitionState.UNCLASSIFIED:
        raise NotClassified(petition.code)
    await db.execute(
        update(SUBMISSIONS)
        .where(S.id == petition.id)
        .values(forwarded_to=agency, route="forward", reviewed_by=str(actor), updated_at=now)
    )
    await audit.write(
        db,
        at=now,
        actor=str(actor),
        action="petition.forward",
        target_type="petition",
        target_id=petition.id,
        agency=agency,
        before=petition.forwarded_to,
    )
    return await _reread(db, petition.id)


def _behind_or_itself(petition_id: int) -> ColumnElement[bool]:
    return or_(
        S.id == petition_id,
        and_(S.merged_into_id == petition_id, S.status == SubmissionStatus.MERGED.value),
    )


async def _count_voters(db: AsyncSession, petition_id: int) -> int:
    """The people behind a petition: a voter who sent two petitions on the matter counts once;
    a petition with no citizen (typed in by staff) counts as one voter."""
    rows = (await db.execute(select(S.id, S.citizen_id).where(_behind_or_itself(petition_id)))).all()
    return len({row.citizen_id for row in rows if row.citizen_id is not None}) + sum(
        1 for row in rows if row.citizen_id is None
    )


async def voters_of(db: AsyncSession, petition_id: int) -> list[int]:
    """The citizens behind a petition (its own voter and those of the petitions merged into
    it), each once."""
    rows = await db.scalars(
        select(S.citizen_id).where(S.citizen_id.is_not(None), _behind_or_itself(petition_id)).order_by(S.id)
    )
    return list(dict.fromkeys(rows))


async def answer(
    db: AsyncSession, petition_id: int, outcome: str, *, actor: Actor, now: datetime
) -> Answered:
    """The agency's answer: recorded, and queued (in this transaction) to every voter behind the
    petition, each once even when two of their petitions were merged into it. Raises NotFound,
    PetitionNotOpen (answered already, merged, withdrawn) or NotForwarded."""
    (petition,) = await _locked(db, actor, [petition_id])
    if not petition.open:
        raise PetitionNotOpen(petition)
    if petition.state != PetitionState.FORWARDED:
        raise NotForwarded(petition.code)
    await db.execute(
        update(SUBMISSIONS).where(S.id == petition.id).values(outcome=outcome, outcome_at=now, updated_at=now)
    )
    voters = await voters_of(db, petition.id)
    await queue_all(
        db, NoticeKind.PETITION_ANSWER, [(voter, PetitionAnswer(petition.id)) for voter in voters], now=now
    )
    await audit.write(
        db,
        at=now,
        actor=str(actor),
        action="petition.answer",
        target_type="petition",
        target_id=petition.id,
        agency=petition.forwarded_to,
        notified=len(voters),
    )
    return Answered(await _reread(db, petition.id), len(voters))


async def answer_for(db: AsyncSession, petition_id: int, citizen_id: int) -> VoterAnswer | None:
    """The answer to `petition_id` as the voter `citizen_id` reads it (None: nothing answered
    there for them)."""
    kept = await by_id(db, petition_id)
    if kept is None or kept.outcome_at is None:
        return None
    rows = await db.execute(
        select(S.code, S.summary)
        .where(S.citizen_id == citizen_id, _behind_or_itself(petition_id))
        .order_by(S.created_at, S.id)
    )
    theirs = rows.all()
    if not theirs:
        return None
    title = await db.scalar(select(EVENTS.c.title).where(EVENTS.c.id == kept.event_id)) or ""
    return VoterAnswer(
        codes=tuple(row.code or "" for row in theirs),
        summary=theirs[0].summary,
        title=title,
        agency=kept.forwarded_to,
        outcome=kept.outcome,
    )
