"""Migrations: up to head, down to nothing, up again — and the models match the migrations.

On PostgreSQL the shared test database is used: every test here leaves it at head and
empty (the `database_url` fixture then truncates it as usual).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, MetaData, String, inspect, select, text
from sqlalchemy.engine import Connection

from storage import migrate
from storage.db import create_engine
from storage.models import Base, Citizen, InboundUpdate, Notification
from storage.outbox import NoticeKind, Reminder, dedupe_key

MODEL_TABLES = set(Base.metadata.tables)
ALL_TABLES = MODEL_TABLES | {"alembic_version"}


def script() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))


def head() -> str:
    revision = script().get_current_head()
    assert revision is not None
    return revision


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
    finally:
        await engine.dispose()


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    finally:
        await engine.dispose()


async def drift(url: str, metadata: MetaData = Base.metadata) -> list[Any]:
    """What autogenerate would write to bring the database to `metadata`."""

    def compare(sync: Connection) -> list[Any]:
        context = MigrationContext.configure(
            sync, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def up_down_up(url: str) -> None:
    """Upgrade to head, downgrade to base, upgrade again, checking the schema each time."""
    await migrate.upgrade(url)
    assert await table_names(url) == ALL_TABLES
    assert await current_revision(url) == head()
    try:
        await migrate.downgrade(url, "base")
        assert await table_names(url) == {"alembic_version"}
        assert await current_revision(url) is None
    finally:
        await migrate.upgrade(url)  # never leave a shared database without its tables
    assert await table_names(url) == ALL_TABLES
    assert await current_revision(url) == head()
    assert await drift(url) == []


async def test_fresh_sqlite_file_up_down_up(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "fresh.db"
    url = f"sqlite+aiosqlite:///{path}"
    await up_down_up(url)
    assert path.exists()


async def test_up_down_up_on_each_engine(database_url: str) -> None:
    # The fixture hands over a database already at head: upgrading again is a no-op.
    assert await current_revision(database_url) == head()
    await up_down_up(database_url)
    assert await table_names(database_url) == ALL_TABLES


async def test_stairway_one_revision_at_a_time(database_url: str) -> None:
    """Each revision goes up, down to its predecessor and up again (aiogram_template's test)."""
    revisions = list(reversed(list(script().walk_revisions("base", "heads"))))
    assert revisions and revisions[-1].revision == head()
    try:
        await migrate.downgrade(database_url, "base")
        for revision in revisions:
            below = revision.down_revision
            assert below is None or isinstance(below, str), "no merge revisions expected"
            await migrate.upgrade(database_url, revision.revision)
            await migrate.downgrade(database_url, below or "base")
            await migrate.upgrade(database_url, revision.revision)
            assert await current_revision(database_url) == revision.revision
    finally:
        await migrate.upgrade(database_url)
    assert await current_revision(database_url) == head()
    assert await table_names(database_url) == ALL_TABLES


async def test_models_match_migrations(database_url: str) -> None:
    assert await drift(database_url) == []


async def test_drift_check_sees_a_change(database_url: str) -> None:
    """The comparison is not vacuous: a column the migrations lack is reported."""
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["endpoints"].append_column(Column("district", String(50), nullable=True))
    differences = await drift(database_url, changed)
    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "endpoints", "district")]


async def test_0003_empties_the_payloads_of_handled_updates_only(database_url: str) -> None:
    """Updates handled before 0003 kept the sender's name and what they typed."""
    stored = {"message": {"text": "079203001234", "from": {"first_name": "An"}}}
    try:
        await migrate.downgrade(database_url, "0002")
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                for update_id, handled in (("1", True), ("2", False)):
                    await conn.execute(
                        InboundUpdate.__table__.insert().values(
                            channel="telegram",
                            update_id=update_id,
                            payload=stored,
                            received_at=datetime(2026, 11, 23, tzinfo=UTC),
                            handled_at=datetime(2026, 11, 23, tzinfo=UTC) if handled else None,
                        )
                    )
            await migrate.upgrade(database_url, "0003")
            async with engine.connect() as conn:
                found = await conn.execute(select(InboundUpdate.update_id, InboundUpdate.payload))
                rows = {update_id: payload for update_id, payload in found}
        finally:
            await engine.dispose()
        assert rows == {"1": {}, "2": stored}  # the unhandled one is still to be handled
    finally:
        await migrate.upgrade(database_url)


