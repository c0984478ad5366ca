"""The dialog engine: one event in, replies out, state kept in the database.

For each event it loads the user and their conversation state in one
transaction, applies global commands (cancel, menu, help, language), decodes
a pressed or typed option, runs the current step and asks the next one, then
saves the state. Events of one user are handled one at a time, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import logs
from bot.clock import Clock
from bot.dialog import owed
from bot.dialog.flow import END, RESUME, Answer, Ctx, Flow, Goto, Invalid, TooLong
from bot.dialog.options import typed_option
from bot.dialog.types import Capabilities, Incoming, Option, Reply
from bot.i18n import normalize_locale
from bot.settings import SPREADSHEET_CELL_MAX, Settings
from storage import citizens
from storage.conversations import close_turn, open_turn, state_data
from storage.db import scrub_erased
from storage.identity import UserKey
from storage.staff import Actor
from storage.text import fold, normalize

log = logging.getLogger(__name__)

MAX_HOPS = 12  # steps chained in one event; more means a loop in a flow
# Longer input is cut before it reaches any step. No step takes more (SUMMARY_MAX_CHARS is
# bounded by the same spreadsheet cell), so the cut never changes what a step accepts.
MAX_INPUT_CHARS = SPREADSHEET_CELL_MAX

# Words that work anywhere, compared without diacritics and case.
COMMANDS = {
    "cancel": {"/cancel", "/huy", "huy", "cancel", "thoat", "/thoat"},
    "start": {"/start"},
    "menu": {"/menu", "menu"},
    "help": {"/help", "/trogiup", "tro giup", "help"},
    "language": {"/language", "/ngonngu", "/lang"},
    "resume": {"/tieptuc", "/continue"},  # the current question again (a new user: the start)
    "back": {"/quaylai", "quay lai", "/trolai", "tro lai", "/back", "back"},  # the previous step
}
COMMAND_OF_WORD = {word: name for name, words in COMMANDS.items() for word in words}

# Open before consent: the privacy notice, the choice of the language it is read in, and
# help (which says what the bot is for), each coming back to the notice.
BEFORE_CONSENT = ("onboarding", "language", "help")

STATE_TURN = "_turn"
STATE_OFFERED = "_offered"
STATE_PHONE_ASKED = "_phone_asked"
# The steps answered on the way to the current one, [[flow, step], …], for "back". A step
# reached again cuts the trail there, so it never holds a step twice and stays short.
STATE_TRAIL = "_trail"
STATE_REPLIES = "_replies"  # the last event's replies, until sent (bot/dialog/owed.py)


def cleaned(incoming: Incoming) -> Incoming:
    """The event with every free text in it cleaned (`storage.text.normalize`): the one place
    where what people type, share or name their files is made safe before any step, the
    database or a document sees it. Text longer than MAX_INPUT_CHARS is cut first."""
    attachments = tuple(
        replace(file, name=normalize(file.name), mime_type=normalize(file.mime_type))
        for file in incoming.attachments
    )
    phone = normalize(incoming.phone) if incoming.phone is not None else None
    text = normalize(incoming.text[:MAX_INPUT_CHARS])
    return replace(incoming, text=text, phone=phone, attachments=attachments)


class HandledBefore(Exception):
    """The event was handled before (a repeat delivery, or another worker won the race)."""


class KeyedLocks:
    """One asyncio lock per user, dropped when nobody waits on it."""

    def __init__(self) -> None:
        self._locks: dict[UserKey, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: UserKey) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def command_word(text: str) -> str:
    """What is compared with COMMANDS: a typed word whole, and of a slash command its first
    word without a bot's name, so `/menu@tiepdan_bot` is /menu and `/start abc` (a deep
    link's payload) is /start."""
    folded = fold(text)
    if not folded.startswith("/"):
        return folded
    return folded.split(" ", 1)[0].split("@", 1)[0]


def encode_option(turn: int, payload: str) -> str:
    """The wire payload: the prompt's turn number, so a button from an old message is known."""
    return f"{turn}:{payload}"


