"""`tiepdan sessions import FILE`: a year's plan of sessions from CSV or YAML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot import cli
from bot.app import App
from storage import migrate
from storage.endpoints import set_active
from storage.models import Event, EventEndpoint, EventKind
from storage.session_plan import SessionFileError, import_sessions, read_session_file, read_session_plan
from tests.conftest import World

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CSV = (
    "\ufeffdate,time,title,host,kind,endpoints,capacity,online_room\n"
    "07/12/2026,08:00,Tiếp công dân định kỳ tháng 12,Thường trực HĐND,reception,all,,https://meet/1\n"
    '2027-01-15,14:30,Tiếp xúc cử tri,Đoàn ĐBQH,voter_meeting,"P-TANBINH; X-BINHCHANH",12,\n'
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_bom_in_local_time(tmp_path: Path) -> None:
    first, second = read_session_file(write(tmp_path, "plan.csv", CSV), VN, 30)
    assert first.starts_at == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
    assert (first.title, first.host, first.endpoints, first.capacity) == (
        "Tiếp công dân định kỳ tháng 12",
        "Thường trực HĐND",
        None,
        30,
    )
    assert second.kind == EventKind.VOTER_MEETING and second.endpoints == ("P-TANBINH", "X-BINHCHANH")
    assert second.capacity == 12 and second.starts_at == datetime(2027, 1, 15, 7, 30, tzinfo=UTC)


def test_yaml_list_and_mapping(tmp_path: Path) -> None:
    listed = "- {date: 07/12/2026, time: '08:00', title: A, endpoints: [P-TANBINH]}\n"
    mapped = "sessions:\n" + "  " + listed
    for text in (listed, mapped):
        [plan] = read_session_file(write(tmp_path, "plan.yaml", text), VN, 30)
        assert plan.endpoints == ("P-TANBINH",) and plan.title == "A"


def test_every_bad_row_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        "date,time,title,endpoints,capacity,kind\n"
        "31/02/2027,08:00,A,all,,\n"
        "01/03/2027,25:00,B,all,,\n"
        "01/03/2027,08:00,,all,0,party\n"
        "01/03/2027,08:00,D,,,\n"
    )
    with pytest.raises(SessionFileError) as raised:
        read_session_file(write(tmp_path, "plan.csv", text), VN, 30)
    message = str(raised.value)
    assert "row 2: date '31/02/2027' is not dd/mm/yyyy" in message
    assert "row 3: time '25:00' is not HH:MM" in message
    assert "row 4: title missing" in message and "kind 'party'" in message and "capacity '0'" in message
    assert "row 5: endpoints missing" in message
    with pytest.raises(SessionFileError, match=r"use a \.csv, \.txt .* or \.yaml file"):
        read_session_file(write(tmp_path, "plan.json", CSV), VN, 30)


def test_csv_as_excel_saves_it(tmp_path: Path) -> None:
    """UTF-16 with tabs ("Unicode Text") or ";" between values (Vietnamese regional settings)."""
    expected = read_session_file(write(tmp_path, "plan.csv", CSV), VN, 30)
    excel = CSV.replace("\n", "\r\n").replace('"P-TANBINH; X-BINHCHANH"', "{codes}")
    for separator, encoding in (("\t", "utf-16"), (";", "utf-8")):
        text = excel.replace(",", separator).format(codes='"P-TANBINH; X-BINHCHANH"')
        path = tmp_path / ("excel.txt" if encoding == "utf-16" else "excel.csv")  # as Excel names it
        path.write_text(text, encoding=encoding)
        assert read_session_file(path, VN, 30) == expected


def test_rows_are_numbered_as_excel_shows_them(tmp_path: Path) -> None:
    text = (
        "Date, Time ,TITLE,endpoints,capacity\n"
        "\n"
        "07/12/2026,08:00,A,all,\n"
        ",,,,\n"
        f"08/12/2026,08:00,{'T' * 301},all,10001\n"
        "09/12/2026,08:00,Tiếp, xúc,all,30\n"
    )
    with pytest.raises(SessionFileError) as raised:
        read_session_file(write(tmp_path, "plan.csv", text), VN, 30)
    assert str(raised.value).splitlines() == [
        "row 6: 6 values but the header has 5 columns"
        " (put a value that contains the separator in double quotes)"
    ]
    with pytest.raises(SessionFileError) as raised:
        read_session_file(write(tmp_path, "plan.csv", text.rsplit("09/12", 1)[0]), VN, 30)
    assert str(raised.value) == (
        "row 5: capacity '10001' is not a whole number from 1 to 10000;"
        " title is 301 characters long, at most 300"
    )
    with pytest.raises(SessionFileError, match=r"row 1 must be the header date,time,.*; missing: time"):
        read_session_file(write(tmp_path, "plan.csv", "date,title,endpoints\n07/12/2026,A,all\n"), VN, 30)


async def test_import_is_all_or_nothing_and_idempotent(app: App, world: World, tmp_path: Path) -> None:
    now = app.clock.now()
    planned = read_session_file(write(tmp_path, "plan.csv", CSV), VN, 30)
    bad = read_session_file(
        write(
            tmp_path,
            "bad.csv",
            "date,time,title,endpoints\n01/01/2027,08:00,X,P-KHONGCO\n20/11/2026,08:00,Y,all\n",
        ),
        VN,
        30,
    )

    async def sessions() -> int:
        async with app.sessions() as db:
            return await db.scalar(select(func.count()).select_from(Event)) or 0

    before = await sessions()
    with pytest.raises(SessionFileError) as raised:
        async with app.sessions() as db, db.begin():
            await import_sessions(db, planned + bad, now=now, lead_days=5)
    assert "unknown endpoints P-KHONGCO" in str(raised.value) and "in the past" in str(raised.value)
    assert await sessions() == before

    async with app.sessions() as db, db.begin():
        result = await import_sessions(db, planned, now=now, lead_days=5)
    assert (result.added, result.skipped) == (2, 0)
    async with app.sessions() as db, db.begin():
        again = await import_sessions(db, planned, now=now, lead_days=5)
    assert (again.added, again.skipped) == (0, 2)
    async with app.sessions() as db:
        voter = await db.scalar(select(Event).where(Event.title == "Tiếp xúc cử tri"))
        assert voter is not None
        capacities = list(
            await db.scalars(select(EventEndpoint.capacity).where(EventEndpoint.session_id == voter.id))
        )
    assert capacities == [12, 12]


async def test_a_plan_whose_registration_deadline_has_passed_needs_force(
    app: App, world: World, tmp_path: Path
) -> None:
    now = app.clock.now()  # 23/11/2026: a session on 26/11 closes registration on 21/11
    planned = read_session_file(
        write(tmp_path, "late.csv", "date,time,title,endpoints\n26/11/2026,08:00,Đột xuất,all\n"), VN, 30
    )
    with pytest.raises(SessionFileError) as raised:
        async with app.sessions() as db, db.begin():
            await import_sessions(db, planned, now=now, lead_days=5)
    assert "row 2: its registration deadline (5 days before the start) has passed" in str(raised.value)
    assert "--force" in str(raised.value)
    async with app.sessions() as db, db.begin():
        result = await import_sessions(db, planned, now=now, lead_days=5, force=True)
    assert result.added == 1


async def test_plan_endpoints_may_be_named(app: App, world: World, tmp_path: Path) -> None:
    text = (
        "date,time,title,endpoints\n"
        '15/01/2027,08:00,Theo tên,"Phường Tân Bình; binh chanh; DK-CONDAO"\n'
        "16/01/2027,08:00,Mơ hồ,phường\n"
    )
    planned = read_session_file(write(tmp_path, "named.csv", text), VN, 30)
    with pytest.raises(SessionFileError) as raised:
        async with app.sessions() as db, db.begin():
            await import_sessions(db, planned, now=app.clock.now(), lead_days=5)
    assert str(raised.value) == "row 3: several endpoints match phường; write the code or the whole name"
    async with app.sessions() as db, db.begin():
        result = await import_sessions(db, planned[:1], now=app.clock.now(), lead_days=5)
    assert result.added == 1
    async with app.sessions() as db:
        named = await db.scalar(select(Event).where(Event.title == "Theo tên"))
        assert named is not None
        ids = set(
            await db.scalars(select(EventEndpoint.endpoint_id).where(EventEndpoint.session_id == named.id))
        )
    assert ids == {world.endpoint_ids[code] for code in ("P-TANBINH", "X-BINHCHANH", "DK-CONDAO")}


# Row 2 starts in the past, row 3 names no endpoint there is, row 4's capacity is no number.
EVERY_KIND_OF_BAD_ROW = (
    "date,time,title,endpoints,capacity\n"
    "20/11/2026,08:00,Đã qua,all,\n"
    "15/01/2027,08:00,Không có điểm cầu,NOPE,\n"
    "16/01/2027,08:00,Sức chứa sai,all,abc\n"
)


async def test_rows_wrong_in_the_file_and_in_the_database_are_reported_together(
    app: App, world: World, tmp_path: Path
) -> None:
    """What the file gets wrong and what the database finds wrong, at once, in row order."""
    plan = read_session_plan(write(tmp_path, "bad.csv", EVERY_KIND_OF_BAD_ROW), VN, 30)
    with pytest.raises(SessionFileError) as raised:
        async with app.sessions() as db, db.begin():
            await import_sessions(db, plan, now=app.clock.now(), lead_days=5)
    assert str(raised.value).splitlines() == [
        "row 2: the session would start in the past",
        "row 3: unknown endpoints NOPE",
        "row 4: capacity 'abc' is not a whole number from 1 to 10000",
    ]
    async with app.sessions() as db:
        titles = set(await db.scalars(select(Event.title)))
    assert not titles & {"Đã qua", "Không có điểm cầu", "Sức chứa sai"}  # nothing imported


async def test_a_plan_naming_a_stopped_endpoint_says_it_is_stopped(
    app: App, world: World, tmp_path: Path
) -> None:
    async with app.sessions() as db, db.begin():
        await set_active(db, world.endpoint_ids["P-TANBINH"], active=False)
    plan = read_session_plan(
        write(tmp_path, "plan.csv", "date,time,title,endpoints\n15/01/2027,08:00,Theo mã,P-TANBINH\n"), VN, 30
    )
    with pytest.raises(SessionFileError) as raised:
        async with app.sessions() as db, db.begin():
            await import_sessions(db, plan, now=app.clock.now(), lead_days=5)
    assert str(raised.value) == "row 2: endpoints stopped: P-TANBINH (resume them with /endpoints)"


def test_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", url)
    import asyncio

    asyncio.run(migrate.upgrade(url))
    endpoints = write(
        tmp_path, "endpoints.csv", "code,name\nP-TANBINH,Phường Tân Bình\nX-BINHCHANH,Xã Bình Chánh\n"
    )
    assert cli.main(["endpoints", "import", str(endpoints)]) == 0
    plan = write(tmp_path, "plan.csv", CSV.replace("2026", "2030").replace("2027", "2031"))
    assert cli.main(["sessions", "import", str(plan)]) == 0
    assert "sessions: 2 added, 0 skipped" in capsys.readouterr().out
    assert (
        cli.main(
            ["sessions", "import", str(write(tmp_path, "bad.csv", "date,time,title,endpoints\nx,y,,\n"))]
        )
        == 2
    )
    assert "cannot import: row 2:" in capsys.readouterr().err
    bad_rows = write(tmp_path, "bad_rows.csv", EVERY_KIND_OF_BAD_ROW.replace("2027", "2031"))
    assert cli.main(["sessions", "import", str(bad_rows)]) == 2
    said = capsys.readouterr().err
    assert all(f"row {row}:" in said for row in (2, 3, 4)), said
    in_two_days = (datetime.now(VN) + timedelta(days=2)).strftime("%d/%m/%Y")  # its deadline has passed
    late = write(tmp_path, "late.csv", f"date,time,title,endpoints\n{in_two_days},23:00,Y,all\n")
    assert cli.main(["sessions", "import", str(late)]) == 2
    assert "import with --force" in capsys.readouterr().err
    assert cli.main(["sessions", "import", "--force", str(late)]) == 0
    assert "sessions: 1 added" in capsys.readouterr().out
