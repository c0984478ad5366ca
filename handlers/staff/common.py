"""What staff flows share: roles, scope, the usage line of a command."""

from __future__ import annotations

from collections.abc import Iterable

from bot.dialog.flow import Answer, Ctx, Goto, Invalid, Next
from bot.dialog.types import Document
from storage import staff_endpoints
from storage.endpoints import EndpointInfo
from storage.models import StaffRole

ADMIN = frozenset({StaffRole.ADMIN})
STAFF = frozenset({StaffRole.ADMIN, StaffRole.OFFICER})
# An agency's liaison (đầu mối cơ quan giải trình): only the flows of their agency's hearings.
LIAISON = frozenset({StaffRole.LIAISON})
# Who has a home of commands (the staff home): staff and liaisons; delegates too (Flow.delegates).
HOME_ROLES = STAFF | LIAISON
# In the staff home's data (its draft's field): show every command, not the one-line hint
# (the engine, which may not import flows, spells it out when a mistyped command sends staff home).
SHOW_COMMANDS = "commands"
BUTTON_LABEL_LONGEST = 60  # fits a phone's button; Telegram and Zalo OA (100) take it whole


def deliverable(ctx: Ctx, files: list[Document]) -> list[Document]:
    """The files this chat can carry (Zalo OA takes Word files only, up to 5 MB); when none,
    the staff member is told so."""
    carried = [file for file in files if ctx.capabilities.takes(file)]
    if not carried:
        ctx.say("staff.export.too_large_here")
    return carried


def usage(command: str) -> Invalid:
    """A mistyped command: tell its usage (`staff.usage.<command>` in the catalogs)."""
    return Invalid(f"staff.usage.{command}")


async def endpoints_from_text(ctx: Ctx, text: str, *, stopped_too: bool = False) -> list[EndpointInfo]:
    """Endpoint codes or names separated by commas/semicolons; every one must exist, and be
    active unless `stopped_too` (a stopped one is named as stopped, with how to resume it)."""
    wanted = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not wanted:
        raise Invalid("staff.endpoints.empty")
    resolved = await staff_endpoints.resolve(ctx.db, wanted)
    if resolved.unknown:
        raise Invalid("staff.endpoints.unknown", names=", ".join(resolved.unknown))
    if resolved.stopped and not stopped_too:
        raise Invalid("staff.endpoints.stopped", names=", ".join(e.name for e in resolved.stopped))
    if resolved.ambiguous:
        raise Invalid("staff.endpoints.ambiguous", names=", ".join(resolved.ambiguous))
    return [*resolved.found, *resolved.stopped]


async def chosen_scope(ctx: Ctx, answer: Answer) -> list[int] | None:
    """ "All endpoints" (None) or the ids of the endpoints typed."""
    if answer.choice == "all":
        return None
    return [endpoint.id for endpoint in await endpoints_from_text(ctx, answer.text)]


def short_text(answer: Answer, invalid_message: str, longest: int = 300) -> str:
    """A title or a name: 3 to `longest` characters, spaces tidied."""
    text = " ".join(answer.text.split())
    if not 3 <= len(text) <= longest:
        raise Invalid(invalid_message)
    return text


async def scope_names(ctx: Ctx, endpoint_ids: Iterable[int] | None) -> str:
    if endpoint_ids is None:
        return ctx.t("staff.scope.all")
    return ", ".join(await staff_endpoints.names(ctx.db, endpoint_ids)) or "—"


async def back_home(ctx: Ctx, answer: Answer) -> Next:
    """After a list or a card: anything typed that is not a command gets the command list."""
    ctx.say("staff.unknown_command")
    return Goto("staff_home", data={SHOW_COMMANDS: True})


def button_label(text: str, longest: int = BUTTON_LABEL_LONGEST) -> str:
    """`text` whole if it fits, else cut at the last word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= longest:
        return text
    cut = text[: longest - 1]
    if not text[longest - 1].isspace() and " " in cut:  # the cut falls inside a word: drop it
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" —-,;:") + "…"
