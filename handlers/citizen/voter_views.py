"""How voter-contact rounds and petitions read in chat, in one place."""

from __future__ import annotations

from bot.dialog.flow import Ctx
from handlers.citizen.views import case_type_label, field_label
from storage.models import AnswerLevel, CaseType, SignUpStatus, SubmissionStatus
from storage.petitions import Petition
from storage.text import mask_name
from storage.voters import Attendance, Stop, VoterRound

STOPS_SHOWN = 8  # a round's communes listed; more are counted
# Petition types offered, the usual one first (kiến nghị).
PETITION_TYPES = (CaseType.PETITION, CaseType.REFLECTION, CaseType.COMPLAINT, CaseType.DENUNCIATION)


def level_label(ctx: Ctx, level: AnswerLevel | str | None) -> str:
    return ctx.t(f"petition.level.{AnswerLevel(level).value}") if level else ctx.t("petition.level.unknown")


def stop_line(ctx: Ctx, stop: Stop) -> str:
    return ctx.t("voters.stop", endpoint=stop.endpoint_name, when=ctx.dt(stop.starts_at))


def attendance_line(ctx: Ctx, found: VoterRound, attendance: Attendance) -> str:
    stop = found.stop(attendance.event_endpoint_id)
    message = (
        "voters.attending.waitlisted" if attendance.status == SignUpStatus.WAITLISTED else "voters.attending"
    )
    return ctx.t(
        message,
        code=attendance.code,
        endpoint=stop.endpoint_name if stop else "—",
        when=ctx.dt(stop.starts_at) if stop else "—",
    )


def round_block(ctx: Ctx, found: VoterRound) -> str:
    """A round as the list shows it: title, delegates' group, each commune's day, the deadline."""
    lines = [stop_line(ctx, stop) for stop in found.stops[:STOPS_SHOWN]]
    if len(found.stops) > STOPS_SHOWN:
        lines.append(ctx.t("voters.stops_more", count=len(found.stops) - STOPS_SHOWN))
    text = ctx.t(
        "voters.round",
        title=found.title,
        host=found.host or "—",
        stops="\n".join(lines) or ctx.t("voters.no_stops"),
        deadline=ctx.dt(found.petition_deadline),
    )
    if found.attendance is not None:
        text += "\n" + attendance_line(ctx, found, found.attendance)
    return text


def petition_status(ctx: Ctx, petition: Petition, now_open: bool) -> str:
    if petition.status != SubmissionStatus.ACTIVE:
        return ctx.t(f"petition.status.{petition.status.value}")
    if petition.outcome:
        return ctx.t("petition.status.answered")
    return ctx.t("petition.status.active" if now_open else "petition.status.closed")


def petition_details(ctx: Ctx, petition: Petition, *, denouncer: bool) -> str:
    """One petition as its voter sees it. A denouncer's name is never shown in full again
    (Luật Tố cáo, Art. 9), on any of their petitions."""
    open_now = petition.changeable(ctx.now)
    hidden = denouncer or petition.case_type == CaseType.DENUNCIATION
    name = (mask_name(petition.full_name or "") if hidden else petition.full_name) or "—"
    text = ctx.t(
        "petition.details",
        code=petition.code,
        status=petition_status(ctx, petition, open_now),
        title=petition.title,
        endpoint=petition.endpoint_name or "—",
        name=name,
        case_type=case_type_label(ctx, petition.case_type),
        field=field_label(ctx, petition.field),
        level=level_label(ctx, petition.level),
        summary=petition.summary or "—",
        attachments=", ".join(str(item.get("name", "")) for item in petition.attachments) or "—",
    )
    if open_now:
        text += "\n" + ctx.t("petition.changeable_until", deadline=ctx.dt(petition.deadline))
    if petition.outcome:
        text += "\n\n" + ctx.t("petition.answer", outcome=petition.outcome)
    return text
