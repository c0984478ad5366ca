"""/broadcast (write, preview, confirm) and /broadcasts (progress, cancel) for admins."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next, TooLong
from bot.dialog.types import Option, Reply
from handlers.staff.common import ADMIN, back_home, button_label, endpoints_from_text
from storage import broadcasts, staff_sessions


@dataclass
class BroadcastDraft(Draft):
    audience: str = ""  # one of broadcasts.AUDIENCES
    target_id: int | None = None  # the session or endpoint of that audience
    text: str = ""  # kept when the audience is chosen again


write = Flow(
    "broadcast", first="audience", command="broadcast", roles=ADMIN, needs_consent=False, draft=BroadcastDraft
)
watch = Flow("broadcasts", first="list", command="broadcasts", roles=ADMIN, needs_consent=False)

TEXT_MIN, TEXT_MAX = 5, 2000


@write.ask("audience")
async def ask_audience(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("staff.broadcast.audience"),
        tuple(ctx.option(audience, f"staff.broadcast.to_{audience}") for audience in broadcasts.AUDIENCES),
    )


@write.handle("audience")
async def on_audience(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in broadcasts.AUDIENCES:
        raise Invalid("common.choose_option")
    BroadcastDraft.of(ctx).audience = answer.choice
    return "target" if answer.choice != "all" else after_target(ctx)


@write.ask("target")
async def ask_target(ctx: Ctx) -> Reply | Next:
    if BroadcastDraft.of(ctx).audience == "endpoint":
        return Reply(ctx.t("staff.broadcast.endpoint"))
    upcoming = await staff_sessions.upcoming(ctx.db, ctx.now, limit=10)
    held = await staff_sessions.latest_held(ctx.db, ctx.now)  # their results, after them
    chosen = {s.id: s for s in held + upcoming}
    if not chosen:  # nothing to choose: say so rather than offer no option
        ctx.say("staff.sessions.none")
        return "audience"
    options = tuple(
        Option(f"s:{s.id}", button_label(f"#{s.id} {ctx.dt(s.starts_at)} — {s.title}"))
        for s in sorted(chosen.values(), key=lambda s: (s.starts_at, s.id))
    )
    return Reply(ctx.t("staff.broadcast.session"), options)


@write.handle("target")
async def on_target(ctx: Ctx, answer: Answer) -> Next:
    draft = BroadcastDraft.of(ctx)
    if draft.audience == "endpoint":
        # A stopped endpoint's coming registrations are kept: its citizens can still be told
        # (most likely about the stop itself).
        found = await endpoints_from_text(ctx, answer.text, stopped_too=True)
        if len(found) != 1:
            raise Invalid("staff.broadcast.one_endpoint")
        draft.target_id = found[0].id
        return after_target(ctx)
    if answer.choice and answer.choice.startswith("s:"):
        draft.target_id = int(answer.choice[2:])
        return after_target(ctx)
    # A past event by its number: a round's results go out after it has met.
    typed = answer.text.strip().lstrip("#")
    if not typed.isdigit():
        raise Invalid("common.choose_option")
    if await broadcasts.target_name(ctx.db, "session", int(typed)) is None:
        raise Invalid("staff.broadcast.no_event", id=typed)
    draft.target_id = int(typed)
    return after_target(ctx)


def after_target(ctx: Ctx) -> Next:
    """The text next, or, when the audience was chosen again, the preview of the text kept."""
    return "preview" if BroadcastDraft.of(ctx).text else "text"


@write.ask("text")
async def ask_text(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.broadcast.text", min=TEXT_MIN, max=TEXT_MAX))


@write.handle("text")
async def on_text(ctx: Ctx, answer: Answer) -> Next:
    text = answer.text.strip()
    if not TEXT_MIN <= len(text) <= TEXT_MAX:
        refusal = TooLong if len(text) > TEXT_MAX else Invalid
        raise refusal("staff.review.note_length", min=TEXT_MIN, max=TEXT_MAX)
    BroadcastDraft.of(ctx).text = text
    return "preview"


async def audience_name(ctx: Ctx) -> str:
    draft = BroadcastDraft.of(ctx)
    if draft.audience not in ("session", "endpoint"):
        return ctx.t("staff.broadcast.to_all")
    name = await broadcasts.target_name(ctx.db, draft.audience, draft.target_id) or "—"
    if draft.audience == "session":
        return ctx.t("staff.broadcast.of_session", title=name)
    return ctx.t("staff.broadcast.of_endpoint", endpoint=name)


@write.ask("preview")
async def ask_preview(ctx: Ctx) -> Reply | Next:
    draft = BroadcastDraft.of(ctx)
    people = await broadcasts.recipients(ctx.db, draft.audience, draft.target_id, now=ctx.now)
    if not people:  # nobody would get it: choose others, the text is kept
        ctx.say("staff.broadcast.nobody", audience=await audience_name(ctx))
        draft.target_id = None
        return "audience"
    seconds = max(1, round(len(people) / ctx.settings.outbox_rate_per_second))
    text = ctx.t(
        "staff.broadcast.preview",
        audience=await audience_name(ctx),
        count=len(people),
        minutes=seconds // 60,
        seconds=seconds % 60,
        text=draft.text,
    )
    return Reply(text, (ctx.option("send", "staff.broadcast.send"), ctx.option("cancel", "register.discard")))


@write.handle("preview")
async def on_preview(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "cancel":
        ctx.say("common.cancelled")
        return Goto("staff_home", data={})
    if answer.choice != "send":
        raise Invalid("common.choose_option")
    draft = BroadcastDraft.of(ctx)
    started = await broadcasts.start(
        ctx.db,
        audience=draft.audience,
        target_id=draft.target_id,
        text=draft.text,
        actor=ctx.actor,
        now=ctx.now,
    )
    ctx.say("staff.broadcast.started", id=started.id, count=started.total)
    return Goto("staff_home", data={})


@watch.ask("list")
async def ask_list(ctx: Ctx) -> Reply:
    recent = await broadcasts.recent(ctx.db, limit=10)
    if not recent:
        return Reply(ctx.t("staff.broadcast.none"))
    lines, options = [], []
    for done in recent:
        lines.append(
            ctx.t(
                "staff.broadcast.progress",
                id=done.id,
                state=ctx.t(f"staff.broadcast.state.{done.state}"),
                total=done.total,
                sent=done.sent,
                failed=done.failed,
                unreachable=done.unreachable,
                left=done.left,
            )
        )
        if done.state == "running":
            options.append(Option(f"stop:{done.id}", ctx.t("staff.broadcast.stop", id=done.id)))
    return Reply("\n\n".join(lines), tuple(options))


@watch.handle("list")
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    if not answer.choice or not answer.choice.startswith("stop:"):
        return await back_home(ctx, answer)
    broadcast_id = int(answer.choice[5:])
    state = await broadcasts.state_of(ctx.db, broadcast_id)
    if state == "running":
        stopped = await broadcasts.cancel(ctx.db, broadcast_id, actor=ctx.actor, now=ctx.now)
        ctx.say("staff.broadcast.stopped", id=broadcast_id, count=stopped)
    elif state is not None:  # it finished, or was stopped, since the list was shown
        ctx.say("staff.broadcast.not_running", id=broadcast_id, state=ctx.t(f"staff.broadcast.state.{state}"))
    return "list"
