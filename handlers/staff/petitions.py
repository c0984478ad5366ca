"""Voters' petitions for staff: /petitions ID — the petitions of a voter-contact round, filtered
and paged with their counts; a petition's card, from which staff classify it (field and the
level that must answer), merge petitions on the same matter into it, forward it to a competent
agency (AGENCIES) and record the agency's answer, which goes to every voter behind it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.dialog.flow import Answer, Ctx, Draft, Flow, Goto, Invalid, Next, TooLong
from bot.dialog.types import Option, Reply
from handlers import inputs
from handlers.citizen.views import case_type_label, field_label
from handlers.staff.common import STAFF, button_label, usage
from storage import audit, petition_review
from storage.errors import NotFound
from storage.models import AnswerLevel, EventKind
from storage.petition_review import (
    CannotMerge,
    NotClassified,
    NotForwarded,
    Petition,
    PetitionFilter,
    PetitionNotOpen,
    PetitionState,
)
from storage.text import mask_name

PAGE_SIZE = 8
MERGE_CHOICES = 8  # candidates offered as buttons; others are typed by their codes
LIST_TEXT_SHOWN = 90  # characters of a petition's text in the list
ANSWER_MIN, ANSWER_MAX = 10, 3000
FILTERS = ("state", "level", "field", "endpoint")


@dataclass
class PetitionsDraft(Draft):
    event_id: int = 0  # the round
    state: str = ""  # filters ("": any)
    level: str = ""
    field_code: str = ""
    endpoint_id: int = 0
    page: int = 0
    picking: str = ""  # the filter being chosen (one of FILTERS)
    petition_id: int = 0  # the petition on the card
    merging: list[int] = field(default_factory=list)  # chosen to merge into it
    chosen_field: str = ""  # classification under way: the field, before the level


flow = Flow(
    "petitions", first="list", command="petitions", roles=STAFF, needs_consent=False, draft=PetitionsDraft
)


def state_label(ctx: Ctx, state: PetitionState) -> str:
    return ctx.t(f"staff.petitions.state.{state.value}")


def level_label(ctx: Ctx, level: AnswerLevel | None) -> str:
    return (
        ctx.t(f"staff.petitions.level.{level.value}")
        if level is not None
        else ctx.t("staff.petitions.no_level")
    )


def shortened(text: str, longest: int) -> str:
    return button_label(text, longest)


async def visible_name(ctx: Ctx, petition: Petition) -> str:
    """A denouncer's name only for those allowed to see it (masked for others, Luật Tố cáo,
    Art. 9), and every such view is audited — as reception does."""
    if not petition.denunciation:
        return petition.full_name or "—"
    if not ctx.actor.see_denouncers:
        return mask_name(petition.full_name or "") or "—"
    audit.record(
        ctx.db,
        at=ctx.now,
        actor=str(ctx.actor),
        action="denouncer.view",
        target_type="petition",
        target_id=petition.id,
    )
    return petition.full_name or "—"


def filter_of(draft: PetitionsDraft) -> PetitionFilter:
    return PetitionFilter(
        state=PetitionState(draft.state) if draft.state else None,
        level=AnswerLevel(draft.level) if draft.level else None,
        field=draft.field_code or None,
        endpoint_id=draft.endpoint_id or None,
    )


async def round_from_args(ctx: Ctx) -> int:
    """The voter-contact round named by `/petitions ID`, or the command's usage."""
    if not ctx.args.isdecimal():
        raise usage("petitions")
    event_id = inputs.whole_number(ctx.args, inputs.MAX_ROW_ID)
    found = None if event_id is None else await petition_review.voter_round(ctx.db, event_id)
    if found is None:
        raise Invalid("staff.petitions.not_found", id=ctx.args)
    if found.kind != EventKind.VOTER_MEETING:
        raise Invalid("staff.petitions.not_voter_round", id=found.id, title=found.title)
    return found.id


