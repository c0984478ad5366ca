"""Conversation state rows, locked per user so events are handled in order across workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_if_absent
from storage.identity import UserKey
from storage.models import ConversationState


async def lock_state(db: AsyncSession, key: UserKey, *, now: datetime) -> ConversationState:
    """The user's state row, created if new and locked until the transaction ends.

    PostgreSQL: `FOR UPDATE` makes a second worker wait for the first. SQLite has
    no row locks; there every transaction already holds the write lock.
    """
    query = (
        select(ConversationState)
        .where(ConversationState.channel == key.channel, ConversationState.user_id == key.user_id)
        .with_for_update()
    )
    state = await db.scalar(query)
    if state is None:  # a new user (two first events at once: one inserts, both then lock)
        values = {"channel": key.channel, "user_id": key.user_id, "flow": "", "step": "", "data": {}}
        await insert_if_absent(db, ConversationState, values | {"updated_at": now})
        state = await db.scalar(query)
    assert state is not None
    return state


async def state_data(db: AsyncSession, key: UserKey) -> dict[str, Any]:
    """The user's state data as it is (no lock): empty for a user without a state."""
    data = await db.scalar(
        select(ConversationState.data).where(
            ConversationState.channel == key.channel, ConversationState.user_id == key.user_id
        )
    )
    return dict(data or {})
