"""How sessions and registrations read in chat, in one place."""

from __future__ import annotations

from typing import Protocol

from bot.dialog.flow import Ctx
from storage.models import CaseType, SignUpStatus
from storage.registrations import CitizenRegistration
from storage.sessions import SessionSeat
from storage.text import mask_name


class Holder(Protocol):
    """A registration as a list of them shows whose it is."""

    @property
    def full_name(self) -> str | None: ...

    @property
    def case_type(self) -> CaseType: ...


def seat_label(ctx: Ctx, seat: SessionSeat) -> str:
    if seat.seats_left:
        return ctx.t("session.option", when=ctx.dt(seat.starts_at), left=seat.seats_left)
    return ctx.t("session.option_full", when=ctx.dt(seat.starts_at))


def seat_details(ctx: Ctx, seat: SessionSeat) -> str:
    return ctx.t(
        "session.details",
        title=seat.title,
        when=ctx.dt(seat.starts_at),
        endpoint=seat.endpoint_name,
        address=seat.endpoint_address or "—",
        left=seat.seats_left,
        capacity=seat.capacity,
        deadline=ctx.dt(seat.deadline),
    )


def case_type_label(ctx: Ctx, case_type: CaseType | str) -> str:
    return ctx.t(f"case_type.{CaseType(case_type).value}")


def field_label(ctx: Ctx, code: str) -> str:
    return ctx.t(f"field.{code}")


def holder_name(registration: Holder) -> str:
    """The name to show in staff lists: masked for a denunciation (Luật Tố cáo, Art. 9)."""
    name = registration.full_name or ""
    return mask_name(name) if registration.case_type == CaseType.DENUNCIATION else name


def citizen_status(ctx: Ctx, registration: CitizenRegistration) -> str:
    """The state of a registration as the citizen should read it: a held seat is not yet a
    confirmed case (staff may still return or forward it), and a decision says whether to come."""
    if registration.status == SignUpStatus.CANCELLED:
        return ctx.t("registration.status.cancelled")
    if registration.status == SignUpStatus.WAITLISTED:
        accepted = registration.route == "accept"
        return ctx.t(
            "registration.citizen.accept_waitlisted" if accepted else "registration.status.waitlisted"
        )
    return ctx.t(f"registration.citizen.{registration.route or 'under_review'}")


def registration_details(ctx: Ctx, registration: CitizenRegistration, *, denouncer: bool) -> str:
    """One registration as its citizen sees it. `denouncer` (CitizenRecord.denouncer, read
    with the conversation state): a citizen who has denounced is never shown their name again, on any of their
    registrations, whatever its case type."""
    seat = registration.seat
    deadline_line = ""  # a cancelled registration has nothing left to edit
    if registration.status != SignUpStatus.CANCELLED:
        deadline_line = ctx.t("registration.edit_deadline", deadline=ctx.dt(seat.deadline)) + "\n"
    return ctx.t(
        "registration.details",
        code=registration.code,
        status=citizen_status(ctx, registration),
        title=seat.title,
        when=ctx.dt(seat.starts_at),
        endpoint=seat.endpoint_name,
        address=seat.endpoint_address or "—",
        deadline_line=deadline_line,
        name=(mask_name(registration.full_name or "") if denouncer else registration.full_name) or "—",
        case_type=case_type_label(ctx, registration.case_type),
        field=field_label(ctx, registration.field),
        summary=registration.summary or "—",
    )
