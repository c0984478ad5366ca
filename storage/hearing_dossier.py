"""A hearing's dossier (hồ sơ phiên giải trình), read for bot/hearing_dossier.py: its topics, each
agency that must explain with its report (filed or not, when, the file), and the speakers in
order with their questions and the agency each is addressed to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.event_kinds import Timing
from storage.hearing_reports import FiledReport, agency_statuses, report_deadline
from storage.models import (
    Agency,
    Citizen,
    Event,
    EventKind,
    EventStatus,
    HearingAgency,
    HearingTopic,
    StaffMember,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)


@dataclass(frozen=True)
class DossierAgency:
    name: str
    topics: tuple[str, ...]  # the topics it explains, in the plan's order
    report: FiledReport | None


@dataclass(frozen=True)
class Speaker:
    number: int  # 1, 2, … in the order the admins set
    delegate: str  # the name given with the registration, else the delegate's profile name
    agency: str  # the agency the question is addressed to
    topic: str
    question: str


@dataclass(frozen=True)
class HearingDossier:
    event_id: int
    title: str
    host: str
    starts_at: datetime
    status: EventStatus
    online_room: str
    report_deadline: datetime
    topics: tuple[str, ...]
    agencies: tuple[DossierAgency, ...]
    speakers: tuple[Speaker, ...]

    @property
    def filed(self) -> int:
        return sum(1 for agency in self.agencies if agency.report is not None)


async def hearing_dossier(db: AsyncSession, event_id: int, *, timing: Timing) -> HearingDossier | None:
    """The dossier of hearing `event_id`; None if there is no such hearing."""
    event = await db.get(Event, event_id)
    if event is None or event.kind != EventKind.HEARING:
        return None
    topics = list(
        await db.scalars(
            select(HearingTopic)
            .where(HearingTopic.event_id == event_id)
            .order_by(HearingTopic.position, HearingTopic.id)
        )
    )
    titles = {topic.id: topic.title for topic in topics}
    order = {topic.id: index for index, topic in enumerate(topics)}
    topic_ids = {
        agency_id: ids
        for agency_id, ids in await db.execute(
            select(HearingAgency.agency_id, HearingAgency.topic_ids).where(HearingAgency.event_id == event_id)
        )
    }
    agencies = tuple(
        DossierAgency(
            name=status.name,
            topics=tuple(
                titles[i]
                for i in sorted(topic_ids.get(status.agency_id) or [], key=lambda i: order.get(i, 0))
                if i in titles
            ),
            report=status.report,
        )
        for status in await agency_statuses(db, event_id)
    )
    rows = (
        await db.execute(
            select(Submission, Agency.name, Citizen.full_name)
            .outerjoin(Agency, Agency.id == Submission.agency_id)
            .outerjoin(StaffMember, StaffMember.id == Submission.staff_id)
            .outerjoin(
                Citizen,
                (Citizen.channel == StaffMember.channel) & (Citizen.channel_user_id == StaffMember.user_id),
            )
            .where(
                Submission.event_id == event_id,
                Submission.kind == SubmissionKind.SPEECH,
                Submission.status == SubmissionStatus.ACTIVE,
            )
            # The admins' order; those not placed yet come after, first registered first.
            .order_by(
                Submission.position.is_(None), Submission.position, Submission.created_at, Submission.id
            )
        )
    ).all()
    speakers = tuple(
        Speaker(
            number=number,
            delegate=speech.full_name or profile_name or "",
            agency=agency_name or "",
            topic=titles.get(speech.topic_id or 0, ""),
            question=speech.summary,
        )
        for number, (speech, agency_name, profile_name) in enumerate(rows, start=1)
    )
    return HearingDossier(
        event_id=event.id,
        title=event.title,
        host=event.host,
        starts_at=event.starts_at,
        status=event.status,
        online_room=event.online_room,
        report_deadline=report_deadline(event, timing),
        topics=tuple(topic.title for topic in topics),
        agencies=agencies,
        speakers=speakers,
    )
