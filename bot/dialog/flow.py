"""Conversations as tables of small steps.

A flow is a set of named steps. Each step has `ask` (the prompt) and `handle`
(what to do with the answer). `handle` returns the next step's name, a `Goto`
to another flow, `END` — or raises `Invalid` to re-ask with a hint. The engine
persists where the user is, so a flow never keeps state in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession

from bot.dialog.types import Attachment, Capabilities, Option, Reply
from bot.i18n import Translator
from bot.settings import Settings
from storage.citizens import CitizenRecord
from storage.models import StaffRole
from storage.staff import Actor


class Invalid(Exception):
    """The answer does not fit the step: tell the user why and ask again."""

    def __init__(self, message_id: str, **fields: Any) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.fields = fields


class TooLong(Invalid):
    """The answer is longer than the step takes; `fields["max"]` is the step's limit.

    The engine names that limit when it had to cut a longer message before the step."""


@dataclass(frozen=True)
class Goto:
    flow: str
    step: str | None = None  # None: the flow's first step
    data: dict[str, Any] | None = None  # None: keep the data; a dict replaces it


END = Goto("", None)
# In a flow's data: where to go back to when it ends ([flow, step, data]). Help, the
# language choice or a command opened in the middle of something return there, not to the menu.
RESUME = "_resume"


@dataclass(frozen=True)
class Answer:
    """The user's input as a step sees it."""

    text: str = ""
    choice: str | None = None  # payload of the chosen option, if any
    phone: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass
class Draft:
    """What a flow keeps between its steps, typed: subclass it as a dataclass whose fields are
    JSON values, each with a default, and name it in `Flow(draft=…)`. The engine loads it from
    the stored state before each step and writes it back after; a step reads and changes it
    through `TheDraft.of(ctx)`. A field at its default is not stored (it reads back the same)."""

    @classmethod
    def load(cls, data: MutableMapping[str, Any]) -> Self:
        names = {spec.name for spec in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in names})

    def store(self, data: MutableMapping[str, Any]) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            default = spec.default_factory() if spec.default_factory is not MISSING else spec.default
            if value == default:
                data.pop(spec.name, None)
            else:
                data[spec.name] = value

    @classmethod
    def of(cls, ctx: Ctx) -> Self:
        """The current flow's draft, as this type (a step of the flow that declared it)."""
        if not isinstance(ctx.draft, cls):
            raise TypeError(f"the current flow keeps a {type(ctx.draft).__name__}, not a {cls.__name__}")
        return ctx.draft


@dataclass
class NoDraft(Draft):
    """A flow that keeps nothing typed between its steps."""


@dataclass
class Ctx:
    db: AsyncSession
    citizen: CitizenRecord
    t: Translator
    settings: Settings
    now: datetime
    capabilities: Capabilities
    data: dict[str, Any]
    actor: Actor
    replies: list[Reply] = field(default_factory=list)
    draft: Draft = field(default_factory=NoDraft)  # the current flow's (Draft.of)

    def say(self, message_id: str, **fields: Any) -> None:
        self.replies.append(Reply(self.t(message_id, **fields)))

    @property
    def resumes(self) -> bool:
        """Whether ending this flow goes back to what the user was doing (see RESUME)."""
        return bool(self.data.get(RESUME))

    def say_text(self, text: str) -> None:
        """Text already built from catalog messages (a table, a list)."""
        self.replies.append(Reply(text))

    def option(self, payload: str, message_id: str, **fields: Any) -> Option:
        return Option(payload, self.t(message_id, **fields))

    def dt(self, moment: datetime) -> str:
        return self.t.datetime(moment)

    @property
    def args(self) -> str:
        """What followed the slash command that opened the flow (`/session 12` -> "12")."""
        return str(self.data.get("args", ""))


Next = str | Goto
AskFn = Callable[[Ctx], Awaitable[Reply | Next]]
HandleFn = Callable[[Ctx, Answer], Awaitable[Next]]


@dataclass
class Flow:
    """A conversation: steps registered with `@flow.asks(name)` and `@flow.handles(name)`."""

    name: str
    first: str
    command: str | None = None  # the slash command that opens it from anywhere ("sessions")
    roles: frozenset[StaffRole] = frozenset()  # empty: anyone; else only staff with one of these
    # Delegates (đại biểu HĐND) may use it too, whatever their role: with `roles` empty, only they.
    delegates: bool = False
    needs_consent: bool = True  # a citizen flow; staff work and /join are not personal-data collection
    draft: type[Draft] = NoDraft  # what it keeps between steps
    asks: dict[str, AskFn] = field(default_factory=dict)
    handlers: dict[str, HandleFn] = field(default_factory=dict)
    file_steps: set[str] = field(default_factory=set)  # steps that accept photos and documents
    # Steps whose answer is typed text (a name, a summary): an option there is chosen by its
    # whole label only, never by a word of it.
    text_steps: set[str] = field(default_factory=set)
    # Steps that send the user back to an earlier step of their choice (an "edit" list):
    # "back" from there returns to them, not to what came before that step the first time.
    jump_steps: set[str] = field(default_factory=set)

    def ask(self, step: str) -> Callable[[AskFn], AskFn]:
        def register(func: AskFn) -> AskFn:
            self.asks[step] = func
            return func

        return register

    def handle(
        self, step: str, *, files: bool = False, text: bool = False, jumps: bool = False
    ) -> Callable[[HandleFn], HandleFn]:
        def register(func: HandleFn) -> HandleFn:
            self.handlers[step] = func
            for wanted, steps in (
                (files, self.file_steps),
                (text, self.text_steps),
                (jumps, self.jump_steps),
            ):
                if wanted:
                    steps.add(step)
            return func

        return register

    def has_step(self, step: str) -> bool:
        return step in self.asks and step in self.handlers

    async def run_ask(self, step: str, ctx: Ctx) -> Reply | Next:
        ctx.draft = self.draft.load(ctx.data)
        try:
            return await self.asks[step](ctx)
        finally:
            ctx.draft.store(ctx.data)

    async def run_handle(self, step: str, ctx: Ctx, answer: Answer) -> Next:
        ctx.draft = self.draft.load(ctx.data)
        try:
            return await self.handlers[step](ctx, answer)
        finally:
            ctx.draft.store(ctx.data)