def decode_option(wire: str) -> tuple[int, str] | None:
    turn, sep, payload = wire.partition(":")
    if not sep or not turn.isdigit():
        return None
    return int(turn), payload


class Dialog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
        flows: dict[str, Flow],
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.flows = flows
        self.commands = {flow.command: flow for flow in flows.values() if flow.command}
        self._locks = KeyedLocks()

    async def handle(self, incoming: Incoming, capabilities: Capabilities) -> list[Reply]:
        """The replies to `incoming`. Logged under the reference id of the event in hand (the
        pipeline's, else a new one), which the apology quotes when the event fails."""
        with logs.event_in_hand() as event:
            async with self._locks.hold(incoming.key):
                try:
                    return await self._in_transaction(incoming, capabilities)
                except HandledBefore:
                    log.info("event %s of %s was handled before; ignored", incoming.event_id, incoming.key)
                    return []
                except Exception:
                    event.apologised = True
                    log.exception(
                        "event %s of %s failed (ref %s)", incoming.event_id, incoming.key, event.ref
                    )
                    locale = normalize_locale(incoming.language, self.settings.default_locale)
                    t = self.settings.translator(await self._locale_of(incoming.key) or locale)
                    return [Reply(t("error.internal", ref=event.ref))]

    async def _in_transaction(self, incoming: Incoming, capabilities: Capabilities) -> list[Reply]:
        """The event handled in one transaction. A connection found dead (the database
        restarted: there is no ping before each use) is replaced and the event run again."""
        for attempt in (1, 2):
            try:
                async with self.sessions() as db:
                    async with db.begin():
                        replies = await self._handle(db, incoming, capabilities)
                    await scrub_erased(db)  # "delete my data": out of SQLite's log too
                    return replies
            except DBAPIError as error:
                if not error.connection_invalidated or attempt == 2:
                    raise
                log.warning("a database connection was lost; event %s run again", incoming.event_id)
        raise AssertionError("unreachable")

    async def owed_replies(self, key: UserKey) -> list[Reply]:
        """The replies of the user's last event, to send again when they may not have gone out."""
        async with self._locks.hold(key), self.sessions() as db:
            return owed.decode((await state_data(db, key)).get(STATE_REPLIES))

    async def _locale_of(self, key: UserKey) -> str | None:
        try:
            async with self.sessions() as db, db.begin():
                citizen = await citizens.get_or_create(db, key, now=self.clock.now())
                return citizen.locale
        except Exception:
            log.exception("could not read the locale of %s", key)
            return None

    async def _handle(self, db: AsyncSession, incoming: Incoming, capabilities: Capabilities) -> list[Reply]:
        now = self.clock.now()
        # One read: the state (locked: it orders the user's events), who they are, and
        # whether this event was handled before.
        turn_read = await open_turn(db, incoming.key, incoming.event_id, self.settings.admin_keys, now=now)
        if turn_read.handled_before:
            raise HandledBefore
        citizen, actor = turn_read.citizen, turn_read.actor
        if citizen.unreachable:  # they wrote to us, so they can be reached again
            await citizens.set_reachable(db, incoming.key, True, now=now)
            citizen = replace(citizen, unreachable=False)
        data: dict[str, Any] = turn_read.data
        turn = int(data.pop(STATE_TURN, 0))
        offered = [Option(p, label) for p, label in data.pop(STATE_OFFERED, [])]
        phone_asked = bool(data.pop(STATE_PHONE_ASKED, False))
        data.pop(STATE_REPLIES, None)
        locale = citizen.locale or normalize_locale(incoming.language, self.settings.default_locale)
        ctx = Ctx(
            db=db,
            citizen=citizen,
            t=self.settings.translator(locale),
            settings=self.settings,
            now=now,
            capabilities=capabilities,
            data=data,
            actor=actor,
        )
        flow, step = turn_read.flow, turn_read.step
        sent_chars = len(incoming.text)
        incoming = cleaned(incoming)
        text = incoming.text
        consented = citizens.has_consent(citizen, self.settings.consent_version)
        command = COMMAND_OF_WORD.get(command_word(text)) if text and not incoming.option else None
        opened = self._slash_command(text) if not incoming.option else None
        current = self.flows.get(flow)
        needs_consent = current is None or current.needs_consent
        if not consented and command not in ("start", *BEFORE_CONSENT) and needs_consent:
            command = None  # before consent only the notice itself (in a language read) is on offer

        in_step = current is not None and current.has_step(step)
        # Where a flow opened now (help, language, a command) goes back to when it ends.
        resume = self._resume_point(flow, step, data) if in_step else None
        target: Goto | None = None
        answered = False  # the step took the answer: it joins the trail if the user moves on
        if opened is not None and not self._allowed(actor, self.flows[opened.flow]):
            ctx.say("staff.not_allowed")  # and whatever they were doing goes on
            target = Goto(flow, step) if in_step else Goto(self._home(ctx), data={})
        elif opened is not None:  # a command (/join …): if it ends at once, back to where they were
            target = replace(opened, data={**(opened.data or {}), RESUME: resume}) if resume else opened
        elif actor.has_home and text.startswith("/") and command is None and not incoming.option:
            ctx.say("staff.unknown_command")  # a mistyped command: show staff what they can use
            target = Goto("staff_home", data={"commands": True})  # the whole list (staff SHOW_COMMANDS)
        elif (not consented and needs_consent and flow not in BEFORE_CONSENT) or command == "start":
            target = Goto("onboarding", data={})
        elif command == "cancel":
            if self._kept(resume):  # what /menu would have kept is gone: say so
                ctx.say("common.cancelled_draft")
            elif flow and flow != "menu":
                ctx.say("common.cancelled")
            target = Goto(self._home(ctx), data={})
        elif command == "resume":
            again = self._resumed(self._kept(resume)) if flow == "menu" else None
            target = again or (Goto(flow, step) if in_step else Goto(self._home(ctx), data={}))
        elif command in ("help", "language"):
            target = Goto(command, data={RESUME: resume} if resume else {})
        elif command == "menu":  # what was left in the middle is kept for /tieptuc
            left_in_middle = self._kept(resume)
            target = Goto(command, data={RESUME: left_in_middle} if left_in_middle else {})
        elif command == "back":
            target = self._back(ctx) if in_step else Goto(self._home(ctx), data={})
        elif (
            text.startswith("/")
            and command_word(text) not in COMMAND_OF_WORD
            and in_step
            and not incoming.option
        ):
            # A command we do not have is no answer to any step: not a name, not a summary.
            ctx.say("common.unknown_command", command=command_word(text)[:32])
            target = Goto(flow, step)
        elif current is None or not in_step:
            target = Goto(self._home(ctx), data={})
        elif not self._allowed(actor, current):
            ctx.say("staff.not_allowed")
            target = Goto(self._home(ctx), data={})
        else:
            partial = step not in current.text_steps
            answer, stale = self._answer(incoming, text, turn, offered, capabilities, partial)
            if stale:
                ctx.replies.append(Reply(ctx.t("common.stale_button"), old_button=True))
                target = Goto(flow, step)
            elif incoming.attachments and step not in current.file_steps:
                takes_files = capabilities.file_uploads and self.settings.max_attachments > 0
                ctx.say("common.files_not_here" if takes_files else "common.files_not_taken")
                target = Goto(flow, step)
            else:
                refusal: Invalid | None = None
                try:
                    target = self._as_goto(flow, await current.run_handle(step, ctx, answer))
                    answered = True
                except Invalid as invalid:
                    refusal, target = invalid, Goto(flow, step)
                if sent_chars > MAX_INPUT_CHARS and isinstance(refusal, TooLong):
                    # Said to be cut, with the length sent and this step's own limit (not the
                    # length left after the cut, nor the cut's bound).
                    refusal = Invalid("common.input_too_long", length=sent_chars, max=refusal.fields["max"])
                elif sent_chars > MAX_INPUT_CHARS:
                    ctx.replies.insert(
                        0,
                        Reply(
                            ctx.t(
                                "common.input_cut",
                                length=ctx.t.number(sent_chars),
                                max=ctx.t.number(MAX_INPUT_CHARS),
                            )
                        ),
                    )
                if refusal is not None:
                    ctx.replies.append(Reply(self._refusal_text(ctx, refusal)))

        left = (flow, step)
        flow, step, prompt, kept = await self._enter(ctx, target)
        if answered:
            jumped = current is not None and left[1] in current.jump_steps
            self._extend_trail(data, left, (flow, step), kept, jumped)
        if prompt.options:
            turn += 1
            data[STATE_OFFERED] = [[o.payload, o.label] for o in prompt.options]
            wire_options = tuple(Option(encode_option(turn, o.payload), o.label) for o in prompt.options)
            prompt = replace(prompt, options=wire_options)
        data[STATE_TURN] = turn
        ctx.replies.append(prompt)
        if prompt.ask_phone:
            data[STATE_PHONE_ASKED] = True
        elif phone_asked:
            ctx.replies[0] = replace(ctx.replies[0], close_keyboard=True)
        if incoming.event_id:  # kept with the state until the next event: sent again after a crash
            data[STATE_REPLIES] = owed.encode(ctx.replies)
        # One write: the state, and the event marked handled with its replies owed.
        reply_to = incoming.user_id if incoming.event_id else None
        wrote = await close_turn(
            db,
            incoming.key,
            flow=flow,
            step=step,
            data=data,
            event_id=incoming.event_id,
            reply_to=reply_to,
            now=now,
        )
        if not wrote:
            raise HandledBefore
        return ctx.replies

    @staticmethod
    def _refusal_text(ctx: Ctx, refusal: Invalid) -> str:
        """A refused answer explained; the counts in what citizens typed wrong (lengths, limits)
        written as the locale writes numbers ("100.000 ký tự")."""
        fields, message_id = refusal.fields, refusal.message_id
        if message_id == "common.choose_option" and not ctx.capabilities.numbers_answer:
            message_id = "common.choose_option_buttons"  # no numbers shown: none to type
        if message_id.startswith(("input.", "common.")):
            fields = {
                key: ctx.t.number(value) if isinstance(value, int) and not isinstance(value, bool) else value
                for key, value in fields.items()
            }
        return ctx.t(message_id, **fields)

    def _answer(
        self,
        incoming: Incoming,
        text: str,
        turn: int,
        offered: list[Option],
        capabilities: Capabilities,
        partial: bool,
    ) -> tuple[Answer, bool]:
        """Decode a pressed or typed choice. Returns (answer, pressed_an_old_button)."""
        choice = None
        if incoming.option is not None:
            decoded = decode_option(incoming.option)
            if decoded is None or decoded[0] != turn or decoded[1] not in {o.payload for o in offered}:
                return Answer(), True
            choice = decoded[1]
        elif text:
            if capabilities.numbers_answer and text.isdecimal() and 1 <= int(text) <= len(offered):
                choice = offered[int(text) - 1].payload
            else:
                choice = typed_option(text, offered, partial=partial)
        return Answer(text=text, choice=choice, phone=incoming.phone, attachments=incoming.attachments), False

    def _slash_command(self, text: str) -> Goto | None:
        """`/session 12` opens the flow whose command is "session", with args "12"."""
        if not text.startswith("/"):
            return None
        flow = self.commands.get(command_word(text).removeprefix("/"))
        return Goto(flow.name, data={"args": text.partition(" ")[2].strip()}) if flow else None

    @staticmethod
    def _allowed(actor: Actor, flow: Flow) -> bool:
        """The one place that decides who may use a flow (and so a command)."""
        return actor.may(flow.roles, delegates=flow.delegates)

    @staticmethod
    def _resume_point(flow: str, step: str, data: dict[str, Any]) -> list[Any] | None:
        """Where a flow opened in the middle of another (help, the language choice, a command)
        goes back to when it ends: the step the user was at, with everything entered so far;
        from help or the language choice, where they would have gone back to."""
        if flow in ("help", "language"):
            return data.get(RESUME)
        if flow == "menu" and data.get(RESUME):
            return [flow, step, dict(data)]  # the menu, with what it keeps for /tieptuc
        if flow in ("menu", "staff_home"):
            return None  # nothing under way: back to the menu is right
        return [flow, step, dict(data)]

    def _kept(self, resume: list[Any] | None) -> list[Any] | None:
        """What /menu keeps for /tieptuc from the resume point: a flow left in the middle
        (past its first step), as it was; nothing when no flow was under way."""
        while resume and resume[0] == "menu":
            resume = resume[2].get(RESUME)
        if not resume:
            return None
        known = self.flows.get(resume[0])
        return resume if known is not None and resume[1] != known.first else None

    def _back(self, ctx: Ctx) -> Goto:
        """The step answered before this one, with everything entered kept; from a flow's
        first step, where it was opened from (what the user was doing, or home)."""
        trail = list(ctx.data.get(STATE_TRAIL) or [])
        while trail:
            flow, step = trail.pop()
            ctx.data[STATE_TRAIL] = trail
            known = self.flows.get(flow)
            if known is not None and known.has_step(step):
                return Goto(flow, step)
        return self._resumed(ctx.data.get(RESUME)) or Goto(self._home(ctx), data={})

    @staticmethod
    def _extend_trail(
        data: dict[str, Any], left: tuple[str, str], reached: tuple[str, str], kept: bool, jumped: bool
    ) -> None:
        """After an answer moved the user from `left` to `reached`: remember `left` for "back".
        Reaching a step of the trail again closes a loop (a list after cancelling one of its
        items, the review after an edit): the trail goes back to what it was there, so "back"
        never offers an action already done. A jump to an earlier step of the user's choice
        (`jumped`) comes back to where it was made. A new flow, or the same one started
        afresh, has no way back into what came before."""
        if not kept or left == reached:
            return
        if left[0] != reached[0]:
            data.pop(STATE_TRAIL, None)
            return
        trail = [list(entry) for entry in data.get(STATE_TRAIL) or []]
        if jumped:
            trail = [entry for entry in trail if entry != list(reached)] + [list(left)]
        else:
            trail.append(list(left))
            if list(reached) in trail:
                trail = trail[: trail.index(list(reached))]
        data[STATE_TRAIL] = trail

    def _home(self, ctx: Ctx) -> str:
        """Where "cancel" leads: the command list for staff (and for liaisons and delegates: their
        own short one), else the main menu (the privacy notice first, for someone who has not
        consented to it)."""
        if ctx.actor.has_home:
            return "staff_home"
        consented = citizens.has_consent(ctx.citizen, self.settings.consent_version)
        return "menu" if consented else "onboarding"

    def _resumed(self, resume: list[Any] | None) -> Goto | None:
        if not resume:
            return None
        flow, step, data = resume
        known = self.flows.get(flow)
        return Goto(flow, step, data=data) if known is not None and known.has_step(step) else None

    def _as_goto(self, flow: str, target: str | Goto) -> Goto:
        return Goto(flow, target) if isinstance(target, str) else target

    async def _enter(self, ctx: Ctx, target: Goto) -> tuple[str, str, Reply, bool]:
        """Move to `target` and ask its step; an ask may redirect elsewhere. The last value
        says whether the data was kept all the way (no target replaced it)."""
        kept = True
        for _ in range(MAX_HOPS):
            if target == END:
                target = self._resumed(ctx.data.get(RESUME)) or Goto("menu")
            flow = self.flows[target.flow]
            if not self._allowed(ctx.actor, flow):
                ctx.say("staff.not_allowed")
                target = Goto(self._home(ctx), data={})
                continue
            step = target.step or flow.first
            if target.data is not None:
                kept = False
                ctx.data.clear()
                ctx.data.update(target.data)
            asked = await flow.run_ask(step, ctx)
            if isinstance(asked, Reply):
                return flow.name, step, asked, kept
            target = self._as_goto(flow.name, asked)
        raise RuntimeError(f"dialog loop near {target.flow}/{target.step}")  # not its data: personal