async def filters_text(ctx: Ctx, draft: PetitionsDraft) -> str:
    parts = []
    if draft.state:
        parts.append(state_label(ctx, PetitionState(draft.state)))
    if draft.level:
        parts.append(level_label(ctx, AnswerLevel(draft.level)))
    if draft.field_code:
        parts.append(field_label(ctx, draft.field_code))
    if draft.endpoint_id:
        names = {e.endpoint_id: e.name for e in await endpoints(ctx, draft.event_id)}
        parts.append(names.get(draft.endpoint_id, "—"))
    return ", ".join(parts) or ctx.t("staff.petitions.no_filter")


async def endpoints(ctx: Ctx, event_id: int) -> list[petition_review.EndpointCount]:
    return await petition_review.endpoints_of_round(ctx.db, ctx.actor, event_id)


async def row_text(ctx: Ctx, number: int, petition: Petition) -> str:
    return ctx.t(
        "staff.petitions.row",
        number=number,
        code=petition.code,
        state=state_label(ctx, petition.state),
        endpoint=petition.endpoint_name or "—",
        field=field_label(ctx, petition.field),
        level=level_label(ctx, petition.level),
        voters=petition.voters,
        name=await visible_name(ctx, petition),
        text=shortened(petition.summary, LIST_TEXT_SHOWN),
    )


# --- the list -----------------------------------------------------------------------


@flow.ask("list")
async def ask_list(ctx: Ctx) -> Reply | Next:
    draft = PetitionsDraft.of(ctx)
    if not draft.event_id:
        try:
            draft.event_id = await round_from_args(ctx)
        except Invalid as invalid:
            ctx.say(invalid.message_id, **invalid.fields)
            return Goto("staff_home", data={})
    found_round = await petition_review.voter_round(ctx.db, draft.event_id)
    assert found_round is not None  # events are cancelled, never deleted
    filt = filter_of(draft)
    found = await petition_review.listing(
        ctx.db, ctx.actor, draft.event_id, filt, page=draft.page, size=PAGE_SIZE
    )
    draft.page, counts = found.page, found.counts
    head = ctx.t(
        "staff.petitions.title",
        id=found_round.id,
        title=found_round.title,
        filters=await filters_text(ctx, draft),
        total=sum(counts.values()),
        counts="; ".join(f"{state_label(ctx, state)}: {counts[state]}" for state in PetitionState),
        shown=found.total,
        page=found.page + 1,
        pages=found.pages,
    )
    first = draft.page * PAGE_SIZE + 1
    rows = [await row_text(ctx, first + n, petition) for n, petition in enumerate(found.items)]
    body = "\n\n".join(rows) if rows else ctx.t("staff.petitions.none")
    options = [
        Option(f"p:{petition.id}", button_label(f"{first + n}. {petition.code} — {petition.summary}"))
        for n, petition in enumerate(found.items)
    ]
    if draft.page > 0:
        options.append(ctx.option("prev", "staff.petitions.prev"))
    if draft.page + 1 < found.pages:
        options.append(ctx.option("next", "staff.petitions.next"))
    options += [ctx.option(f"by_{name}", f"staff.petitions.by_{name}") for name in FILTERS]
    if filt != PetitionFilter():
        options.append(ctx.option("clear", "staff.petitions.clear"))
    options.append(ctx.option("stop", "staff.petitions.stop"))
    return Reply(head + "\n\n" + body + "\n\n" + ctx.t("staff.petitions.list_hint"), tuple(options))


@flow.handle("list")
async def on_list(ctx: Ctx, answer: Answer) -> Next:
    draft = PetitionsDraft.of(ctx)
    choice = answer.choice or ""
    if choice.startswith("p:"):
        return open_card(draft, int(choice[2:]))
    if choice in ("prev", "next"):
        draft.page = max(0, draft.page + (1 if choice == "next" else -1))
        return "list"
    if choice.startswith("by_") and choice[3:] in FILTERS:
        draft.picking = choice[3:]
        return "filter"
    if choice == "clear":
        draft.state, draft.level, draft.field_code, draft.endpoint_id, draft.page = "", "", "", 0, 0
        return "list"
    if choice == "stop":
        return Goto("staff_home", data={})
    codes = codes_in(answer.text)
    if codes:  # a petition's code (or its number) typed
        found, unknown = await petition_review.by_codes(ctx.db, ctx.actor, draft.event_id, codes[:1])
        if found:
            return open_card(draft, found[0].id)
        raise Invalid("staff.petitions.code_unknown", codes=", ".join(unknown))
    raise Invalid("staff.petitions.list_hint")


