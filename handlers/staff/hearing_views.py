"""A hearing as staff see it in /sessions and /session ID: its topics, the agencies that must
explain (each with its topics and whether its report is filed), its deadlines, and the
citizens' questions and the delegates registered to speak, counted."""

from __future__ import annotations

from bot.dialog.flow import Ctx
from storage.hearings import HearingAgencyInfo, HearingInfo


def report_state(ctx: Ctx, agency: HearingAgencyInfo) -> str:
    if agency.report_filed_at is None:
        return ctx.t("hsetup.view.report_missing")
    if agency.report_updated_at and agency.report_updated_at != agency.report_filed_at:
        return ctx.t(
            "hsetup.view.report_replaced",
            when=ctx.dt(agency.report_filed_at),
            updated=ctx.dt(agency.report_updated_at),
        )
    return ctx.t("hsetup.view.report_filed", when=ctx.dt(agency.report_filed_at))


def overview(ctx: Ctx, hearing: HearingInfo, seats: str) -> str:
    return ctx.t(
        "hsetup.view.item",
        id=hearing.id,
        title=hearing.title,
        host=hearing.host or "—",
        when=ctx.dt(hearing.starts_at),
        topics=len(hearing.topics),
        agencies=len(hearing.agencies),
        filed=len(hearing.filed),
        report=ctx.dt(hearing.report_deadline),
        questions_deadline=ctx.dt(hearing.questions_deadline),
        questions=hearing.questions,
        speakers=hearing.speakers,
        seats=seats,
    )


def detail(ctx: Ctx, hearing: HearingInfo, seats: str) -> str:
    topics = "\n".join(f"{topic.position}. {topic.title}" for topic in hearing.topics) or "—"
    numbers = {topic.id: topic.position for topic in hearing.topics}
    agencies = "\n".join(
        ctx.t(
            "hsetup.view.agency",
            name=agency.name,
            topics=", ".join(str(numbers[i]) for i in agency.topic_ids if i in numbers) or "—",
            report=report_state(ctx, agency),
        )
        for agency in hearing.agencies
    )
    text = ctx.t(
        "hsetup.view.detail",
        id=hearing.id,
        title=hearing.title,
        host=hearing.host or "—",
        when=ctx.dt(hearing.starts_at),
        status=ctx.t(f"session.status.{hearing.status.value}"),
        room=hearing.online_room or "—",
        topics=topics,
        agencies=agencies or "—",
        filed=len(hearing.filed),
        total=len(hearing.agencies),
        report=ctx.dt(hearing.report_deadline),
        questions_deadline=ctx.dt(hearing.questions_deadline),
        questions=hearing.questions,
        speakers=hearing.speakers,
    )
    if hearing.conclusion:
        text += "\n\n" + ctx.t("hsetup.view.conclusion", conclusion=hearing.conclusion)
    return text + "\n\n" + seats
