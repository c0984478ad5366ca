"""Explanation hearings (phiên giải trình) as plain data: the agencies that may be called, a
hearing made with its topics, the agencies that must explain (each on some topics) and its
deadlines, and one read of it all (`HearingInfo`) for the flows that show or use a hearing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import staff_sessions
from storage.event_kinds import Timing, default_report_deadline, policy
from storage.models import (
    Agency,
    Event,
    EventKind,
    EventStatus,
    HearingAgency,
    HearingTopic,
    StaffMember,
    StaffRole,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)

AGENCY_NAME_LONGEST = 200  # Agency.name
TOPIC_LONGEST = 300  # HearingTopic.title


@dataclass(frozen=True)
class AgencyInfo:
    id: int
    name: str
    active: bool


def _agency(row: Agency) -> AgencyInfo:
    return AgencyInfo(row.id, row.name, row.active)


def tidy_name(name: str) -> str:
    return " ".join(name.split())


async def list_agencies(db: AsyncSession, *, active_only: bool = True) -> list[AgencyInfo]:
    query = select(Agency).order_by(Agency.name, Agency.id)
    if active_only:
        query = query.where(Agency.active.is_(True))
    return [_agency(row) for row in await db.scalars(query)]


async def agency(db: AsyncSession, agency_id: int) -> AgencyInfo | None:
    row = await db.get(Agency, agency_id)
    return None if row is None else _agency(row)


async def find_agency(db: AsyncSession, name: str) -> AgencyInfo | None:
    """The agency of this name, spaces and letter case aside ("sở tài nguyên" finds "Sở Tài nguyên")."""
    wanted = tidy_name(name).casefold()
    for row in await db.scalars(select(Agency).order_by(Agency.id)):
        if row.name.casefold() == wanted:
            return _agency(row)
    return None


async def get_or_create_agency(db: AsyncSession, name: str, *, now: datetime) -> AgencyInfo:
    """The agency of this name, made (or made active again) when needed."""
    name = tidy_name(name)
    if not name or len(name) > AGENCY_NAME_LONGEST:
        raise ValueError("an agency's name is 1 to 200 characters")
    found = await find_agency(db, name)
    if found is not None:
        if not found.active:
            row = await db.get(Agency, found.id)
            assert row is not None
            row.active = True
            return _agency(row)
        return found
    row = Agency(name=name, active=True, created_at=now)
    db.add(row)
    await db.flush()
    return _agency(row)


@dataclass(frozen=True)
class Topic:
    id: int
    position: int  # 1, 2, … in the plan's order
    title: str


@dataclass(frozen=True)
class HearingAgencyInfo:
    """An agency that must explain at a hearing, on these topics, and its report (if filed)."""

    agency_id: int
    name: str
    topic_ids: tuple[int, ...]
    report_filed_at: datetime | None = None  # when its report was first filed
    report_updated_at: datetime | None = None  # when it was last replaced

    @property
    def filed(self) -> bool:
        return self.report_filed_at is not None


@dataclass(frozen=True)
class HearingInfo:
    """A hearing as the flows read it: its event, topics, agencies and deadlines, with what
    has been handed in counted."""

    id: int
    title: str
    host: str
    starts_at: datetime
    status: EventStatus
    online_room: str
    topics: tuple[Topic, ...]
    agencies: tuple[HearingAgencyInfo, ...]
    report_deadline: datetime  # the event's, else the default (report_days_before)
    questions_deadline: datetime  # the event's, else the policy's default
    conclusion: str
    concluded_at: datetime | None
    questions: int = 0  # citizens' questions not withdrawn
    speakers: int = 0  # delegates registered to speak, not withdrawn

    def topic(self, topic_id: int) -> Topic | None:
        return next((topic for topic in self.topics if topic.id == topic_id), None)

    def agency(self, agency_id: int) -> HearingAgencyInfo | None:
        return next((agency for agency in self.agencies if agency.agency_id == agency_id), None)

    def topics_of(self, agency_id: int) -> tuple[Topic, ...]:
        found = self.agency(agency_id)
        wanted = set(found.topic_ids) if found else set()
        return tuple(topic for topic in self.topics if topic.id in wanted)

    @property
    def filed(self) -> tuple[HearingAgencyInfo, ...]:
        return tuple(agency for agency in self.agencies if agency.filed)

    @property
    def not_filed(self) -> tuple[HearingAgencyInfo, ...]:
        return tuple(agency for agency in self.agencies if not agency.filed)


@dataclass(frozen=True)
class AgencyTopics:
    """An agency to call to a new hearing, by name, on the topics numbered (1 = the first)."""

    name: str
    topics: tuple[int, ...]


class HearingError(ValueError):
    def __init__(self, reason: str) -> None:  # no_topics | no_agencies | topic_unknown | agency_topics
        super().__init__(reason)
        self.reason = reason


async def create_hearing(
    db: AsyncSession,
    *,
    title: str,
    host: str,
    starts_at: datetime,
    endpoint_ids: Iterable[int],
    capacity: int,
    online_room: str,
    topics: Sequence[str],
    agencies: Sequence[AgencyTopics],
    report_deadline: datetime | None,
    questions_deadline: datetime | None,
    timing: Timing,
    now: datetime,
) -> HearingInfo:
    """A hearing: the event at these endpoints, its topics in order, the agencies (made when
    new) each on its topics (numbers into `topics`, from 1), and its deadlines (the defaults
    of the policy when None)."""
    titles = [" ".join(topic.split())[:TOPIC_LONGEST] for topic in topics if topic.strip()]
    if not titles:
        raise HearingError("no_topics")
    if not agencies:
        raise HearingError("no_agencies")
    for called in agencies:
        if not called.topics:
            raise HearingError("agency_topics")
        if any(not 1 <= number <= len(titles) for number in called.topics):
            raise HearingError("topic_unknown")
    made = await staff_sessions.create(
        db,
        kind=EventKind.HEARING,
        title=title,
        host=host,
        starts_at=starts_at,
        endpoint_ids=endpoint_ids,
        capacity=capacity,
        online_room=online_room,
        now=now,
    )
    event = await db.get(Event, made.id)
    assert event is not None
    event.report_deadline = report_deadline or default_report_deadline(starts_at, timing)
    event.questions_deadline = questions_deadline or policy(EventKind.HEARING).submission_deadline(
        event, timing
    )
    rows = [HearingTopic(event_id=event.id, position=i, title=t) for i, t in enumerate(titles, start=1)]
    db.add_all(rows)
    await db.flush()
    ids = [row.id for row in rows]
    merged: dict[int, list[int]] = {}
    for called in agencies:
        found = await get_or_create_agency(db, called.name, now=now)
        topic_ids = merged.setdefault(found.id, [])
        topic_ids.extend(ids[n - 1] for n in called.topics if ids[n - 1] not in topic_ids)
    db.add_all(
        HearingAgency(event_id=event.id, agency_id=agency_id, topic_ids=sorted(topic_ids))
        for agency_id, topic_ids in merged.items()
    )
    await db.flush()
    info = await hearing_info(db, event.id, timing)
    assert info is not None
    return info


async def hearing_info(db: AsyncSession, event_id: int, timing: Timing) -> HearingInfo | None:
    """The hearing `event_id` (None if there is none, or the event is of another kind)."""
    found = await hearings_info(db, [event_id], timing)
    return found.get(event_id)


async def hearings_info(db: AsyncSession, event_ids: Iterable[int], timing: Timing) -> dict[int, HearingInfo]:
    """These events that are hearings, read at once (five reads whatever their number)."""
    ids = list(event_ids)
    if not ids:
        return {}
    events = {
        event.id: event
        for event in await db.scalars(select(Event).where(Event.id.in_(ids), Event.kind == EventKind.HEARING))
    }
    if not events:
        return {}
    ids = list(events)
    topics: dict[int, list[Topic]] = {}
    for row in await db.scalars(
        select(HearingTopic).where(HearingTopic.event_id.in_(ids)).order_by(HearingTopic.position)
    ):
        topics.setdefault(row.event_id, []).append(Topic(row.id, row.position, row.title))
    reports: dict[tuple[int, int], tuple[datetime, datetime]] = {}
    for event_id, agency_id, first, last in await db.execute(
        select(
            Submission.event_id,
            Submission.agency_id,
            func.min(Submission.created_at),
            func.max(Submission.updated_at),
        )
        .where(
            Submission.event_id.in_(ids),
            Submission.kind == SubmissionKind.REPORT,
            Submission.status == SubmissionStatus.ACTIVE,
        )
        .group_by(Submission.event_id, Submission.agency_id)
    ):
        if agency_id is not None:
            reports[(event_id, agency_id)] = (first, last)
    called: dict[int, list[HearingAgencyInfo]] = {}
    for link, name in await db.execute(
        select(HearingAgency, Agency.name)
        .join(Agency, Agency.id == HearingAgency.agency_id)
        .where(HearingAgency.event_id.in_(ids))
        .order_by(HearingAgency.id)
    ):
        filed = reports.get((link.event_id, link.agency_id))
        called.setdefault(link.event_id, []).append(
            HearingAgencyInfo(
                link.agency_id,
                name,
                tuple(link.topic_ids or ()),
                filed[0] if filed else None,
                filed[1] if filed else None,
            )
        )
    counts: dict[tuple[int, SubmissionKind], int] = {}
    for event_id, kind, count in await db.execute(
        select(Submission.event_id, Submission.kind, func.count())
        .where(
            Submission.event_id.in_(ids),
            Submission.kind.in_((SubmissionKind.QUESTION, SubmissionKind.SPEECH)),
            Submission.status != SubmissionStatus.WITHDRAWN,
        )
        .group_by(Submission.event_id, Submission.kind)
    ):
        counts[(event_id, kind)] = count
    rule = policy(EventKind.HEARING)
    return {
        event.id: HearingInfo(
            id=event.id,
            title=event.title,
            host=event.host,
            starts_at=event.starts_at,
            status=event.status,
            online_room=event.online_room,
            topics=tuple(topics.get(event.id, ())),
            agencies=tuple(called.get(event.id, ())),
            report_deadline=event.report_deadline or default_report_deadline(event.starts_at, timing),
            questions_deadline=rule.submission_deadline(event, timing),
            conclusion=event.conclusion,
            concluded_at=event.concluded_at,
            questions=counts.get((event.id, SubmissionKind.QUESTION), 0),
            speakers=counts.get((event.id, SubmissionKind.SPEECH), 0),
        )
        for event in events.values()
    }


async def hearings_of_agency(
    db: AsyncSession, agency_id: int, timing: Timing, *, now: datetime | None = None
) -> list[HearingInfo]:
    """The hearings this agency must explain at (not cancelled; only those not yet held when
    `now` is given), soonest first."""
    query = (
        select(Event.id)
        .join(HearingAgency, HearingAgency.event_id == Event.id)
        .where(HearingAgency.agency_id == agency_id, Event.status != EventStatus.CANCELLED)
        .order_by(Event.starts_at, Event.id)
    )
    if now is not None:
        query = query.where(Event.starts_at > now)
    ids = list(await db.scalars(query))
    found = await hearings_info(db, ids, timing)
    return [found[i] for i in ids if i in found]


async def liaison_keys(db: AsyncSession, agency_ids: Iterable[int]) -> list[tuple[str, str]]:
    """(channel, user id) of the active liaisons of these agencies."""
    ids = list(agency_ids)
    if not ids:
        return []
    rows = await db.execute(
        select(StaffMember.channel, StaffMember.user_id)
        .where(
            StaffMember.agency_id.in_(ids),
            StaffMember.role == StaffRole.LIAISON,
            StaffMember.active.is_(True),
        )
        .order_by(StaffMember.id)
    )
    return [(channel, user_id) for channel, user_id in rows]


def topics_by_number(numbers: Mapping[str, Sequence[int]]) -> list[AgencyTopics]:
    """{"Sở Tài nguyên": [1, 2]} as the agencies to call."""
    return [AgencyTopics(name, tuple(topics)) for name, topics in numbers.items()]