def open_card(draft: PetitionsDraft, petition_id: int) -> Next:
    draft.petition_id, draft.merging, draft.chosen_field = petition_id, [], ""
    return "card"


CODE = re.compile(r"[A-Za-z]+-\d{4}-\d+|\d+")


def codes_in(text: str) -> list[str]:
    """Petition codes typed (KNCT-2026-000012, or just 12), in order."""
    return CODE.findall(text)


# --- filters ------------------------------------------------------------------------


@flow.ask("filter")
async def ask_filter(ctx: Ctx) -> Reply:
    draft = PetitionsDraft.of(ctx)
    options: list[Option]
    if draft.picking == "state":
        options = [Option(f"v:{s.value}", state_label(ctx, s)) for s in PetitionState]
    elif draft.picking == "level":
        options = [Option(f"v:{level.value}", level_label(ctx, level)) for level in AnswerLevel]
    elif draft.picking == "field":
        options = [Option(f"v:{code}", field_label(ctx, code)) for code in ctx.settings.case_field_codes]
    else:
        options = [
            Option(f"v:{e.endpoint_id}", button_label(f"{e.name} ({e.petitions})"))
            for e in await endpoints(ctx, draft.event_id)
        ]
    options.append(ctx.option("any", "staff.petitions.any"))
    return Reply(ctx.t(f"staff.petitions.pick_{draft.picking}"), tuple(options))


@flow.handle("filter")
async def on_filter(ctx: Ctx, answer: Answer) -> Next:
    draft = PetitionsDraft.of(ctx)
    choice = answer.choice or ""
    if choice != "any" and not choice.startswith("v:"):
        raise Invalid("common.choose_option")
    value = choice[2:] if choice.startswith("v:") else ""
    if draft.picking == "endpoint":
        draft.endpoint_id = int(value) if value else 0
    elif draft.picking == "field":
        draft.field_code = value
    elif draft.picking in ("state", "level"):
        setattr(draft, draft.picking, value)
    draft.picking, draft.page = "", 0
    return "list"


# --- a petition's card ----------------------------------------------------------------


async def current(ctx: Ctx) -> Petition:
    """The petition on the card (in a step's handler: gone or out of scope re-asks with why)."""
    petition = await petition_review.get(ctx.db, ctx.actor, PetitionsDraft.of(ctx).petition_id)
    if petition is None:
        raise Invalid("staff.petitions.gone")
    return petition


async def shown(ctx: Ctx) -> Petition | None:
    """The petition on the card, for a step's prompt; None (said why) when it is gone or
    out of scope: the list comes instead."""
    petition = await petition_review.get(ctx.db, ctx.actor, PetitionsDraft.of(ctx).petition_id)
    if petition is None:
        ctx.say("staff.petitions.gone")
    return petition


