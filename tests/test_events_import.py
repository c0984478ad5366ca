"""`tiepdan events import FILE`: a plan that creates voter-contact rounds with a date and time
per endpoint and their compile and materials deadlines, all or nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bot import cli
from bot.app import App
from storage import migrate
from storage.event_kinds import Timing
from storage.models import Event, EventKind
from storage.session_plan import SessionFileError, import_sessions, read_session_plan
from tests.conftest import VN, World, local

# A round visiting three communes on two days, and a reception session in the same file.
ROUND_CSV = (
    "date,time,title,host,kind,endpoints,capacity,online_room,compile_deadline,materials_deadline\n"
    "14/12/2026,08:00,TXCT trước Kỳ họp thứ 10,Tổ đại biểu số 3,voter_meeting,P-TANBINH,20,https://meet/txct,,\n"
    "14/12/2026,14:00,TXCT trước Kỳ họp thứ 10,,voter_meeting,X-BINHCHANH,,,,\n"
    "16/12/2026,08:30,TXCT trước Kỳ họp thứ 10,Tổ đại biểu số 3,voter_meeting,DK-CONDAO,,,,\n"
    "21/12/2026,08:00,Tiếp công dân định kỳ,Thường trực HĐND,reception,P-TANBINH,,,,\n"
)
ROUND_YAML = """\
events:
  - {kind: voter_meeting, title: TXCT chuyên đề, host: Tổ đại biểu số 1, date: 10/01/2027,
     time: "08:00", endpoints: [P-TANBINH, X-BINHCHANH],
     compile_deadline: 20/01/2027 17:00, materials_deadline: 03/01/2027}
  - {kind: voter_meeting, title: TXCT chuyên đề, date: 12/01/2027, time: "14:00",
     endpoints: DK-CONDAO, capacity: 12}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def imported(app: App, path: Path, *, force: bool = False) -> tuple[int, int]:
    plan = read_session_plan(path, VN, 30)
    async with app.sessions() as db, db.begin():
        result = await import_sessions(
            db, plan, now=app.clock.now(), lead_days=5, force=force, timing=app.settings.timing
        )
    return result.added, result.skipped


async def event_titled(app: App, title: str) -> Event:
    async with app.sessions() as db:
        event = await db.scalar(
            select(Event).where(Event.title == title).options(selectinload(Event.endpoints))
        )
    assert event is not None
    return event


async def count_events(app: App) -> int:
    async with app.sessions() as db:
        return await db.scalar(select(func.count()).select_from(Event)) or 0


async def test_a_round_with_a_time_per_endpoint_and_default_deadlines(
    app: App, world: World, tmp_path: Path
) -> None:
    assert await imported(app, write(tmp_path, "plan.csv", ROUND_CSV)) == (2, 0)
    round_ = await event_titled(app, "TXCT trước Kỳ họp thứ 10")
    codes = {code: endpoint_id for code, endpoint_id in world.endpoint_ids.items()}
    starts = {link.endpoint_id: link.starts_at for link in round_.endpoints}
    assert starts == {
        codes["P-TANBINH"]: local(2026, 12, 14, 8, 0),
        codes["X-BINHCHANH"]: local(2026, 12, 14, 14, 0),
        codes["DK-CONDAO"]: local(2026, 12, 16, 8, 30),
    }
    assert round_.kind == EventKind.VOTER_MEETING and round_.starts_at == local(2026, 12, 14, 8, 0)
    assert round_.host == "Tổ đại biểu số 3" and round_.online_room == "https://meet/txct"
    # Defaults: compiled 5 days after the last meeting, materials 5 days before the first.
    assert round_.compile_deadline == local(2026, 12, 21, 8, 30)
    assert round_.materials_deadline == local(2026, 12, 9, 8, 0)
    assert {link.endpoint_id: link.capacity for link in round_.endpoints} == {
        codes["P-TANBINH"]: 20,
        codes["X-BINHCHANH"]: 30,
        codes["DK-CONDAO"]: 30,
    }
    reception = await event_titled(app, "Tiếp công dân định kỳ")
    assert reception.kind == EventKind.RECEPTION and reception.compile_deadline is None
    assert [link.starts_at for link in reception.endpoints] == [None]  # one start for all
    # Imported again: skipped, nothing doubled.
    assert await imported(app, write(tmp_path, "plan.csv", ROUND_CSV)) == (0, 2)


async def test_yaml_round_with_its_own_deadlines(app: App, world: World, tmp_path: Path) -> None:
    assert await imported(app, write(tmp_path, "plan.yaml", ROUND_YAML)) == (1, 0)
    round_ = await event_titled(app, "TXCT chuyên đề")
    assert round_.compile_deadline == local(2027, 1, 20, 17, 0)
    assert round_.materials_deadline == local(2027, 1, 3, 23, 59)  # a date alone: the end of that day
    assert sorted(link.capacity for link in round_.endpoints) == [12, 30, 30]
    assert max(link.starts_at for link in round_.endpoints if link.starts_at) == local(2027, 1, 12, 14, 0)


