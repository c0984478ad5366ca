"""Who is talking: a user is known by the channel and that channel's user id."""

from __future__ import annotations

from typing import NamedTuple


class UserKey(NamedTuple):
    channel: str
    user_id: str

    def __str__(self) -> str:
        return f"{self.channel}:{self.user_id}"