async def card_text(ctx: Ctx, petition: Petition) -> str:
    merged = await petition_review.behind(ctx.db, petition.id)
    endpoint_names = list(dict.fromkeys(p.endpoint_name or "—" for p in (petition, *merged)))
    files = str(petition.files) if petition.files else "—"
    if petition.files and petition.denunciation and not ctx.actor.see_denouncers:
        files = ctx.t("staff.review.files_withheld", count=petition.files)
    text = ctx.t(
        "staff.petitions.card",
        code=petition.code,
        state=state_label(ctx, petition.state),
        endpoint=petition.endpoint_name or "—",
        written=ctx.t("staff.petitions.written") if petition.written else ctx.t("staff.petitions.spoken"),
        name=await visible_name(ctx, petition),
        case_type=case_type_label(ctx, petition.case_type),
        field=field_label(ctx, petition.field),
        level=level_label(ctx, petition.level),
        voters=petition.voters,
        endpoints=len(endpoint_names),
        endpoint_names=", ".join(endpoint_names),
        files=files,
        agency=petition.forwarded_to or "—",
        answer=petition.outcome or "—",
        summary=petition.summary,
    )
    if merged:
        lines = [
            ctx.t(
                "staff.petitions.merged_row",
                code=p.code,
                endpoint=p.endpoint_name or "—",
                name=await visible_name(ctx, p) if petition_review.in_scope(ctx.actor, p) else "—",
                voters=p.voters,
            )
            for p in merged
        ]
        text += "\n\n" + ctx.t("staff.petitions.merged_title", count=len(merged)) + "\n" + "\n".join(lines)
    if petition.merged_into_id is not None and petition.state == PetitionState.MERGED:
        kept = await petition_review.by_id(ctx.db, petition.merged_into_id)
        text += "\n\n" + ctx.t("staff.petitions.merged_into", code=kept.code if kept else "—")
    return text


@flow.ask("card")
async def ask_card(ctx: Ctx) -> Reply | Next:
    petition = await shown(ctx)
    if petition is None:
        return "list"
    options = []
    if petition.open:
        options.append(ctx.option("classify", "staff.petitions.classify"))
        options.append(ctx.option("merge", "staff.petitions.merge"))
        if petition.state != PetitionState.UNCLASSIFIED:
            options.append(ctx.option("forward", "staff.petitions.forward"))
        if petition.state == PetitionState.FORWARDED:
            options.append(ctx.option("answer", "staff.petitions.answer"))
    if petition.state == PetitionState.MERGED and petition.merged_into_id is not None:
        options.append(ctx.option("kept", "staff.petitions.open_kept"))
    options.append(ctx.option("back", "staff.petitions.back"))
    return Reply(await card_text(ctx, petition), tuple(options))


@flow.handle("card")
async def on_card(ctx: Ctx, answer: Answer) -> Next:
    draft = PetitionsDraft.of(ctx)
    if answer.choice == "back":
        return "list"
    petition = await current(ctx)
    if answer.choice == "kept" and petition.merged_into_id is not None:
        return open_card(draft, petition.merged_into_id)
    if answer.choice in ("classify", "merge", "forward", "answer"):
        if not petition.open:  # merged, withdrawn or answered meanwhile
            return not_open(ctx, petition)
        if answer.choice == "answer" and petition.state != PetitionState.FORWARDED:
            raise Invalid("staff.petitions.forward_first", code=petition.code)
        if answer.choice == "forward" and petition.state == PetitionState.UNCLASSIFIED:
            raise Invalid("staff.petitions.classify_first", code=petition.code)
        draft.merging, draft.chosen_field = [], ""
        return {"classify": "classify_field", "merge": "merge", "forward": "agency", "answer": "answer"}[
            answer.choice
        ]
    raise Invalid("common.choose_option")


def not_open(ctx: Ctx, petition: Petition) -> Next:
    """Someone else merged or answered it first, or the voter withdrew it: say so, record nothing."""
    ctx.say(f"staff.petitions.not_open.{petition.state.value}", code=petition.code)
    return "card"


async def changed(ctx: Ctx, action: str, **fields: object) -> Next:
    """After a change: the card as it stands now."""
    ctx.say(f"staff.petitions.done.{action}", **fields)
    return "card"


# --- classify -----------------------------------------------------------------------


@flow.ask("classify_field")
async def ask_classify_field(ctx: Ctx) -> Reply | Next:
    petition = await shown(ctx)
    if petition is None:
        return "list"
    options = [Option(f"f:{code}", field_label(ctx, code)) for code in ctx.settings.case_field_codes]
    prompt = ctx.t(
        "staff.petitions.pick_field_of", code=petition.code, field=field_label(ctx, petition.field)
    )
    return Reply(prompt, (*options, ctx.option("back", "staff.petitions.back")))


