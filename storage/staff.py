"""Staff: who may do what, on which endpoints; invites; denouncer access."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit, citizens
from storage.identity import UserKey
from storage.models import Invite, StaffMember, StaffRole
from storage.outbox import NoticeKind, StaffRevoked, queue

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


@dataclass(frozen=True)
class Actor:
    """Someone acting in the chat, with what they may see."""

    key: UserKey
    role: StaffRole | None  # None: a citizen
    endpoint_ids: frozenset[int] | None = None  # None: all endpoints
    see_denouncers: bool = False
    staff_id: int | None = None  # their staff row (None: a citizen, or an admin from ADMINS only)
    delegate: bool = False  # a delegate (đại biểu HĐND): may register to speak at hearings

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.ADMIN

    @property
    def is_staff(self) -> bool:
        return self.role is not None

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


def member_of(row: StaffMember) -> Member:
    scope = None if row.endpoint_ids is None else tuple(row.endpoint_ids)
    return Member(row.id, row.channel, row.user_id, row.role, scope, row.see_denouncers, row.created_at)


@dataclass(frozen=True)
class NewInvite:
    code: str  # shown once: only its hash is stored
    expires_at: datetime
    endpoint_ids: tuple[int, ...] | None


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
    delegate: bool | None = None,
) -> Actor:
    """Who `key` acts as, given their active staff row's role, scope and right (all None
    without one): ADMINS from the settings are admins whatever the row says."""
    if key in admins:
        return Actor(key, StaffRole.ADMIN, None, True, staff_id=staff_id, delegate=bool(delegate))
    if role is None:
        return Actor(key, None)
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
) -> NewInvite:
    code = new_code()
    invite = Invite(
        code_hash=hash_code(code),
        role=StaffRole.OFFICER,
        endpoint_ids=endpoint_ids,
        see_denouncers=see_denouncers,
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
        endpoint_ids=endpoint_ids,
        see_denouncers=see_denouncers,
    )
    return NewInvite(code, invite.expires_at, None if endpoint_ids is None else tuple(endpoint_ids))


async def join(db: AsyncSession, key: UserKey, code: str, *, now: datetime) -> Member:
    """Use an invite: once, before it expires. Raises InviteError(unknown|used|expired)."""
    invite = await db.scalar(select(Invite).where(Invite.code_hash == hash_code(code)).with_for_update())
    if invite is None:
        raise InviteError("unknown")
    if invite.used_at is not None:
        raise InviteError("used")
    if now >= invite.expires_at:
        raise InviteError("expired")
    invite.used_at, invite.used_by = now, str(key)
    member = await db.scalar(
        select(StaffMember).where(StaffMember.channel == key.channel, StaffMember.user_id == key.user_id)
    )
    if member is None:
        member = StaffMember(channel=key.channel, user_id=key.user_id, created_at=now)
        db.add(member)
    member.role, member.endpoint_ids = invite.role, invite.endpoint_ids
    member.see_denouncers, member.active, member.invited_by = invite.see_denouncers, True, invite.created_by
    await db.flush()
    audit.record(db, at=now, actor=str(key), action="staff.join", target_type="staff", target_id=member.id)
    return member_of(member)


async def list_staff(db: AsyncSession) -> list[Member]:
    rows = await db.scalars(select(StaffMember).where(StaffMember.active.is_(True)).order_by(StaffMember.id))
    return [member_of(row) for row in rows]


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
    return member_of(member)
