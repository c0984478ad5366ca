"""Staff: who may do what, on which endpoints; invites; denouncer access."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, citizens
from storage.identity import UserKey
from storage.models import Agency, Invite, StaffMember, StaffRole
from storage.outbox import NoticeKind, StaffRevoked, queue

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone
OFFICE_ROLES = frozenset({StaffRole.ADMIN, StaffRole.OFFICER})


class Invitee(enum.StrEnum):
    """Whom an invite makes: an officer (maybe a delegate too), an agency's liaison, or a
    delegate who is nothing else (stored as role LIAISON without an agency)."""

    OFFICER = "officer"
    LIAISON = "liaison"
    DELEGATE = "delegate"


@dataclass(frozen=True)
class Actor:
    """Someone acting in the chat, with what they may see.

    `role` is None for a citizen, and for a delegate who is nothing else (their staff row has
    role LIAISON with no agency: see `actor_from`). A liaison (role LIAISON) has `agency_id`;
    `delegate` marks a delegate (đại biểu HĐND), who may also be an officer or an admin.
    """

    key: UserKey
    role: StaffRole | None  # None: a citizen (or a delegate only)
    endpoint_ids: frozenset[int] | None = None  # None: all endpoints
    see_denouncers: bool = False
    staff_id: int | None = None  # their staff row (None: a citizen, or an admin from ADMINS only)
    delegate: bool = False  # a delegate (đại biểu HĐND): may register to speak at hearings
    agency_id: int | None = None  # a liaison's agency

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.ADMIN

    @property
    def is_staff(self) -> bool:
        """The office's own staff (admins and officers): the staff flows and the staff data."""
        return self.role in OFFICE_ROLES

    @property
    def is_liaison(self) -> bool:
        return self.role == StaffRole.LIAISON and self.agency_id is not None

    @property
    def has_home(self) -> bool:
        """Staff, liaisons and delegates have a command list of their own (the staff home)."""
        return self.role is not None or self.delegate

    def may(self, roles: frozenset[StaffRole], *, delegates: bool = False) -> bool:
        """Whether a flow for these roles (and, with `delegates`, for delegates) is theirs;
        nothing asked: anyone's."""
        if not roles and not delegates:
            return True
        return (delegates and self.delegate) or (self.role is not None and self.role in roles)

    def sees_endpoint(self, endpoint_id: int) -> bool:
        return self.endpoint_ids is None or endpoint_id in self.endpoint_ids

    def __str__(self) -> str:
        return str(self.key)


@dataclass(frozen=True)
class Member:
    """A staff row as the flows and the channels read it."""

    id: int
    channel: str
    user_id: str
    role: StaffRole
    endpoint_ids: tuple[int, ...] | None  # None: every endpoint
    see_denouncers: bool
    created_at: datetime
    agency_id: int | None = None  # a liaison's agency
    agency: str = ""  # its name
    delegate: bool = False

    @property
    def title(self) -> str:
        """What they are, as the catalogs name it (staff.role.<title>)."""
        return title_of(self.role, self.agency_id, self.delegate)

    @property
    def key(self) -> UserKey:
        return UserKey(self.channel, self.user_id)


def title_of(role: StaffRole | None, agency_id: int | None, delegate: bool) -> str:
    """admin | officer | liaison | delegate (a delegate only) | "" (a citizen)."""
    if role == StaffRole.LIAISON and agency_id is None:
        return "delegate" if delegate else ""
    return "" if role is None else role.value


def member_of(row: StaffMember, agency: str = "") -> Member:
    scope = None if row.endpoint_ids is None else tuple(row.endpoint_ids)
    return Member(
        row.id,
        row.channel,
        row.user_id,
        row.role,
        scope,
        row.see_denouncers,
        row.created_at,
        row.agency_id,
        agency,
        row.delegate,
    )


@dataclass(frozen=True)
class NewInvite:
    code: str  # shown once: only its hash is stored
    expires_at: datetime
    endpoint_ids: tuple[int, ...] | None
    invitee: Invitee = Invitee.OFFICER
    agency_id: int | None = None
    delegate: bool = False


class InviteError(Exception):
    def __init__(self, reason: str) -> None:  # unknown | used | expired
        super().__init__(reason)
        self.reason = reason


async def actor_for(db: AsyncSession, key: UserKey, admins: frozenset[UserKey]) -> Actor:
    """ADMINS from the settings are admins; otherwise the active staff row, if any."""
    member = None
    if key not in admins:
        member = await db.scalar(
            select(StaffMember).where(
                StaffMember.channel == key.channel,
                StaffMember.user_id == key.user_id,
                StaffMember.active.is_(True),
            )
        )
    if member is None:
        return actor_from(key, admins, None, None, False)
    return actor_from(
        key,
        admins,
        member.role,
        member.endpoint_ids,
        member.see_denouncers,
        staff_id=member.id,
        agency_id=member.agency_id,
        delegate=member.delegate,
    )


