"""The open seats kept between events (`storage.catalog`): kept while nothing changes, read
again at the next event after any change, made here or by another process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.app import App
from storage.models import CatalogVersion
from tests.conftest import World
from tests.flows import consent
from tests.support import ChatUser
from tests.test_flow_statements import statements


@pytest.fixture
async def elsewhere(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Another process's engine on the same database (another worker, the CLI)."""
    engine = create_async_engine(database_url)
    yield engine
    await engine.dispose()


def seat_reads(seen: list[str]) -> list[str]:
    """The statements that read seats (the turn's own read names none of their tables)."""
    return [statement for statement in seen if "event_endpoints" in statement]


async def version(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(CatalogVersion.version)) or 0)


async def test_seats_are_read_again_after_a_change_made_by_another_process(
    app: App, world: World, chat: ChatUser, elsewhere: AsyncEngine
) -> None:
    async def choose_tan_binh() -> None:
        await chat.say("tan binh")
        await chat.press("Phường Tân Bình")

    await consent(chat)
    await chat.press("register")
    with statements(app) as first:
        await choose_tan_binh()
    assert seat_reads(first) and "Còn 30/30 chỗ" in chat.text
    await chat.press("back")
    with statements(app) as kept:
        await choose_tan_binh()
    assert not seat_reads(kept), "nothing changed: the seats kept are shown"
    assert "Còn 30/30 chỗ" in chat.text

    se_id = world.seats[(world.second_id, "P-TANBINH")]  # 30 seats (the first session's: 2)
    async with elsewhere.begin() as connection:  # another worker takes 28 seats
        await connection.execute(
            text("UPDATE event_endpoints SET seats_taken = 28 WHERE id = :id"), {"id": se_id}
        )
    await chat.press("back")
    with statements(app) as again:
        await choose_tan_binh()
    assert seat_reads(again) and "Còn 2/30 chỗ" in chat.text

    async with elsewhere.begin() as connection:  # staff cancel it from the CLI
        await connection.execute(
            text("UPDATE events SET status = 'cancelled' WHERE id = :id"), {"id": world.second_id}
        )
    await chat.press(f"s:{se_id}")  # the button shown before the cancellation
    assert "đã bị hủy" in chat.text


async def test_every_change_to_events_endpoints_and_seats_moves_the_version(
    app: App, world: World, elsewhere: AsyncEngine
) -> None:
    se_id = world.seats[(world.first_id, "P-TANBINH")]
    changes = [
        "UPDATE event_endpoints SET seats_taken = seats_taken + 1 WHERE id = :se",
        "UPDATE event_endpoints SET capacity = capacity + 5 WHERE id = :se",
        "UPDATE events SET title = 'Phiên đổi tên' WHERE id = :event",
        "UPDATE endpoints SET address = 'Số 1' WHERE code = 'P-TANBINH'",
        "INSERT INTO endpoints (code, name, area, address, search_name, active) "
        "VALUES ('P-MOI', 'Phường Mới', '', '', 'phuong moi', true)",
        "DELETE FROM endpoints WHERE code = 'P-MOI'",
        "DELETE FROM event_endpoints WHERE id = :se",
    ]
    for change in changes:
        before = await version(elsewhere)
        async with elsewhere.begin() as connection:
            await connection.execute(text(change), {"se": se_id, "event": world.first_id})
        assert await version(elsewhere) > before, change


async def test_a_change_rolled_back_leaves_the_version(
    app: App, world: World, elsewhere: AsyncEngine
) -> None:
    before = await version(elsewhere)
    async with elsewhere.connect() as connection:
        await connection.execute(text("UPDATE events SET title = 'x' WHERE id = :id"), {"id": world.first_id})
        await connection.rollback()
    assert await version(elsewhere) == before
