"""Typed domain errors; handlers turn them into localised messages."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """A rule said no; the message id explains why to the user."""


class DeadlinePassed(DomainError):
    def __init__(self, deadline: datetime, next_session_id: int | None) -> None:
        super().__init__(f"summary deadline {deadline.isoformat()} has passed")
        self.deadline = deadline
        self.next_session_id = next_session_id


class SessionNotOpen(DomainError):
    """The session was cancelled or is over."""


class AlreadyRegistered(DomainError):
    def __init__(self, code: str | None) -> None:
        super().__init__(f"already registered ({code})")
        self.code = code


class NotFound(DomainError):
    pass


class ConsentRequired(DomainError):
    pass


class TooManyPeople(DomainError):
    """More people would attend than the endpoint has seats."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"more than {capacity} seats")
        self.capacity = capacity


class AlreadyDecided(DomainError):
    """The registration was decided on by someone else first, or cancelled: a decision stands once."""
