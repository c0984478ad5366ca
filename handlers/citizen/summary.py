"""A case summary written over several messages.

People write a long story in several messages in a row. Each one is added to a draft kept
in the conversation, shown back with its length, until the citizen says it is done (the
"Done" button, or "xong"). SUMMARY_MAX_CHARS holds for the whole, SUMMARY_MIN_CHARS when
it is done. Used where a registration is made and where its summary is changed.
"""

from __future__ import annotations

from bot.dialog.types import Option, Reply
from handlers import inputs, words
from handlers.base import Answer, Ctx, Invalid, TooLong

DRAFT = "summary_draft"
PREVIEW_CHARS = 600  # a longer draft is shown by its start and its end
DONE, CLEAR, KEEP = "done", "clear", "keep"


def preview(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return text
    head = PREVIEW_CHARS * 2 // 3
    return f"{text[:head].rstrip()} […] {text[-(PREVIEW_CHARS - head) :].lstrip()}"


def ask(ctx: Ctx, question: str, saved: str | None) -> Reply:
    """The question, or, once a part has come, what has been collected so far. `saved`: the
    summary given before (editing), which the citizen may keep."""
    draft = str(ctx.data.get(DRAFT, ""))
    limit = ctx.settings.summary_max_chars
    keep: tuple[Option, ...] = (ctx.option(KEEP, "summary.keep"),) if saved else ()
    if not draft:
        if saved:
            question += "\n\n" + ctx.t("summary.current", length=len(saved), text=preview(saved))
        return Reply(question, keep)
    text = ctx.t("summary.collected", length=len(draft), max=limit, text=preview(draft))
    return Reply(text, (ctx.option(DONE, "summary.done"), ctx.option(CLEAR, "summary.clear"), *keep))


def collect(ctx: Ctx, answer: Answer, saved: str | None) -> str | None:
    """The finished summary once the citizen says it is done (`saved` when they keep it);
    None while parts are still coming. A part that does not fit is refused with `Invalid`."""
    s = ctx.settings
    draft = str(ctx.data.get(DRAFT, ""))
    done = answer.choice == DONE or words.means(answer.text, words.DONE)
    if saved and (answer.choice == KEEP or (done and not draft)):
        ctx.data.pop(DRAFT, None)
        return saved
    if answer.choice == CLEAR:
        ctx.data.pop(DRAFT, None)
        return None
    if done:
        if not draft:
            raise Invalid("input.summary.nothing_yet")
        summary = inputs.parse_summary(draft, s.summary_min_chars, s.summary_max_chars)
        ctx.data.pop(DRAFT, None)
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
    ctx.data[DRAFT] = whole
    return None
