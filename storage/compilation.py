"""The compiled petitions of a voter-contact round (Báo cáo tổng hợp ý kiến, kiến nghị cử
tri) and its counts for /stats, as plain data.

Each active petition is one line; a petition merged into another (`merged_into_id`) is no
line of its own but is counted in the one kept: `Submission.voters`, and its commune is
named with it. A petition without a sign-up from a commune the round does not connect is a
written one ("lấy ý kiến bằng văn bản"). A denunciation sent as a petition keeps its
denouncer's name and address hidden unless the reader may see them (Luật Tố cáo 2018, Art.
9 and 56); every revealed one is logged. Sign-ups and attendance are counted per endpoint.
The texts, in the reader's language, are made in `bot.petition_report`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.errors import NotFound
from storage.event_kinds import Timing, default_compile_deadline, default_materials_deadline
from storage.models import (
    AnswerLevel,
    CaseType,
    Endpoint,
    Event,
    EventEndpoint,
    EventKind,
    EventStatus,
    SignUp,
    SignUpStatus,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.petition_review import BY_A_DENOUNCER, CLASSIFIED, WRITTEN
from storage.text import fold

# Core statements over the tables, built once.
EVENTS = cast(Table, Event.__table__)
LINKS = cast(Table, EventEndpoint.__table__)
ENDPOINTS = cast(Table, Endpoint.__table__)
SIGN_UPS = cast(Table, SignUp.__table__)
SUBMISSIONS = cast(Table, Submission.__table__)

LEVELS: tuple[AnswerLevel | None, ...] = (
    AnswerLevel.CENTRAL,
    AnswerLevel.PROVINCE,
    AnswerLevel.COMMUNE,
    None,
)

_EVENT = select(
    EVENTS.c.id,
    EVENTS.c.kind,
    EVENTS.c.title,
    EVENTS.c.host,
    EVENTS.c.starts_at,
    EVENTS.c.status,
    EVENTS.c.online_room,
    EVENTS.c.compile_deadline,
    EVENTS.c.materials_deadline,
)
_LINKS = (
    select(
        LINKS.c.id,
        LINKS.c.endpoint_id,
        ENDPOINTS.c.name,
        ENDPOINTS.c.code,
        LINKS.c.capacity,
        LINKS.c.starts_at,
        func.count(SIGN_UPS.c.id).filter(SIGN_UPS.c.status == SignUpStatus.CONFIRMED.value),
        func.coalesce(
            func.sum(case((SIGN_UPS.c.status == SignUpStatus.CONFIRMED.value, SIGN_UPS.c.seats), else_=0)), 0
        ),
        func.count(SIGN_UPS.c.id).filter(SIGN_UPS.c.status == SignUpStatus.WAITLISTED.value),
    )
    .join(ENDPOINTS, ENDPOINTS.c.id == LINKS.c.endpoint_id)
    .outerjoin(SIGN_UPS, SIGN_UPS.c.session_endpoint_id == LINKS.c.id)
    .group_by(
        LINKS.c.id,
        LINKS.c.endpoint_id,
        ENDPOINTS.c.name,
        ENDPOINTS.c.code,
        LINKS.c.capacity,
        LINKS.c.starts_at,
    )
)
_PETITIONS = (
    select(
        SUBMISSIONS.c.id,
        SUBMISSIONS.c.code,
        SUBMISSIONS.c.status,
        SUBMISSIONS.c.merged_into_id,
        SUBMISSIONS.c.sign_up_id,
        SUBMISSIONS.c.endpoint_id,
        ENDPOINTS.c.name,
        SUBMISSIONS.c.full_name,
        SUBMISSIONS.c.address,
        SUBMISSIONS.c.case_type,
        SUBMISSIONS.c.field,
        SUBMISSIONS.c.level,
        SUBMISSIONS.c.summary,
        SUBMISSIONS.c.voters,
        SUBMISSIONS.c.forwarded_to,
        SUBMISSIONS.c.outcome,
        SUBMISSIONS.c.outcome_at,
        CLASSIFIED.label("classified"),
        WRITTEN.label("written"),
        BY_A_DENOUNCER.label("by_a_denouncer"),
        SUBMISSIONS.c.created_at,
    )
    .outerjoin(ENDPOINTS, ENDPOINTS.c.id == SUBMISSIONS.c.endpoint_id)
    .where(
        SUBMISSIONS.c.kind == SubmissionKind.PETITION.value,
        SUBMISSIONS.c.status.in_([SubmissionStatus.ACTIVE.value, SubmissionStatus.MERGED.value]),
    )
    .order_by(SUBMISSIONS.c.created_at, SUBMISSIONS.c.id)
)
_UNCLASSIFIED = select(func.count()).where(
    SUBMISSIONS.c.kind == SubmissionKind.PETITION.value,
    SUBMISSIONS.c.status == SubmissionStatus.ACTIVE.value,
    ~CLASSIFIED,
)


@dataclass(frozen=True)
class RoundInfo:
    """A round (or any event) as the report and the staff notices read it."""

    id: int
    kind: EventKind
    title: str
    host: str
    starts_at: datetime  # the first start
    last_start: datetime  # the last endpoint's start
    status: EventStatus
    online_room: str
    compile_deadline: datetime  # as set, or the kind policy's default
    materials_deadline: datetime  # as set, or the default


@dataclass(frozen=True)
class Attendance:
    """One endpoint of the round: its start, seats and sign-ups."""

    endpoint_id: int
    name: str
    code: str
    starts_at: datetime
    capacity: int
    signed_up: int  # confirmed sign-ups
    attending: int  # the seats they take: the people who come
    waitlisted: int
    petitions: int  # active petitions from this commune (a merged one counts in its kept one)


@dataclass(frozen=True)
class Source:
    """A commune a petition (or one merged into it) comes from."""

    name: str  # "" when the voter gave none
    written: bool  # a written petition from a commune the round does not connect


@dataclass(frozen=True)
class PetitionLine:
    id: int
    code: str
    level: AnswerLevel | None
    field: str  # "" when not classified yet
    case_type: CaseType
    summary: str
    voters: int  # the voters behind it, those merged into it included
    sources: tuple[Source, ...]  # its own commune first, then those merged into it
    written: bool  # itself a written petition from a commune not connected
    petitioner: str | None  # None: erased (retention or the voter's request)
    address: str
    hidden: bool  # a denouncer's identity, masked for this reader
    merged: int  # petitions merged into it
    forwarded_to: str
    outcome: str
    answered: bool  # the answer is recorded (and went back to the voters)
    classified: bool  # staff have checked its field and level (petition_review.CLASSIFIED)


@dataclass(frozen=True)
class Compilation:
    round: RoundInfo
    attendance: list[Attendance]  # the endpoints connected, by start then name
    petitions: list[PetitionLine]  # active petitions, in the order they arrived
    masked: int  # petitions whose denouncer identity is hidden

    @property
    def voters(self) -> int:
        return sum(line.voters for line in self.petitions)

    @property
    def unclassified(self) -> int:
        return sum(1 for line in self.petitions if not line.classified)


@dataclass(frozen=True)
class RoundStats:
    """/stats ID for a round: sign-ups per endpoint, petitions per field and level, answers."""

    round: RoundInfo
    attendance: list[Attendance]
    petitions: int
    voters: int
    written: int  # from communes not connected
    by_field: list[tuple[str, int]]  # field code ("" unclassified), petitions; most first
    by_level: list[tuple[AnswerLevel | None, int]]  # in LEVELS order, only those with petitions
    answered: int


def _round(row: Any, starts: list[datetime], timing: Timing) -> RoundInfo:
    first, last = min([row.starts_at, *starts]), max([row.starts_at, *starts])
    return RoundInfo(
        id=row.id,
        kind=EventKind(row.kind),
        title=row.title,
        host=row.host,
        starts_at=first,
        last_start=last,
        status=EventStatus(row.status),
        online_room=row.online_room,
        compile_deadline=row.compile_deadline or default_compile_deadline(last, timing),
        materials_deadline=row.materials_deadline or default_materials_deadline(first, timing),
    )


async def rounds(
    db: AsyncSession, event_ids: list[int] | None, *, since: datetime, timing: Timing
) -> list[RoundInfo]:
    """The events named (any kind, any status), or else the voter-contact rounds not
    cancelled whose first start is after `since`; with their deadlines."""
    if event_ids is not None:
        query = _EVENT.where(EVENTS.c.id.in_(event_ids))
    else:
        query = _EVENT.where(
            EVENTS.c.kind == EventKind.VOTER_MEETING.value,
            EVENTS.c.status != EventStatus.CANCELLED.value,
            EVENTS.c.starts_at >= since,
        )
    events = (await db.execute(query.order_by(EVENTS.c.id))).all()
    if not events:
        return []
    starts: dict[int, list[datetime]] = {}
    ids = [row[0] for row in events]
    for event_id, starts_at in await db.execute(
        select(LINKS.c.session_id, LINKS.c.starts_at).where(
            LINKS.c.session_id.in_(ids), LINKS.c.starts_at.is_not(None)
        )
    ):
        starts.setdefault(event_id, []).append(starts_at)
    return [_round(row, starts.get(row[0], []), timing) for row in events]


async def round_info(db: AsyncSession, event_id: int, timing: Timing) -> RoundInfo:
    """Raises NotFound."""
    found = await rounds(db, [event_id], since=datetime.min, timing=timing)
    if not found:
        raise NotFound(f"event {event_id}")
    return found[0]


async def attendance(
    db: AsyncSession, info: RoundInfo, endpoint_ids: frozenset[int] | None
) -> list[Attendance]:
    rows = (await db.execute(_LINKS.where(LINKS.c.session_id == info.id))).all()
    counts = Counter(
        endpoint_id
        for (endpoint_id,) in await db.execute(
            select(SUBMISSIONS.c.endpoint_id).where(
                SUBMISSIONS.c.event_id == info.id,
                SUBMISSIONS.c.kind == SubmissionKind.PETITION.value,
                SUBMISSIONS.c.status == SubmissionStatus.ACTIVE.value,
            )
        )
    )
    found = [
        Attendance(
            endpoint_id=endpoint_id,
            name=name,
            code=code,
            starts_at=starts_at or info.starts_at,
            capacity=capacity,
            signed_up=int(signed_up),
            attending=int(attending),
            waitlisted=int(waitlisted),
            petitions=counts[endpoint_id],
        )
        for _, endpoint_id, name, code, capacity, starts_at, signed_up, attending, waitlisted in rows
        if endpoint_ids is None or endpoint_id in endpoint_ids
    ]
    # Sorted here, not in SQL: SQLite and PostgreSQL collate "Đ" differently.
    return sorted(found, key=lambda a: (a.starts_at, fold(a.name), a.name, a.endpoint_id))


def _root(submission_id: int, parents: dict[int, int | None]) -> int:
    """The petition a merged one ended up in (merges may chain: A into B, B into C)."""
    seen = {submission_id}
    while (parent := parents.get(submission_id)) is not None and parent not in seen:
        seen.add(parent)
        submission_id = parent
    return submission_id


async def compile_round(
    db: AsyncSession,
    event_id: int,
    *,
    timing: Timing,
    endpoint_ids: frozenset[int] | None,
    reveal_denouncers: bool,
    actor: str,
    now: datetime,
) -> Compilation:
    """The round's petitions and attendance: `endpoint_ids=None` for every endpoint, else the
    petitions with a commune among them and those endpoints' attendance. Revealing a
    denouncer writes an audit row; the caller commits. Raises NotFound."""
    info = await round_info(db, event_id, timing)
    rows = (await db.execute(_PETITIONS.where(SUBMISSIONS.c.event_id == info.id))).all()
    by_id = {row.id: row for row in rows}
    parents = {row.id: row.merged_into_id for row in rows if row.status == SubmissionStatus.MERGED.value}

    def source(row: Any) -> Source:
        return Source(name=row.name or "", written=bool(row.written))

    merged_in: dict[int, list[Any]] = {}
    for row in rows:
        if row.status == SubmissionStatus.MERGED.value:
            root = _root(row.id, parents)
            if root in by_id and by_id[root].status == SubmissionStatus.ACTIVE.value:
                merged_in.setdefault(root, []).append(row)

    lines: list[PetitionLine] = []
    masked = 0
    for row in rows:
        if row.status != SubmissionStatus.ACTIVE.value:
            continue
        group = [row, *merged_in.get(row.id, [])]
        if endpoint_ids is not None and not any(member.endpoint_id in endpoint_ids for member in group):
            continue
        sources: list[Source] = []
        for member in group:
            found = source(member)
            if found not in sources:
                sources.append(found)
        case_type = CaseType(row.case_type)
        denouncer = bool(row.by_a_denouncer) and row.full_name is not None
        hidden = denouncer and not reveal_denouncers
        if hidden:
            masked += 1
        elif denouncer:
            audit.record(
                db,
                at=now,
                actor=actor,
                action="denouncer.view",
                target_type="submission",
                target_id=row.id,
                via="petition_report",
            )
        lines.append(
            PetitionLine(
                id=row.id,
                code=row.code or "",
                level=AnswerLevel(row.level) if row.level else None,
                field=row.field or "",
                case_type=case_type,
                summary=row.summary,
                voters=max(row.voters, len(group)),
                sources=tuple(sources),
                written=sources[0].written,
                petitioner=row.full_name,
                address=row.address or "",
                hidden=hidden,
                merged=len(group) - 1,
                forwarded_to=row.forwarded_to or "",
                outcome=row.outcome or "",
                answered=row.outcome_at is not None or bool(row.outcome),
                classified=bool(row.classified),
            )
        )
    return Compilation(
        round=info,
        attendance=await attendance(db, info, endpoint_ids),
        petitions=lines,
        masked=masked,
    )


async def unclassified(db: AsyncSession, event_id: int) -> int:
    """Active petitions of the round staff have not classified yet."""
    return int(await db.scalar(_UNCLASSIFIED.where(SUBMISSIONS.c.event_id == event_id)) or 0)


async def round_stats(
    db: AsyncSession, event_id: int, *, timing: Timing, endpoint_ids: frozenset[int] | None
) -> RoundStats:
    """Counts only: no identity is read. Raises NotFound."""
    compiled = await compile_round(
        db,
        event_id,
        timing=timing,
        endpoint_ids=endpoint_ids,
        reveal_denouncers=False,
        actor="",
        now=datetime.min,
    )
    lines = compiled.petitions
    by_field = Counter(line.field for line in lines)
    by_level = Counter(line.level for line in lines)
    return RoundStats(
        round=compiled.round,
        attendance=compiled.attendance,
        petitions=len(lines),
        voters=compiled.voters,
        written=sum(1 for line in lines if line.written),
        by_field=sorted(by_field.items(), key=lambda item: (-item[1], item[0] == "", item[0])),
        by_level=[(level, by_level[level]) for level in LEVELS if by_level[level]],
        answered=sum(1 for line in lines if line.answered),
    )