def actor_from(
    key: UserKey,
    admins: frozenset[UserKey],
    role: StaffRole | None,
    endpoint_ids: list[int] | None,
    see_denouncers: bool | None,
    *,
    staff_id: int | None = None,
    agency_id: int | None = None,
    delegate: bool | None = None,
) -> Actor:
    """Who `key` acts as, given their active staff row's role, scope, right, agency and
    delegate mark (None and False without one): ADMINS from the settings are admins whatever
    the row says (and delegates if it says so). A liaison sees no endpoint and no denouncer;
    a row of role LIAISON without an agency is a delegate only: no role at all."""
    if key in admins:
        return Actor(key, StaffRole.ADMIN, None, True, staff_id=staff_id, delegate=bool(delegate))
    if role is None:
        return Actor(key, None)
    if role == StaffRole.LIAISON:
        if agency_id is None:
            return Actor(key, None, frozenset(), False, staff_id=staff_id, delegate=bool(delegate))
        return Actor(
            key, role, frozenset(), False, staff_id=staff_id, agency_id=agency_id, delegate=bool(delegate)
        )
    scope = None if endpoint_ids is None else frozenset(endpoint_ids)
    denouncers = role == StaffRole.ADMIN or bool(see_denouncers)
    return Actor(key, role, scope, denouncers, staff_id=staff_id, delegate=bool(delegate))


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


async def create_invite(
    db: AsyncSession,
    *,
    by: Actor,
    endpoint_ids: list[int] | None,
    see_denouncers: bool,
    valid_for: timedelta,
    now: datetime,
    invitee: Invitee = Invitee.OFFICER,
    agency_id: int | None = None,
    delegate: bool = False,
) -> NewInvite:
    """An invite for an officer (of these endpoints, maybe a delegate too), a liaison of
    `agency_id` (no endpoint, no denouncer) or a delegate only."""
    role = StaffRole.OFFICER
    if invitee == Invitee.LIAISON:
        if agency_id is None:
            raise ValueError("a liaison's invite names the agency")
        role, endpoint_ids, see_denouncers, delegate = StaffRole.LIAISON, [], False, False
    elif invitee == Invitee.DELEGATE:
        role, endpoint_ids, see_denouncers, agency_id, delegate = StaffRole.LIAISON, [], False, None, True
    else:
        agency_id = None
    code = new_code()
    invite = Invite(
        code_hash=hash_code(code),
        role=role,
        endpoint_ids=endpoint_ids,
        see_denouncers=see_denouncers,
        agency_id=agency_id,
        delegate=delegate,
        created_by=str(by),
        created_at=now,
        expires_at=now + valid_for,
    )
    db.add(invite)
    await db.flush()
    audit.record(
        db,
        at=now,
        actor=str(by),
        action="staff.invite",
        target_type="invite",
        target_id=invite.id,
        invitee=invitee.value,
        endpoint_ids=endpoint_ids,
        see_denouncers=see_denouncers,
        agency_id=agency_id,
        delegate=delegate,
    )
    scope = None if endpoint_ids is None else tuple(endpoint_ids)
    return NewInvite(code, invite.expires_at, scope, invitee, agency_id, delegate)


async def join(db: AsyncSession, key: UserKey, code: str, *, now: datetime, admin: bool = False) -> Member:
    """Use an invite: once, before it expires. Raises InviteError(unknown|used|expired, or
    already_admin: an admin (`admin`, from the settings) takes only a delegate's invite, which
    makes them a delegate too; any other would narrow nothing, and stays unused)."""
    invite = await db.scalar(select(Invite).where(Invite.code_hash == hash_code(code)).with_for_update())
    if invite is None:
        raise InviteError("unknown")
    if invite.used_at is not None:
        raise InviteError("used")
    if now >= invite.expires_at:
        raise InviteError("expired")
    if admin and not (invite.role == StaffRole.LIAISON and invite.agency_id is None and invite.delegate):
        raise InviteError("already_admin")
    invite.used_at, invite.used_by = now, str(key)
    member = await db.scalar(
        select(StaffMember).where(StaffMember.channel == key.channel, StaffMember.user_id == key.user_id)
    )
    if member is None:
        member = StaffMember(channel=key.channel, user_id=key.user_id, created_at=now)
        db.add(member)
    member.role, member.endpoint_ids = invite.role, invite.endpoint_ids
    member.see_denouncers, member.active, member.invited_by = invite.see_denouncers, True, invite.created_by
    member.agency_id, member.delegate = invite.agency_id, invite.delegate
    await db.flush()
    audit.record(
        db,
        at=now,
        actor=str(key),
        action="staff.join",
        target_type="staff",
        target_id=member.id,
        role=member.role.value,
        agency_id=member.agency_id,
        delegate=member.delegate,
    )
    return member_of(member, await _agency_name(db, member.agency_id))


async def _agency_name(db: AsyncSession, agency_id: int | None) -> str:
    if agency_id is None:
        return ""
    return await db.scalar(select(Agency.name).where(Agency.id == agency_id)) or ""


async def list_staff(db: AsyncSession) -> list[Member]:
    rows = await db.execute(
        select(StaffMember, Agency.name)
        .outerjoin(Agency, Agency.id == StaffMember.agency_id)
        .where(StaffMember.active.is_(True))
        .order_by(StaffMember.id)
    )
    return [member_of(row, name or "") for row, name in rows]


async def revoke(db: AsyncSession, member_id: int, *, by: Actor, now: datetime) -> Member | None:
    """None when there is no such active member (revoked meanwhile)."""
    member = await db.get(StaffMember, member_id)
    if member is None or not member.active:
        return None
    member.active = False
    audit.record(db, at=now, actor=str(by), action="staff.revoke", target_type="staff", target_id=member.id)
    # They are told, and their chat menu loses the staff commands (Reply.staff_menu).
    former = await citizens.get_or_create(db, UserKey(member.channel, member.user_id), now=now)
    await queue(db, NoticeKind.STAFF_REVOKED, citizen_id=former.id, params=StaffRevoked(), now=now)
    return member_of(member, await _agency_name(db, member.agency_id))