async def test_0005_gives_the_reminders_keys_their_recipient(database_url: str) -> None:
    """A reminder queued before 0005 keeps its key under the one recipe, so the next tick
    does not queue it again; the other notices' keys already had the recipient last."""
    now = datetime(2026, 12, 6, 1, tzinfo=UTC)
    reminder = Reminder(
        registration_id=7, hours=24, starts_at=datetime(2026, 12, 7, 1, tzinfo=UTC), calendar=False
    )
    before = {
        "reminder": "reminder:7:24h:2026-12-07T01:00:00+00:00",
        "broadcast": "broadcast:3:{citizen}",
    }
    try:
        await migrate.downgrade(database_url, "0004_crash")
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                citizen = await conn.scalar(
                    Citizen.__table__.insert()
                    .values(channel="telegram", channel_user_id="1", unreachable=False, created_at=now)
                    .returning(Citizen.__table__.c.id)
                )
                before["broadcast"] = before["broadcast"].format(citizen=citizen)
                for kind, key in before.items():
                    await conn.execute(
                        Notification.__table__.insert().values(
                            citizen_id=citizen,
                            kind=kind,
                            params={},
                            due_at=now,
                            state="sent",
                            attempts=1,
                            result="ok",
                            dedupe_key=key,
                            created_at=now,
                        )
                    )

            async def keys() -> dict[str, str]:
                async with engine.connect() as conn:
                    return dict(
                        (await conn.execute(select(Notification.kind, Notification.dedupe_key))).all()
                    )

            await migrate.upgrade(database_url, "0005_notices")
            after = await keys()
            await migrate.downgrade(database_url, "0004_crash")
            again = await keys()
        finally:
            await engine.dispose()
        assert citizen is not None
        assert after == {
            "reminder": dedupe_key(NoticeKind.REMINDER, citizen, reminder, now),
            "broadcast": before["broadcast"],
        }
        assert again == before
    finally:
        await migrate.upgrade(database_url)


