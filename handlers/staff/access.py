"""Staff access: the staff home, /invite, /join CODE, /staff (list and revoke).

The staff home is also the short home of agency liaisons (đầu mối cơ quan giải trình) and
delegates (đại biểu HĐND): each sees only their own commands (`commands_for`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.dialog.flow import END, Answer, Ctx, Draft, Flow, Goto, Invalid, Next
from bot.dialog.types import Option, Reply
from handlers.staff.common import (
    ADMIN,
    HOME_ROLES,
    SHOW_COMMANDS,
    back_home,
    chosen_scope,
    scope_names,
    short_text,
)
from storage import hearings, staff
from storage.staff import Actor, Invitee, Member

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
# An agency's liaison and a delegate (đại biểu HĐND) see only these: a liaison what is asked of
# their agency and its report (handlers/staff/hearing_reports.py), a delegate, whatever their
# role, registering to speak (handlers/staff/hearing_floor.py).
LIAISON_COMMANDS: tuple[str, ...] = ("commands", "hearings")
DELEGATE_COMMANDS: tuple[str, ...] = ("speak",)
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


@dataclass
class HomeDraft(Draft):
    # Named SHOW_COMMANDS: Goto("staff_home", data={SHOW_COMMANDS: True}) sets it.
    commands: bool = False  # show every command, not the one-line hint


@dataclass
class InviteDraft(Draft):
    invitee: str = "officer"  # an Invitee value
    endpoint_ids: list[int] | None = None  # None: every endpoint
    see_denouncers: bool = False
    delegate: bool = False  # an officer who is also a delegate


@dataclass
class MembersDraft(Draft):
    member_id: int = 0  # the member to revoke, once chosen


home = Flow(
    "staff_home",
    first="show",
    command="commands",
    roles=HOME_ROLES,
    delegates=True,
    needs_consent=False,
    draft=HomeDraft,
)
invite = Flow("invite", first="scope", command="invite", roles=ADMIN, needs_consent=False, draft=InviteDraft)
join = Flow("join", first="code", command="join", needs_consent=False)
members = Flow("staff", first="list", command="staff", roles=ADMIN, needs_consent=False, draft=MembersDraft)


def commands_for(actor: Actor) -> tuple[str, ...]:
    """The commands someone may use, in the order they are shown: staff by role (with
    /speak for a delegate), a liaison theirs, a delegate only /commands and /speak."""
    if actor.is_staff:
        base = OFFICER_COMMANDS + (ADMIN_COMMANDS if actor.is_admin else ())
    elif actor.is_liaison:
        base = LIAISON_COMMANDS
    elif actor.delegate:
        base = ("commands",)
    else:
        return ()
    return base + (DELEGATE_COMMANDS if actor.delegate else ())


async def who_line(ctx: Ctx) -> str:
    """What the actor is, as their home names it."""
    actor = ctx.actor
    if actor.is_liaison:
        assert actor.agency_id is not None
        found = await hearings.agency(ctx.db, actor.agency_id)
        return ctx.t("hsetup.home.liaison", agency=found.name if found else "—")
    if actor.is_staff:
        role = ctx.t(f"staff.role.{actor.role}")
        return ctx.t("hsetup.home.staff_delegate", role=role) if actor.delegate else role
    return ctx.t("hsetup.home.delegate")


@home.ask("show")
async def ask_home(ctx: Ctx) -> Reply:
    """After each answer a one-line hint (the chat menu lists the commands too); the whole
    list when asked for (/commands), after a command that was not understood, or on joining."""
    assert ctx.actor.has_home  # the staff home is for staff, liaisons and delegates (Flow.roles)
    role = await who_line(ctx)
    staff_side = ctx.actor.is_staff
    if not (HomeDraft.of(ctx).commands or "args" in ctx.data):  # "args": opened by /commands
        return Reply(ctx.t("staff.home_hint" if staff_side else "hsetup.home.hint", role=role))
    lines = "\n".join(ctx.t(f"staff.command.{command}") for command in commands_for(ctx.actor))
    return Reply(ctx.t("staff.home" if staff_side else "hsetup.home.list", role=role, commands=lines))


@home.handle("show")
async def on_home(ctx: Ctx, answer: Answer) -> Next:
    HomeDraft.of(ctx).commands = True  # asked again: with the list this time
    raise Invalid("staff.unknown_command")


# --- /invite ----------------------------------------------------------------------


@invite.ask("scope")
async def ask_scope(ctx: Ctx) -> Reply:
    """An officer's endpoints (typed, or all); or, by its button, a liaison, a delegate, or an
    officer who is also a delegate (then the endpoints are asked again)."""
    draft = InviteDraft.of(ctx)
    options = [ctx.option("all", "staff.scope.all")]
    if not draft.delegate:
        options += [
            ctx.option(Invitee.LIAISON.value, "hsetup.invite.who_liaison"),
            ctx.option(Invitee.DELEGATE.value, "hsetup.invite.who_delegate"),
            ctx.option("officer_delegate", "hsetup.invite.who_officer_delegate"),
        ]
    text = ctx.t("staff.invite.scope")
    if draft.delegate:
        text = ctx.t("hsetup.invite.also_delegate") + "\n" + text
    else:
        text += "\n" + ctx.t("hsetup.invite.who")
    return Reply(text, tuple(options))


@invite.handle("scope")
async def on_scope(ctx: Ctx, answer: Answer) -> Next:
    draft = InviteDraft.of(ctx)
    if answer.choice == Invitee.LIAISON and not draft.delegate:
        draft.invitee = Invitee.LIAISON.value
        return "agency"
    if answer.choice == Invitee.DELEGATE and not draft.delegate:
        draft.invitee = Invitee.DELEGATE.value
        return await made(ctx)
    if answer.choice == "officer_delegate":
        draft.delegate = True
        return "scope"
    draft.invitee = Invitee.OFFICER.value
    draft.endpoint_ids = await chosen_scope(ctx, answer)
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
    InviteDraft.of(ctx).see_denouncers = answer.choice == "yes"
    return await made(ctx)


@invite.ask("agency")
async def ask_agency(ctx: Ctx) -> Reply:
    agencies = await hearings.list_agencies(ctx.db)
    options = tuple(Option(f"agency:{agency.id}", agency.name) for agency in agencies)
    return Reply(ctx.t("hsetup.invite.agency" if options else "hsetup.invite.agency_none"), options)


@invite.handle("agency", text=True)
async def on_agency(ctx: Ctx, answer: Answer) -> Next:
    """An agency offered, or a name typed: the agency of that name, added when new."""
    if answer.choice and answer.choice.startswith("agency:"):
        found = await hearings.agency(ctx.db, int(answer.choice.split(":")[1]))
        if found is None:
            raise Invalid("common.choose_option")
    else:
        name = short_text(answer, "hsetup.invite.agency_invalid", hearings.AGENCY_NAME_LONGEST)
        found = await hearings.get_or_create_agency(ctx.db, name, now=ctx.now)
    return await made(ctx, agency_id=found.id)


async def made(ctx: Ctx, *, agency_id: int | None = None) -> Next:
    """The invite made (audited), its code shown once."""
    draft = InviteDraft.of(ctx)
    delegate = draft.delegate
    invitee = Invitee(draft.invitee)
    created = await staff.create_invite(
        ctx.db,
        by=ctx.actor,
        endpoint_ids=draft.endpoint_ids,
        see_denouncers=draft.see_denouncers,
        valid_for=INVITE_VALID_FOR,
        now=ctx.now,
        invitee=invitee,
        agency_id=agency_id,
        delegate=delegate,
    )
    expires = ctx.dt(created.expires_at)
    if invitee == Invitee.OFFICER:
        scope = await scope_names(ctx, created.endpoint_ids)
        ctx.say("staff.invite.created", code=created.code, expires=expires, scope=scope)
        if created.delegate:
            ctx.say("hsetup.invite.also_delegate")
    elif invitee == Invitee.LIAISON:
        assert created.agency_id is not None
        found = await hearings.agency(ctx.db, created.agency_id)
        name = found.name if found else "—"
        ctx.say("hsetup.invite.created_liaison", code=created.code, expires=expires, agency=name)
    else:
        ctx.say("hsetup.invite.created_delegate", code=created.code, expires=expires)
    return Goto("staff_home", data={})


# --- /join CODE -------------------------------------------------------------------


def not_joined(ctx: Ctx) -> Next:
    """Staff, liaisons and delegates go back to their commands; anyone else to what they were
    doing, or the menu."""
    return Goto("staff_home", data={}) if ctx.actor.has_home else END


@join.ask("code")
async def ask_join(ctx: Ctx) -> Reply | Next:
    code = ctx.args
    if not code:
        ctx.say("staff.usage.join")
        return not_joined(ctx)
    was_member = ctx.actor.has_home
    try:
        member = await staff.join(ctx.db, ctx.actor.key, code, now=ctx.now, admin=ctx.actor.is_admin)
    except staff.InviteError as refused:
        ctx.say(f"staff.join.{refused.reason}")
        return not_joined(ctx)
    ctx.actor = await staff.actor_for(ctx.db, ctx.actor.key, ctx.settings.admin_keys)
    done = await joined_text(ctx, member, was_member)
    ctx.replies.append(Reply(done, staff_menu=True))  # their chat menu now lists their commands
    return Goto("staff_home", data={SHOW_COMMANDS: True})


async def joined_text(ctx: Ctx, member: Member, was_member: bool) -> str:
    """What joining made them (a new invite replaces what an older one gave)."""
    if member.title == "liaison":
        return ctx.t("hsetup.join.liaison", agency=member.agency or "—")
    if member.title == "delegate":
        return ctx.t("hsetup.join.delegate")
    message = "staff.join.updated" if was_member else "staff.join.done"
    text = ctx.t(message, scope=await scope_names(ctx, member.endpoint_ids))
    return text + ("\n" + ctx.t("hsetup.join.also_delegate") if member.delegate else "")


join.handle("code")(back_home)  # never waits there: the ask always moves on


# --- /staff -----------------------------------------------------------------------


@members.ask("list")
async def ask_members(ctx: Ctx) -> Reply:
    rows = await staff.list_staff(ctx.db)
    if not rows:
        return Reply(ctx.t("staff.list.none"))
    lines, options = [], []
    for member in rows:
        who = f"{member.channel}:{member.user_id}"
        lines.append(await member_item(ctx, member, who))
        options.append(Option(f"revoke:{member.id}", ctx.t("staff.list.revoke", who=who)))
    return Reply(ctx.t("staff.list.title") + "\n\n" + "\n\n".join(lines), tuple(options))


async def member_item(ctx: Ctx, member: Member, who: str) -> str:
    """An officer with their scope and right (and the delegate mark); a liaison with their
    agency; a delegate as such."""
    since = ctx.dt(member.created_at)
    if member.title == "liaison":
        return ctx.t("hsetup.list.liaison", who=who, agency=member.agency or "—", since=since)
    if member.title == "delegate":
        return ctx.t("hsetup.list.delegate", who=who, since=since)
    text = ctx.t(
        "staff.list.item",
        who=who,
        role=ctx.t(f"staff.role.{member.role.value}"),
        scope=await scope_names(ctx, member.endpoint_ids),
        denouncers=ctx.t(
            "staff.list.denouncers_yes" if member.see_denouncers else "staff.list.denouncers_no"
        ),
        since=since,
    )
    return text + ("\n" + ctx.t("hsetup.list.delegate_mark") if member.delegate else "")


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
