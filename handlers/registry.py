"""All flows the engine knows, by name."""

from __future__ import annotations

from bot.dialog.flow import Flow
from handlers import menu, onboarding
from handlers.citizen import mine, my_petitions, privacy, questions, register, upcoming, voters
from handlers.staff import (
    access,
    broadcast,
    dossier,
    endpoints,
    exports,
    hearing_floor,
    hearing_reports,
    petitions,
    reports,
    review,
    schedule,
    sessions,
    undelivered,
)


def all_flows() -> dict[str, Flow]:
    flows = [
        onboarding.flow,
        menu.menu,
        menu.help_flow,
        menu.language,
        register.flow,
        mine.flow,
        upcoming.flow,
        voters.flow,
        my_petitions.flow,
        questions.flow,
        privacy.flow,
        access.home,
        access.invite,
        access.join,
        access.members,
        sessions.overview,
        sessions.detail,
        sessions.create,
        sessions.legacy,
        review.queue,
        review.outcome,
        review.search,
        petitions.flow,
        exports.export,
        exports.stats,
        reports.report,
        schedule.move,
        schedule.drop,
        broadcast.write,
        broadcast.watch,
        undelivered.calls,
        endpoints.manage,
        hearing_reports.flow,
        dossier.flow,
        hearing_floor.speak,
        hearing_floor.order,
        hearing_floor.review,
        hearing_floor.conclude,
    ]
    by_name = {flow.name: flow for flow in flows}
    assert len(by_name) == len(flows), "two flows share a name"
    return by_name
