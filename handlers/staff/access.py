"""Staff access: the staff home, /invite, /join CODE, /staff (list and revoke)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.dialog.flow import END, Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers.staff.common import ADMIN, SHOW_COMMANDS, STAFF, back_home, chosen_scope, scope_names
from storage import staff
from storage.models import StaffRole

INVITE_VALID_FOR = timedelta(hours=72)
# Commands shown on the staff home, by who may use them.
OFFICER_COMMANDS = (
    "commands",
    "sessions",
    "session",
    "review",
    "find",
    "outcome",
    "petitions",
    "questions",
    "export",
    "report",
    "dossier",
    "stats",
    "undelivered",
)
ADMIN_COMMANDS = (
    "newevent",
    "reschedule",
    "cancelsession",
    "broadcast",
    "broadcasts",
    "invite",
    "staff",
    "endpoints",
    "speakers",
    "conclude",
)

DELEGATE_COMMANDS = ("speak",)  # a delegate's, whatever their role (handlers/staff/hearing_floor.py)


@dataclass
class HomeDraft(Draft):
    # Named SHOW_COMMANDS: Goto("staff_home", data={SHOW_COMMANDS: True}) sets it.
    commands: bool = False  # show every command, not the one-line hint


@dataclass
class InviteDraft(Draft):
    endpoint_ids: list[int] | None = None  # None: every endpoint


@dataclass
class MembersDraft(Draft):
    member_id: int = 0  # the member to revoke, once chosen


home = Flow("staff_home", first="show", command="commands", roles=STAFF, needs_consent=False, draft=HomeDraft)
invite = Flow("invite", first="scope", command="invite", roles=ADMIN, needs_consent=False, draft=InviteDraft)
join = Flow("join", first="code", command="join", needs_consent=False)
members = Flow("staff", first="list", command="staff", roles=ADMIN, needs_consent=False, draft=MembersDraft)


def commands_for(role: StaffRole) -> tuple[str, ...]:
    """The staff commands a role may use, in the order they are shown."""
    return OFFICER_COMMANDS + (ADMIN_COMMANDS if role == StaffRole.ADMIN else ())


@home.ask("show")
async def ask_home(ctx: Ctx) -> Reply:
    """After each answer a one-line hint (the chat menu lists the commands too); the whole
    list when asked for (/commands), after a command that was not understood, or on joining."""
    assert ctx.actor.role is not None  # the staff home is for staff only (Flow.roles)
    role = ctx.t(f"staff.role.{ctx.actor.role}")
    if not (HomeDraft.of(ctx).commands or "args" in ctx.data):  # "args": opened by /commands
        return Reply(ctx.t("staff.home_hint", role=role))
    commands = commands_for(ctx.actor.role) + (DELEGATE_COMMANDS if ctx.actor.delegate else ())
    lines = "\n".join(ctx.t(f"staff.command.{command}") for command in commands)
    return Reply(ctx.t("staff.home", role=role, commands=lines))


@home.handle("show")
async def on_home(ctx: Ctx, answer: Answer) -> Next:
    HomeDraft.of(ctx).commands = True  # asked again: with the list this time
    raise Invalid("staff.unknown_command")


# --- /invite ----------------------------------------------------------------------


@invite.ask("scope")
async def ask_scope(ctx: Ctx) -> Reply:
    return Reply(ctx.t("staff.invite.scope"), (ctx.option("all", "staff.scope.all"),))


@invite.handle("scope")
async def on_scope(ctx: Ctx, answer: Answer) -> Next:
    InviteDraft.of(ctx).endpoint_ids = await chosen_scope(ctx, answer)
    return "denouncers"


@invite.ask("denouncers")
async def ask_denouncers(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("staff.invite.denouncers"),
        (ctx.option("no", "staff.invite.denouncers_no"), ctx.option("yes", "staff.invite.denouncers_yes")),
    )


@invite.handle("denouncers")
async def on_denouncers(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice not in ("yes", "no"):
        raise Invalid("common.choose_option")
    created = await staff.create_invite(
        ctx.db,
        by=ctx.actor,
        endpoint_ids=InviteDraft.of(ctx).endpoint_ids,
        see_denouncers=answer.choice == "yes",
        valid_for=INVITE_VALID_FOR,
        now=ctx.now,
    )
    ctx.say(
        "staff.invite.created",
        code=created.code,
        expires=ctx.dt(created.expires_at),
        scope=await scope_names(ctx, created.endpoint_ids),
    )
    return Goto("staff_home", data={})


# --- /join CODE -------------------------------------------------------------------


def not_joined(ctx: Ctx) -> Next:
    """Staff go back to their commands; anyone else to what they were doing, or the menu."""
    return Goto("staff_home", data={}) if ctx.actor.is_staff else END


@join.ask("code")
async def ask_join(ctx: Ctx) -> Reply | Next:
    code = ctx.args
    if not code:
        ctx.say("staff.usage.join")
        return not_joined(ctx)
    if ctx.actor.is_admin:  # an officer's invite would narrow nothing and be wasted
        ctx.say("staff.join.already_admin")
        return Goto("staff_home", data={})
    was_staff = ctx.actor.is_staff
    try:
        member = await staff.join(ctx.db, ctx.actor.key, code, now=ctx.now)
    except staff.InviteError as refused:
        ctx.say(f"staff.join.{refused.reason}")
        return not_joined(ctx)
    ctx.actor = await staff.actor_for(ctx.db, ctx.actor.key, ctx.settings.admin_keys)
    message = "staff.join.updated" if was_staff else "staff.join.done"  # a new invite replaces the scope
    done = ctx.t(message, scope=await scope_names(ctx, member.endpoint_ids))
    ctx.replies.append(Reply(done, staff_menu=True))  # their chat menu now lists staff commands
    return Goto("staff_home", data={SHOW_COMMANDS: True})


join.handle("code")(back_home)  # never waits there: the ask always moves on


# --- /staff -----------------------------------------------------------------------


@members.ask("list")
async def ask_members(ctx: Ctx) -> Reply:
    rows = await staff.list_staff(ctx.db)
    if not rows:
        return Reply(ctx.t("staff.list.none"))
    lines, options = [], []
    for member in rows:
        lines.append(
            ctx.t(
                "staff.list.item",
                who=f"{member.channel}:{member.user_id}",
                role=ctx.t(f"staff.role.{member.role.value}"),
                scope=await scope_names(ctx, member.endpoint_ids),
                denouncers=ctx.t(
                    "staff.list.denouncers_yes" if member.see_denouncers else "staff.list.denouncers_no"
                ),
                since=ctx.dt(member.created_at),
            )
        )
        options.append(
            Option(
                f"revoke:{member.id}", ctx.t("staff.list.revoke", who=f"{member.channel}:{member.user_id}")
            )
        )
    return Reply(ctx.t("staff.list.title") + "\n\n" + "\n\n".join(lines), tuple(options))


@members.handle("list")
async def on_members(ctx: Ctx, answer: Answer) -> Next:
    if not answer.choice or not answer.choice.startswith("revoke:"):
        raise Invalid("common.choose_option")
    MembersDraft.of(ctx).member_id = int(answer.choice.split(":")[1])
    return "confirm"


@members.ask("confirm")
async def ask_revoke(ctx: Ctx) -> Reply:
    return Reply(
        ctx.t("staff.revoke.ask"),
        (ctx.option("yes", "staff.revoke.yes"), ctx.option("no", "common.no_keep")),
    )


@members.handle("confirm")
async def on_revoke(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "no":
        return "list"
    if answer.choice != "yes":
        raise Invalid("common.choose_option")
    revoked = await staff.revoke(ctx.db, MembersDraft.of(ctx).member_id, by=ctx.actor, now=ctx.now)
    ctx.say("staff.revoke.done" if revoked else "staff.revoke.gone")
    return "list"
