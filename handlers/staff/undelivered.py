"""/undelivered: notices that did not reach the citizen, to call them instead."""

from __future__ import annotations

from bot.dialog.flow import Answer, Ctx, Flow, Next
from bot.dialog.types import Option, Reply
from handlers.staff.common import STAFF, back_home
from handlers.staff.sessions import visible_name
from storage import undelivered

calls = Flow("undelivered", first="list", command="undelivered", roles=STAFF, needs_consent=False)


@calls.ask("list")
async def ask_list(ctx: Ctx) -> Reply:
    found = await undelivered.to_call(ctx.db, ctx.actor)
    if not found:
        return Reply(ctx.t("staff.undelivered.none"))
    lines, options = [ctx.t("staff.undelivered.title", count=len(found))], []
    for item in found:
        name = await visible_name(ctx, item.case) if item.case else item.citizen_name
        lines.append(
            ctx.t(
                "staff.undelivered.item",
                id=item.notice_id,
                kind=ctx.t(f"staff.undelivered.kind.{item.kind}"),
                name=name or "—",
                phone=item.phone or ctx.t("staff.undelivered.no_phone"),
                channel=item.channel,
                code=item.case.code if item.case else "—",
                when=ctx.dt(item.due_at),
                reason=ctx.t(f"staff.undelivered.reason.{item.state}"),
            )
        )
        options.append(
            Option(f"done:{item.notice_id}", ctx.t("staff.undelivered.contacted", id=item.notice_id))
        )
    return Reply("\n\n".join(lines), tuple(options))


@calls.handle("list")
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    if not answer.choice or not answer.choice.startswith("done:"):
        return await back_home(ctx, answer)
    marked = await undelivered.mark_contacted(ctx.db, int(answer.choice[5:]), ctx.actor, now=ctx.now)
    ctx.say("staff.undelivered.marked" if marked else "staff.undelivered.gone")
    return "list"