@flow.handle("classify_field")
async def on_classify_field(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "back":
        return "card"
    code = (answer.choice or "")[2:]
    if not (answer.choice or "").startswith("f:") or code not in ctx.settings.case_field_codes:
        raise Invalid("common.choose_option")
    PetitionsDraft.of(ctx).chosen_field = code
    return "classify_level"


@flow.ask("classify_level")
async def ask_classify_level(ctx: Ctx) -> Reply | Next:
    petition = await shown(ctx)
    if petition is None:
        return "list"
    options = [Option(f"l:{level.value}", level_label(ctx, level)) for level in AnswerLevel]
    prompt = ctx.t(
        "staff.petitions.pick_level_of", code=petition.code, level=level_label(ctx, petition.level)
    )
    return Reply(prompt, (*options, ctx.option("back", "staff.petitions.back")))


@flow.handle("classify_level")
async def on_classify_level(ctx: Ctx, answer: Answer) -> Next:
    draft = PetitionsDraft.of(ctx)
    if answer.choice == "back":
        return "classify_field"
    if not (answer.choice or "").startswith("l:") or not draft.chosen_field:
        raise Invalid("common.choose_option")
    level = AnswerLevel((answer.choice or "")[2:])
    try:
        petition = await petition_review.classify(
            ctx.db, draft.petition_id, field=draft.chosen_field, level=level, actor=ctx.actor, now=ctx.now
        )
    except NotFound:
        raise Invalid("staff.petitions.gone") from None
    except PetitionNotOpen as closed:
        return not_open(ctx, closed.petition)
    draft.chosen_field = ""
    return await changed(
        ctx,
        "classify",
        code=petition.code,
        field=field_label(ctx, petition.field),
        level=level_label(ctx, petition.level),
    )


# --- merge --------------------------------------------------------------------------


@flow.ask("merge")
async def ask_merge(ctx: Ctx) -> Reply | Next:
    draft = PetitionsDraft.of(ctx)
    petition = await shown(ctx)
    if petition is None:
        return "list"
    offered = await petition_review.candidates(ctx.db, ctx.actor, petition, limit=MERGE_CHOICES)
    chosen = [p for p in [await petition_review.get(ctx.db, ctx.actor, i) for i in draft.merging] if p]
    listed = {p.id: p for p in (*chosen, *offered)}
    options = [
        Option(
            f"m:{p.id}",
            button_label(("✓ " if p.id in draft.merging else "") + f"{p.code} — {p.summary}"),
        )
        for p in listed.values()
    ]
    if draft.merging:
        options.append(
            ctx.option(
                "confirm", "staff.petitions.merge_confirm", count=len(draft.merging), code=petition.code
            )
        )
    options.append(ctx.option("back", "staff.petitions.back"))
    prompt = ctx.t(
        "staff.petitions.merge_ask",
        code=petition.code,
        chosen=", ".join(p.code for p in chosen) or "—",
    )
    if not offered and not chosen:
        prompt = ctx.t("staff.petitions.merge_none", code=petition.code)
    return Reply(prompt, tuple(options))


@flow.handle("merge")
async def on_merge(ctx: Ctx, answer: Answer) -> Next:
    draft = PetitionsDraft.of(ctx)
    choice = answer.choice or ""
    if choice == "back":
        draft.merging = []
        return "card"
    if choice.startswith("m:"):
        picked = int(choice[2:])
        draft.merging = (
            [i for i in draft.merging if i != picked] if picked in draft.merging else [*draft.merging, picked]
        )
        return "merge"
    if choice == "confirm":
        try:
            kept = await petition_review.merge(
                ctx.db, draft.petition_id, draft.merging, actor=ctx.actor, now=ctx.now
            )
        except NotFound:
            draft.merging = []
            raise Invalid("staff.petitions.merge_gone") from None
        except PetitionNotOpen as closed:
            draft.merging = [i for i in draft.merging if i != closed.petition.id]
            ctx.say(f"staff.petitions.not_open.{closed.petition.state.value}", code=closed.petition.code)
            return "merge" if closed.petition.id != draft.petition_id else "card"
        except CannotMerge as refused:
            raise Invalid(f"staff.petitions.cannot_merge.{refused.reason}") from None
        count = len(draft.merging)
        draft.merging = []
        return await changed(ctx, "merge", code=kept.code, count=count, voters=kept.voters)
    codes = codes_in(answer.text)
    if not codes:
        raise Invalid("staff.petitions.merge_hint")
    found, unknown = await petition_review.by_codes(ctx.db, ctx.actor, PetitionsDraft.of(ctx).event_id, codes)
    if unknown:
        raise Invalid("staff.petitions.code_unknown", codes=", ".join(unknown))
    draft.merging = list(dict.fromkeys([*draft.merging, *(p.id for p in found if p.id != draft.petition_id)]))
    return "merge"


# --- forward ------------------------------------------------------------------------


@flow.ask("agency")
async def ask_agency(ctx: Ctx) -> Reply | Next:
    petition = await shown(ctx)
    if petition is None:
        return "list"
    options = [Option(f"a:{n}", button_label(name)) for n, name in enumerate(ctx.settings.agency_names)]
    prompt = ctx.t(
        "staff.petitions.agency_ask",
        code=petition.code,
        level=level_label(ctx, petition.level),
        agency=petition.forwarded_to or "—",
    )
    return Reply(prompt, (*options, ctx.option("back", "staff.petitions.back")))


@flow.handle("agency")
async def on_agency(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "back":
        return "card"
    agencies = ctx.settings.agency_names
    choice = answer.choice or ""
    number = inputs.whole_number(choice[2:], len(agencies)) if choice.startswith("a:") else None
    if number is None or number >= len(agencies):
        raise Invalid("common.choose_option")
    try:
        petition = await petition_review.forward(
            ctx.db, PetitionsDraft.of(ctx).petition_id, agencies[number], actor=ctx.actor, now=ctx.now
        )
    except NotFound:
        raise Invalid("staff.petitions.gone") from None
    except PetitionNotOpen as closed:
        return not_open(ctx, closed.petition)
    except NotClassified:
        raise Invalid("staff.petitions.classify_first", code=(await current(ctx)).code) from None
    return await changed(ctx, "forward", code=petition.code, agency=petition.forwarded_to)


# --- answer -------------------------------------------------------------------------


def parse_answer(text: str) -> str:
    outcome = inputs.clean_summary(text)
    if len(outcome) > ANSWER_MAX:
        raise TooLong("staff.petitions.answer_length", min=ANSWER_MIN, max=ANSWER_MAX)
    if len(outcome) < ANSWER_MIN or not any(ch.isalpha() for ch in outcome):
        raise Invalid("staff.petitions.answer_length", min=ANSWER_MIN, max=ANSWER_MAX)
    return outcome


@flow.ask("answer")
async def ask_answer(ctx: Ctx) -> Reply | Next:
    petition = await shown(ctx)
    if petition is None:
        return "list"
    voters = len(await petition_review.voters_of(ctx.db, petition.id))
    prompt = ctx.t(
        "staff.petitions.answer_ask", code=petition.code, agency=petition.forwarded_to, voters=voters
    )
    return Reply(prompt, (ctx.option("back", "staff.petitions.back"),))


@flow.handle("answer", text=True)
async def on_answer(ctx: Ctx, answer: Answer) -> Next:
    if answer.choice == "back":
        return "card"
    outcome = parse_answer(answer.text)
    try:
        answered = await petition_review.answer(
            ctx.db, PetitionsDraft.of(ctx).petition_id, outcome, actor=ctx.actor, now=ctx.now
        )
    except NotFound:
        raise Invalid("staff.petitions.gone") from None
    except PetitionNotOpen as closed:
        return not_open(ctx, closed.petition)
    except NotForwarded:
        raise Invalid("staff.petitions.forward_first", code=(await current(ctx)).code) from None
    return await changed(ctx, "answer", code=answered.petition.code, voters=answered.notified)
