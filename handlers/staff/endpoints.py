"""/endpoints [NAME]: an admin finds an endpoint (active or not) and stops or resumes offering it."""

from __future__ import annotations

from dataclasses import dataclass

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers.staff.common import ADMIN, button_label
from storage import audit
from storage.endpoints import (
    EndpointInfo,
    endpoint_by_code,
    search_endpoints,
    set_active,
    upcoming_registrations,
)


@dataclass
class EndpointsDraft(Draft):
    query: str = ""  # the name or code looked for


manage = Flow(
    "endpoints", first="query", command="endpoints", roles=ADMIN, needs_consent=False, draft=EndpointsDraft
)

SHOWN = 8  # endpoints listed at once; a longer list asks for a closer name


@manage.ask("query")
async def ask_query(ctx: Ctx) -> Reply | Next:
    if ctx.args:
        EndpointsDraft.of(ctx).query = ctx.args
        return "list"
    return Reply(ctx.t("staff.endpoints.ask"))


@manage.handle("query")
async def on_query(ctx: Ctx, answer: Answer) -> Next:
    query = " ".join(answer.text.split())[:100]
    if not query:
        raise Invalid("staff.endpoints.ask")
    EndpointsDraft.of(ctx).query = query
    return "list"


async def matching(ctx: Ctx, query: str) -> tuple[list[EndpointInfo], int]:
    """The endpoint of that code, else those whose name (or old name) matches, active or not;
    and how many there are in all."""
    by_code = await endpoint_by_code(ctx.db, query)
    if by_code is not None:
        return [by_code], 1
    page = await search_endpoints(ctx.db, query, page_size=SHOWN, active_only=False)
    return page.items, page.total


@manage.ask("list")
async def ask_list(ctx: Ctx) -> Reply | Next:
    query = EndpointsDraft.of(ctx).query
    found, total = await matching(ctx, query)
    if not found:
        ctx.say("staff.endpoints.none", query=query)
        return Reply(ctx.t("staff.endpoints.ask"))
    lines, options = [], []
    for endpoint in found:
        state = "staff.endpoints.active" if endpoint.active else "staff.endpoints.inactive"
        lines.append(
            ctx.t("staff.endpoints.item", code=endpoint.code, name=endpoint.name, state=ctx.t(state))
        )
        action = (
            ("off", "staff.endpoints.deactivate") if endpoint.active else ("on", "staff.endpoints.reactivate")
        )
        options.append(
            Option(f"{action[0]}:{endpoint.id}", button_label(ctx.t(action[1], name=endpoint.name)))
        )
    title = ctx.t("staff.endpoints.title", query=query, count=total, shown=len(found))
    return Reply(title + "\n\n" + "\n".join(lines), tuple(options))


@manage.handle("list")
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    if not answer.choice:  # another name typed: search again
        return await on_query(ctx, answer)
    action, _, endpoint_id = answer.choice.partition(":")
    if action not in ("on", "off") or not endpoint_id.isdecimal():
        raise Invalid("common.choose_option")
    endpoint = await set_active(ctx.db, int(endpoint_id), active=action == "on")
    if endpoint is None:
        raise Invalid("common.choose_option")
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="endpoint." + ("reactivate" if endpoint.active else "deactivate"),
        target_type="endpoint",
        target_id=endpoint.id,
    )
    if endpoint.active:
        ctx.say("staff.endpoints.reactivated", name=endpoint.name)
    else:
        kept = await upcoming_registrations(ctx.db, endpoint.id, ctx.now)
        ctx.say("staff.endpoints.deactivated", name=endpoint.name, count=kept)
    return Goto("staff_home", data={})
