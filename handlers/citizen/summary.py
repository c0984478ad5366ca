"""A case summary written over several messages.

People write a long story in several messages in a row. Each one is added to a draft kept
in the conversation, shown back with its length, until the citizen says it is done (the
"Done" button, or "xong"). A summary given before (the step reached again from the review,
or a registration's summary edited) is where the draft starts: what is sent is added to
it, "Done" keeps the whole and "Clear" (or "xóa") starts again from nothing, so no answer
drops text the citizen has not chosen to drop. SUMMARY_MAX_CHARS holds for the whole,
SUMMARY_MIN_CHARS when it is done. Used where a registration is made and where its summary
is changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.flow import Answer, Ctx, Draft, Invalid, TooLong
from bot.dialog.types import Reply
from handlers import inputs, words

PREVIEW_CHARS = 600  # a longer draft is shown by its start and its end
DONE, CLEAR = "done", "clear"


@dataclass
class SummaryDraft(Draft):
    """What a flow that takes a summary keeps of it between messages: its own draft (the
    register and mine flows) subclasses this one."""

    summary_draft: str | None = None  # None: not begun, it starts from the saved summary


def preview(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return text
    head = PREVIEW_CHARS * 2 // 3
    return f"{text[:head].rstrip()} […] {text[-(PREVIEW_CHARS - head) :].lstrip()}"


def forget(ctx: Ctx) -> None:
    """Drop the draft, so that the step reached again starts from the saved summary."""
    SummaryDraft.of(ctx).summary_draft = None


def draft_of(ctx: Ctx, saved: str | None) -> str:
    """The draft: the saved summary until the citizen adds to it or clears it."""
    draft = SummaryDraft.of(ctx)
    if draft.summary_draft is None:
        draft.summary_draft = saved or ""
    return draft.summary_draft


def ask(ctx: Ctx, question: str, saved: str | None) -> Reply:
    """The question, with what the draft holds so far (`saved`: the summary given before)."""
    draft = draft_of(ctx, saved)
    if not draft:
        return Reply(question)
    options = (ctx.option(DONE, "summary.done"), ctx.option(CLEAR, "summary.clear"))
    if draft == saved:
        current = ctx.t("summary.current", length=ctx.t.number(len(draft)), text=preview(draft))
        return Reply(f"{question}\n\n{current}", options)
    limit = ctx.settings.summary_max_chars
    length, most = ctx.t.number(len(draft)), ctx.t.number(limit)
    text = ctx.t("summary.collected", length=length, max=most, text=preview(draft))
    return Reply(text, options)


def collect(ctx: Ctx, answer: Answer, saved: str | None) -> str | None:
    """The finished summary once the citizen says it is done; None while parts are still
    coming or after the draft was cleared. A part that does not fit is refused with `Invalid`."""
    s = ctx.settings
    draft = draft_of(ctx, saved)
    if answer.choice == CLEAR or words.means(answer.text, words.CLEAR):
        SummaryDraft.of(ctx).summary_draft = ""
        return None
    if answer.choice == DONE or words.means(answer.text, words.DONE):
        if not draft:
            raise Invalid("input.summary.nothing_yet")
        summary = inputs.parse_summary(draft, s.summary_min_chars, s.summary_max_chars)
        forget(ctx)
        return summary
    part = inputs.clean_summary(answer.text)
    if not part:
        raise Invalid("input.summary.nothing_yet")
    if not any(ch.isalnum() for ch in part):  # a row of emoji adds nothing to a case
        raise Invalid("input.summary.no_text")
    if not draft and len(part) > s.summary_max_chars:
        raise TooLong("input.summary.too_long", max=s.summary_max_chars, length=len(part))
    whole = f"{draft}\n{part}" if draft else part
    if len(whole) > s.summary_max_chars:
        raise TooLong(
            "input.summary.part_too_long",
            max=s.summary_max_chars,
            have=len(draft),
            part=len(part),
            room=max(s.summary_max_chars - len(draft) - 1, 0),
        )
    SummaryDraft.of(ctx).summary_draft = whole
    return None