async def test_every_bad_row_of_a_round_is_reported_and_nothing_imported(
    app: App, world: World, tmp_path: Path
) -> None:
    text = (
        "date,time,title,host,kind,endpoints,compile_deadline,materials_deadline\n"
        "14/12/2026,08:00,Vòng A,Tổ 1,voter_meeting,P-TANBINH,15/12/2026,\n"  # before the last meeting
        "16/12/2026,08:00,Vòng A,Tổ 2,voter_meeting,X-BINHCHANH,,\n"  # another host
        "17/12/2026,08:00,Vòng A,,voter_meeting,Phường Tân Bình,,\n"  # the same endpoint again
        "17/12/2026,08:00,Vòng B,,voter_meeting,X-KHONGCO,,\n"
        "21/12/2026,08:00,Tiếp dân,,reception,all,25/12/2026,\n"  # a deadline on a reception row
        "22/12/2026,08:00,Vòng C,,voter_meeting,all,mai,\n"
    )
    before = await count_events(app)
    with pytest.raises(SessionFileError) as raised:
        await imported(app, write(tmp_path, "bad.csv", text))
    assert str(raised.value).splitlines() == [
        "row 2: compile_deadline is not after the round's last meeting",
        "row 3: host differs from row 2 of the same round",
        "row 4: endpoint P-TANBINH is in this round twice",
        "row 5: unknown endpoints X-KHONGCO",
        "row 6: compile_deadline is for voter_meeting rounds only",
        "row 7: compile_deadline 'mai' is not dd/mm/yyyy or dd/mm/yyyy HH:MM",
    ]
    assert await count_events(app) == before  # all or nothing


async def test_a_materials_deadline_after_the_first_meeting_is_refused(
    app: App, world: World, tmp_path: Path
) -> None:
    text = (
        "date,time,title,kind,endpoints,materials_deadline\n"
        "14/12/2026,08:00,Vòng,voter_meeting,all,14/12/2026\n"  # 23:59 that day: after the meeting
    )
    with pytest.raises(SessionFileError, match="row 2: materials_deadline is not before the round's first"):
        await imported(app, write(tmp_path, "late.csv", text))


async def test_a_wrong_deadline_is_named_at_the_row_that_writes_it(
    app: App, world: World, tmp_path: Path
) -> None:
    """The planner looks for the deadline where it is written, not at the round's first row."""
    text = (
        "date,time,title,kind,endpoints,compile_deadline,materials_deadline\n"
        "14/12/2026,08:00,Vòng,voter_meeting,P-TANBINH,,\n"
        "15/12/2026,08:00,Vòng,voter_meeting,DK-CONDAO,,15/12/2026 09:00\n"
        "16/12/2026,08:00,Vòng,voter_meeting,X-BINHCHANH,15/12/2026 17:00,\n"
    )
    with pytest.raises(SessionFileError) as raised:
        await imported(app, write(tmp_path, "deadlines.csv", text))
    assert str(raised.value).splitlines() == [
        "row 3: materials_deadline is not before the round's first meeting",
        "row 4: compile_deadline is not after the round's last meeting",
    ]


async def test_a_meeting_whose_sign_up_has_closed_needs_force(app: App, world: World, tmp_path: Path) -> None:
    """Voters sign up until the day before their endpoint's meeting (signup_close_days)."""
    now = app.clock.now()  # Monday 23/11/2026 09:00
    soon = now.astimezone(VN) + timedelta(hours=20)  # tomorrow 05:00: sign-up closed at 05:00 today
    later = now.astimezone(VN) + timedelta(days=3)
    text = (
        "date,time,title,kind,endpoints\n"
        f"{soon:%d/%m/%Y},{soon:%H:%M},Đột xuất,voter_meeting,P-TANBINH\n"
        f"{later:%d/%m/%Y},{later:%H:%M},Đột xuất,voter_meeting,X-BINHCHANH\n"
    )
    path = write(tmp_path, "soon.csv", text)
    with pytest.raises(SessionFileError) as raised:
        await imported(app, path)
    assert str(raised.value) == (
        "row 2: its registration deadline (1 day(s) before the start) has passed, so no citizen could "
        "register; import with --force to create it anyway"
    )
    assert await imported(app, path, force=True) == (1, 0)
    round_ = await event_titled(app, "Đột xuất")
    # The materials deadline is already past: kept as the default, the admins know it is late.
    assert round_.materials_deadline == round_.starts_at - timedelta(days=Timing().materials_days_before)


def test_cli_events_and_sessions_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    asyncio.run(migrate.upgrade(url))
    endpoints = write(
        tmp_path,
        "endpoints.csv",
        "code,name\nP-TANBINH,Phường Tân Bình\nX-BINHCHANH,Xã Bình Chánh\nDK-CONDAO,Đặc khu Côn Đảo\n",
    )
    assert cli.main(["endpoints", "import", str(endpoints)]) == 0
    plan = write(tmp_path, "plan.csv", ROUND_CSV.replace("2026", "2030"))
    assert cli.main(["events", "import", str(plan)]) == 0
    assert "events: 2 added, 0 skipped" in capsys.readouterr().out
    assert cli.main(["sessions", "import", str(plan)]) == 0
    assert "sessions: 0 added, 2 skipped" in capsys.readouterr().out
    bad = write(tmp_path, "bad.csv", ROUND_CSV.replace("DK-CONDAO", "NOPE").replace("2026", "2030"))
    assert cli.main(["events", "import", str(bad)]) == 2
    assert "row 4: unknown endpoints NOPE" in capsys.readouterr().err