async def test_0007_splits_each_registration_into_a_sign_up_and_its_case(database_url: str) -> None:
    """A registration made before 0007 is a sign-up (attendance) and one case submission with
    the same id after it, and the same registration again after going back down; a new sign-up
    after the upgrade takes the next id, not one a migrated row holds."""
    # Raw rows, as the engine keeps a UTC time (SQLAlchemy's text on SQLite).
    now: Any = datetime(2026, 11, 20, 1, tzinfo=UTC)
    if database_url.startswith("sqlite"):
        now = "2026-11-20 01:00:00.000000"
    case = {
        "full_name": "Nguyễn Văn An", "phone": "+84912345678", "id_number": "079203001234",
        "address": "12 Lý Thường Kiệt", "case_type": "denunciation", "field": "land",
        "summary": "Nội dung tố cáo", "prior_agency": "UBND phường", "group_size": 1,
        "representatives": [], "attachments": [{"kind": "document", "file_id": "f1", "name": "don.pdf"}],
        "route": "forward", "route_note": "", "forwarded_to": "Thanh tra tỉnh", "reviewed_at": now,
        "reviewed_by": "telegram:1", "outcome": "Đã xử lý", "outcome_at": now,
    }  # fmt: skip
    attendance = {
        "id": 41, "code": "TCD-2026-000041", "status": "confirmed", "seats": 1,
        "created_at": now, "updated_at": now, "queued_at": now, "cancelled_at": None,
    }  # fmt: skip

    async def insert(conn: Any, table: str, **values: Any) -> None:
        values = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in values.items()}
        names = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        await conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), values)

    def stored(values: dict[str, Any]) -> dict[str, Any]:
        """Times to the second, as text on both engines."""

        def plain(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            if isinstance(value, str) and re.match(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d", value):
                return value[:19].replace("T", " ")
            return value

        return {key: plain(value) for key, value in values.items()}

    async def rows(conn: Any, query: str) -> list[dict[str, Any]]:
        found = (await conn.execute(text(query))).mappings().all()
        return [stored({k: json.loads(v) if k in JSONS and isinstance(v, str) else v for k, v in row.items()})
                for row in found]  # fmt: skip

    JSONS = {"representatives", "attachments"}
    try:
        await migrate.downgrade(database_url, "0006_workers")
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                await insert(conn, "citizens", id=5, channel="telegram", channel_user_id="5",
                             unreachable=False, created_at=now)  # fmt: skip
                await insert(conn, "endpoints", id=3, code="P-01", name="Phường 1", area="", address="",
                             search_name="phuong 1", active=True)  # fmt: skip
                await insert(conn, "sessions", id=9, kind="reception", title="Tiếp công dân", host="",
                             starts_at=now, status="scheduled", online_room="", created_at=now)  # fmt: skip
                await insert(conn, "session_endpoints", id=12, session_id=9, endpoint_id=3, capacity=30,
                             seats_taken=1)  # fmt: skip
                await insert(conn, "registrations", citizen_id=5, session_id=9, session_endpoint_id=12,
                             **attendance, **case)  # fmt: skip
            await migrate.upgrade(database_url, "0007_events")
            async with engine.begin() as conn:
                sign_ups = await rows(conn, "SELECT * FROM sign_ups")
                cases = await rows(conn, "SELECT * FROM submissions")
                later = {k: v for k, v in attendance.items() if k != "id"} | {
                    "code": None,
                    "status": "cancelled",
                }
                await insert(conn, "sign_ups", citizen_id=5, session_id=9, session_endpoint_id=12, **later)
                new_id = await conn.scalar(text("SELECT MAX(id) FROM sign_ups"))
                await conn.execute(text("DELETE FROM sign_ups WHERE id = :id"), {"id": new_id})
            await migrate.downgrade(database_url, "0006_workers")
            async with engine.connect() as conn:
                back = await rows(conn, "SELECT * FROM registrations")
        finally:
            await engine.dispose()
    finally:
        await migrate.upgrade(database_url)
    ids = {"citizen_id": 5, "session_id": 9, "session_endpoint_id": 12}
    assert sign_ups == [stored({**attendance, **ids})]
    [moved] = cases
    assert moved == stored({
        **case, "id": 41, "kind": "case", "event_id": 9, "sign_up_id": 41, "citizen_id": 5, "endpoint_id": 3,
        "code": None, "status": "active", "level": None, "voters": 1, "merged_into_id": None,
        "created_at": now, "updated_at": now,
    })  # fmt: skip
    assert new_id == 42
    assert back == [stored({**attendance, **ids, **case})]


async def test_0008_lets_in_liaisons_and_the_hearings_submissions(database_url: str) -> None:
    """The role and kind CHECKs the migrations wrote take the hearings' values (a model's
    enum alone would not tell: the database checks)."""
    now = datetime(2026, 12, 1, tzinfo=UTC)

    async def insert(conn: Any, table: str, **values: Any) -> Any:
        names, marks = ", ".join(values), ", ".join(f":{name}" for name in values)
        return await conn.scalar(text(f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING id"), values)

    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            agency = await insert(conn, "agencies", name="Sở Tài nguyên", active=True, created_at=now)
            liaison = {"role": "liaison", "agency_id": agency, "delegate": False, "see_denouncers": False}
            await insert(conn, "staff", channel="test", user_id="1", active=True, invited_by="",
                         created_at=now, **liaison)  # fmt: skip
            event = await insert(conn, "events", kind="hearing", title="Phiên giải trình", host="",
                                 starts_at=now, status="scheduled", online_room="",
                                 created_at=now)  # fmt: skip
            empty = dict.fromkeys(
                ("field", "summary", "prior_agency", "route_note", "forwarded_to", "outcome"), ""
            )
            for kind in ("report", "question", "speech"):
                await insert(conn, "submissions", kind=kind, event_id=event, status="active",
                             case_type="petition", group_size=1, representatives="[]", attachments="[]",
                             voters=1, created_at=now, updated_at=now, reviewed_by="", agency_id=agency,
                             **empty)  # fmt: skip
            kinds = set(await conn.scalars(text("SELECT kind FROM submissions")))
            conclusion = await conn.scalar(text("SELECT conclusion FROM events"))
            for table in ("submissions", "events", "staff", "agencies"):
                await conn.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()
    assert kinds == {"report", "question", "speech"} and conclusion == ""
