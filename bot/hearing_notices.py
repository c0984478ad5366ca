"""The notices of a hearing moved or cancelled, to whom it concerns: a citizen who sent a
question, a delegate registered to speak, an agency's liaison (each told what stays theirs)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translator
from storage.models import Event, Notification
from storage.outbox import HearingCancelled, HearingMoved, params_of

ROLES = ("question", "speaker", "liaison")


async def _event(db: AsyncSession, event_id: int) -> Event:
    event = await db.get(Event, event_id)
    if event is None:
        raise LookupError(f"event {event_id} is gone")
    return event


def _role(role: str) -> str:
    return role if role in ROLES else "question"


async def render_hearing_moved(db: AsyncSession, notice: Notification, t: Translator) -> str:
    params = params_of(notice, HearingMoved)
    event = await _event(db, params.event_id)
    deadline = event.report_deadline if params.role == "liaison" else event.questions_deadline
    text = t(
        "notice.hearing_moved",
        title=event.title,
        old=t.datetime(params.old),
        new=t.datetime(params.new),
        reason=params.reason,
    )
    after = t(
        f"hsetup.notice.moved_{_role(params.role)}",
        deadline=t.datetime(deadline) if deadline is not None else "—",
    )
    return f"{text}\n{after}"


async def render_hearing_cancelled(db: AsyncSession, notice: Notification, t: Translator) -> str:
    params = params_of(notice, HearingCancelled)
    event = await _event(db, params.event_id)
    text = t(
        "notice.hearing_cancelled", title=event.title, when=t.datetime(event.starts_at), reason=params.reason
    )
    return f"{text}\n" + t(f"hsetup.notice.cancelled_{_role(params.role)}")
