"""Endpoints (điểm cầu): reading deployment files, upserting by code, searching by name."""

from __future__ import annotations

import asyncio
import shutil
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot import cli
from bot.app import App
from storage.endpoints import (
    EndpointFileError,
    EndpointRow,
    read_endpoint_file,
    search_endpoints,
    set_active,
    upsert_endpoints,
)
from storage.models import Endpoint
from tests.conftest import World

CSV_TEXT = (
    "code,name,area,address\n"
    "P-TANBINH,Phường Tân Bình,Khu vực phía Tây,UBND phường Tân Bình\n"
    "DK-CONDAO,  Đặc khu Côn Đảo  ,Hải đảo,\n"
)


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


async def codes_found(app: App, query: str, page: int = 0) -> list[str]:
    async with app.sessions() as db:
        return [endpoint.code for endpoint in (await search_endpoints(db, query, page)).items]


# ---------------------------------------------------------------- reading files


def test_csv_with_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path / "endpoints.csv", CSV_TEXT, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_endpoint_file(path) == [
        EndpointRow("P-TANBINH", "Phường Tân Bình", "Khu vực phía Tây", "UBND phường Tân Bình"),
        EndpointRow("DK-CONDAO", "Đặc khu Côn Đảo", "Hải đảo", ""),
    ]


def test_csv_without_address_column_and_upper_case_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "ENDPOINTS.CSV", "code,name,area\nX-1,Xã Một,Miền núi\n")
    assert read_endpoint_file(path) == [EndpointRow("X-1", "Xã Một", "Miền núi", "")]


def test_names_are_stored_in_nfc(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Phường Tân Bình")
    assert decomposed != "Phường Tân Bình"
    path = write(tmp_path / "endpoints.csv", f"code,name,area\nP-1,{decomposed},\n")
    [row] = read_endpoint_file(path)
    assert row.name == "Phường Tân Bình"


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_yaml_list(tmp_path: Path, suffix: str) -> None:
    path = write(
        tmp_path / f"endpoints{suffix}",
        "- code: P-TANBINH\n"
        "  name: Phường Tân Bình\n"
        "  area: Khu vực phía Tây\n"
        "- {code: X-BINHCHANH, name: Xã Bình Chánh, address: UBND xã Bình Chánh}\n",
    )
    assert read_endpoint_file(path) == [
        EndpointRow("P-TANBINH", "Phường Tân Bình", "Khu vực phía Tây", ""),
        EndpointRow("X-BINHCHANH", "Xã Bình Chánh", "", "UBND xã Bình Chánh"),
    ]


def test_yaml_mapping_with_endpoints_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "endpoints.yaml",
        "version: 1\nendpoints:\n  - code: 101\n    name: Đặc khu Côn Đảo\n    area: Hải đảo\n",
    )
    assert read_endpoint_file(path) == [EndpointRow("101", "Đặc khu Côn Đảo", "Hải đảo", "")]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("no-code.csv", "code,name,area\n,Phường Tân Bình,\n", "row 2 needs both code and name"),
        ("no-name.csv", "code,name,area\nP-1,Phường Một,\nP-2,  ,\n", "row 3 needs both"),
        ("no-name.yaml", "- code: P-1\n", "entry 1 needs both code and name"),
        ("dup.csv", "code,name\nP-1,Một\nP-2,Hai\nP-1,Ba\nP-2,Bốn\n", "duplicate codes P-1, P-2"),
        ("dup.yaml", "- {code: A, name: Một}\n- {code: ' A ', name: Hai}\n", "duplicate codes A"),
        ("scalar.yaml", "just a string\n", "expected a list of endpoints"),
        ("empty.yaml", "", "expected a list of endpoints"),
        ("wrong-key.yaml", "points:\n  - {code: A, name: B}\n", "expected a list of endpoints"),
        ("not-mapping.yaml", "- P-1\n", "entry 1 is not a mapping"),
        ("endpoints.json", '[{"code": "P-1", "name": "Một"}]', r"use a \.csv, \.txt .* or \.yaml file"),
        ("typo.yaml", "- {code: A, name: B, adress: C}\n", "entry 1: unknown column 'adress'"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(EndpointFileError, match=message):
        read_endpoint_file(path)


EXCEL_TEXT = CSV_TEXT.replace("\n", "\r\n")


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8-sig", EXCEL_TEXT),  # "CSV UTF-8 (Comma delimited)"
        ("utf-8-sig", EXCEL_TEXT.replace(",", ";")),  # Vietnamese regional settings: ";"
        ("utf-16", EXCEL_TEXT.replace(",", "\t")),  # "Unicode Text"
        # Column names in any case, a blank row, a row of empty cells
        ("utf-8", "Code, NAME ,Area,Address\r\n\r\n" + EXCEL_TEXT.split("\r\n", 1)[1] + ",,,\r\n"),
    ],
)
def test_csv_as_excel_saves_it(tmp_path: Path, encoding: str, text: str) -> None:
    path = write(tmp_path / "endpoints.csv", text, encoding=encoding)
    assert read_endpoint_file(path) == [
        EndpointRow("P-TANBINH", "Phường Tân Bình", "Khu vực phía Tây", "UBND phường Tân Bình"),
        EndpointRow("DK-CONDAO", "Đặc khu Côn Đảo", "Hải đảo", ""),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "row 1 must be the header code,name,area,address,old_names; missing: code, name"),
        ("code,area\nP-1,Bắc\n", "missing: name"),
        ("code,name\n", "no endpoints in the file"),
        ("code,name\n\n\nP-1,\n", "row 4 needs both code and name"),
        (f"code,name\nP-1,{'Xã ' * 100}\n", "row 2: name is 299 characters long, at most 200"),
        (f"code,name\n{'P' * 33},Một\n", "row 2: code is 33 characters long, at most 32"),
        ("code,name,area,address\nP-1,Một,Bắc,1 Lê Duẩn, phường Sài Gòn\n", "row 2: 5 values but the header"),
    ],
)
def test_bad_csv_names_the_row(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EndpointFileError, match=message):
        read_endpoint_file(write(tmp_path / "endpoints.csv", text))


def test_csv_not_in_utf8_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.csv"
    path.write_bytes("code,name\r\nP-1,Đông Hà\r\n".encode("cp1258"))  # Excel's plain "CSV"
    with pytest.raises(EndpointFileError, match=r"row 2 is not UTF-8 text; in Excel save the file as"):
        read_endpoint_file(path)


# ---------------------------------------------------------------- upsert


async def test_upsert_adds_then_updates_by_code(app: App) -> None:
    first = [
        EndpointRow("P-TANBINH", "Phường Tân Bình", "Khu vực phía Tây", "UBND phường"),
        EndpointRow("X-BINHCHANH", "Xã Bình Chánh", "Khu vực phía Nam"),
    ]
    async with app.sessions() as db, db.begin():
        assert await upsert_endpoints(db, first) == (2, 0)

    second = [
        EndpointRow("P-TANBINH", "Phường Tân Bình Mới", "Khu vực trung tâm", "Số 1 Lê Lợi"),
        EndpointRow("DK-CONDAO", "Đặc khu Côn Đảo", "Hải đảo"),
    ]
    async with app.sessions() as db, db.begin():
        await db.execute(update(Endpoint).where(Endpoint.code == "P-TANBINH").values(active=False))
        assert await upsert_endpoints(db, second) == (1, 1)
    async with app.sessions() as db, db.begin():
        assert await upsert_endpoints(db, []) == (0, 0)

    async with app.sessions() as db:
        stored = {e.code: e for e in await db.scalars(select(Endpoint))}
    assert set(stored) == {"P-TANBINH", "X-BINHCHANH", "DK-CONDAO"}
    updated = stored["P-TANBINH"]
    assert (updated.name, updated.area, updated.address) == (
        "Phường Tân Bình Mới",
        "Khu vực trung tâm",
        "Số 1 Lê Lợi",
    )
    assert not updated.active  # an admin's deactivation outlives the next import
    assert updated.search_name == "phuong tan binh moi khu vuc trung tam"
    assert stored["DK-CONDAO"].search_name == "dac khu con dao hai dao"
    assert stored["X-BINHCHANH"].name == "Xã Bình Chánh"  # not in the file: untouched
    # Search follows the new name; the old area is gone.
    async with app.sessions() as db, db.begin():
        await db.execute(update(Endpoint).where(Endpoint.code == "P-TANBINH").values(active=True))
    assert await codes_found(app, "trung tam") == ["P-TANBINH"]
    assert await codes_found(app, "phia tay") == []


# ---------------------------------------------------------------- search


@pytest.mark.parametrize("query", ["tan binh", "TAN BINH", "tân bình", "Tân  Bình", "  tÂn BìNh "])
async def test_search_ignores_case_and_diacritics(app: App, world: World, query: str) -> None:
    assert await codes_found(app, query) == ["P-TANBINH"]


@pytest.mark.parametrize("query", ["dac khu", "Đặc khu", "ĐẶC KHU", "con dao", "côn đảo", "hai dao"])
async def test_search_finds_special_zone(app: App, world: World, query: str) -> None:
    assert await codes_found(app, query) == ["DK-CONDAO"]


async def test_search_matches_every_word(app: App, world: World) -> None:
    assert await codes_found(app, "binh") == ["P-TANBINH", "X-BINHCHANH"]
    assert await codes_found(app, "binh chanh") == ["X-BINHCHANH"]
    assert await codes_found(app, "chanh binh") == ["X-BINHCHANH"]  # any order
    assert await codes_found(app, "binh tay") == ["P-TANBINH"]  # name and area together
    assert await codes_found(app, "tan binh chanh") == []
    assert await codes_found(app, "không có nơi này") == []


async def test_search_escapes_like_wildcards(app: App, world: World) -> None:
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(
            db,
            [
                EndpointRow("X-PCT", "Phòng họp 100% trực tuyến"),
                EndpointRow("X-AB", "Điểm cầu A_B"),
                EndpointRow("X-AXB", "Điểm cầu AxB"),
                EndpointRow("X-SLASH", "Khu phố 12/3"),
            ],
        )
    assert await codes_found(app, "%") == ["X-PCT"]
    assert await codes_found(app, "100%") == ["X-PCT"]
    assert await codes_found(app, "_") == ["X-AB"]
    assert await codes_found(app, "a_b") == ["X-AB"]
    assert await codes_found(app, "a%b") == []
    assert await codes_found(app, "/") == ["X-SLASH"]  # SQLAlchemy's escape character
    assert await codes_found(app, "12/3") == ["X-SLASH"]
    assert await codes_found(app, "\\") == []


async def test_search_skips_inactive_endpoints(app: App, world: World) -> None:
    async with app.sessions() as db, db.begin():
        await db.execute(update(Endpoint).where(Endpoint.code == "P-TANBINH").values(active=False))
    assert await codes_found(app, "binh") == ["X-BINHCHANH"]


async def test_search_follows_a_change_made_here_once_it_is_committed(app: App, world: World) -> None:
    """Searches read a catalog kept in memory: a change through storage drops it when it
    is made (this transaction reads its own change) and again when it ends."""
    tanbinh = world.endpoint_ids["P-TANBINH"]
    assert await codes_found(app, "binh") == ["P-TANBINH", "X-BINHCHANH"]

    class Undone(Exception):
        pass

    with pytest.raises(Undone):
        async with app.sessions() as db, db.begin():
            await set_active(db, tanbinh, active=False)
            found = await search_endpoints(db, "binh")
            assert [e.code for e in found.items] == ["X-BINHCHANH"]
            raise Undone  # rolled back: nothing was stopped
    assert await codes_found(app, "binh") == ["P-TANBINH", "X-BINHCHANH"]

    async with app.sessions() as db, db.begin():
        await set_active(db, tanbinh, active=False)
    assert await codes_found(app, "binh") == ["X-BINHCHANH"]
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, [EndpointRow("P-MOI", "Phường Bình Mới")])
    assert await codes_found(app, "binh") == ["P-MOI", "X-BINHCHANH"]


async def test_search_pages(app: App, world: World) -> None:
    # "so" is in the ten "Phường Số n" only. Pages cut the one ordered list (ordered by
    # the folded name, as the database collates it).
    async with app.sessions() as db:
        whole = await search_endpoints(db, "so", page_size=100)
        expected_codes = [e.code for e in whole.items]
        first = await search_endpoints(db, "so")
        second = await search_endpoints(db, "so", page=1)
        beyond = await search_endpoints(db, "so", page=7)
        before = await search_endpoints(db, "so", page=-2)
        everything = await search_endpoints(db, "")
        nothing = await search_endpoints(db, "zzz", page=3)
        small = await search_endpoints(db, "phuong", page=2, page_size=5)

    assert sorted(expected_codes) == [f"P-{n:02d}" for n in range(1, 11)]
    assert (whole.total, whole.pages, whole.page) == (10, 1, 0)
    assert (first.total, first.pages, first.page) == (10, 2, 0)
    assert [e.code for e in first.items] == expected_codes[:6]
    assert (second.page, [e.code for e in second.items]) == (1, expected_codes[6:])
    assert (beyond.page, [e.code for e in beyond.items]) == (1, expected_codes[6:])
    assert (before.page, [e.code for e in before.items]) == (0, expected_codes[:6])
    assert (everything.total, everything.pages, len(everything.items)) == (13, 3, 6)
    assert (nothing.total, nothing.pages, nothing.page, nothing.items) == (0, 1, 0, [])
    # Eleven wards ("Phường Tân Bình" too), five a page: the third page holds one.
    assert (small.total, small.pages, small.page, len(small.items)) == (11, 3, 2, 1)


# ---------------------------------------------------------------- the CLI


@pytest.fixture
def cli_database(sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite file that `tiepdan` finds through DATABASE_URL."""
    path = tmp_path / "cli.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def stored_endpoints(url: str) -> dict[str, str]:
    from storage.db import create_engine, session_factory

    async def read() -> dict[str, str]:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as db:
                return {e.code: e.name for e in await db.scalars(select(Endpoint))}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_cli_imports_endpoints(cli_database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "endpoints.csv", CSV_TEXT, encoding="utf-8-sig")
    assert cli.main(["endpoints", "import", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "endpoints: 2 added, 0 updated"
    assert stored_endpoints(cli_database) == {
        "P-TANBINH": "Phường Tân Bình",
        "DK-CONDAO": "Đặc khu Côn Đảo",
    }

    yaml_path = write(
        tmp_path / "more.yaml",
        "endpoints:\n"
        "  - {code: P-TANBINH, name: Phường Tân Bình (mới)}\n"
        "  - {code: X-BINHCHANH, name: Xã Bình Chánh}\n",
    )
    assert cli.main(["endpoints", "import", str(yaml_path)]) == 0
    assert capsys.readouterr().out.strip() == "endpoints: 1 added, 1 updated"
    assert stored_endpoints(cli_database)["P-TANBINH"] == "Phường Tân Bình (mới)"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("dup.csv", "code,name\nP-1,Một\nP-1,Hai\n"),
        ("endpoints.json", '[{"code": "P-1", "name": "Một"}]'),
        ("missing.csv", None),
    ],
)
def test_cli_refuses_bad_files(
    cli_database: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str | None,
) -> None:
    path = tmp_path / name
    if text is not None:
        write(path, text)
    assert cli.main(["endpoints", "import", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("cannot import:") and name in captured.err
    assert stored_endpoints(cli_database) == {}


# ---------------------------------------------------------------- finding one's commune (issue 10, item 17)


@pytest.mark.parametrize(
    ("query", "code"),
    [("tan bihn", "P-TANBINH"), ("cuchi", "X-CUCHI"), ("Củ Chi", "X-CUCHI"), ("con daoo", "DK-CONDAO")],
)
async def test_search_tolerates_typos(app: App, world: World, query: str, code: str) -> None:
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, [EndpointRow("X-CUCHI", "Xã Củ Chi", "Khu vực phía Bắc")])
    assert (await codes_found(app, query))[0] == code


async def test_typos_do_not_find_what_is_not_there(app: App, world: World) -> None:
    assert await codes_found(app, "tan binh chanh") == []  # "tan" is no typo of another word
    assert await codes_found(app, "hà nội") == []


async def test_search_finds_old_names(app: App, world: World, tmp_path: Path) -> None:
    path = write(
        tmp_path / "endpoints.csv",
        "code,name,area,old_names\n"
        'P-TANSONHOA,Phường Tân Sơn Hòa,Khu vực phía Tây,"Phường 1, quận Tân Bình; Phường 2; Phường 3"\n',
    )
    [row] = read_endpoint_file(path)
    assert row.old_names == "Phường 1, quận Tân Bình; Phường 2; Phường 3"
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, [row])
    assert await codes_found(app, "quan tan binh") == ["P-TANSONHOA"]
    assert "P-TANSONHOA" in await codes_found(app, "phuong 3")
    assert await codes_found(app, "tan son hoa") == ["P-TANSONHOA"]
    yaml_path = write(
        tmp_path / "endpoints.yaml", "- {code: X-1, name: Xã Một, old_names: [Xã Hai, Xã Ba Xuân]}\n"
    )
    assert read_endpoint_file(yaml_path)[0].old_names == "Xã Hai; Xã Ba Xuân"


def test_an_unknown_column_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "endpoints.csv", "code,name,adress,ghi chú\nP-1,Một,1 Lê Lợi,\n")
    with pytest.raises(EndpointFileError, match=r"row 1: unknown column 'adress', 'ghi chú' \(known: code"):
        read_endpoint_file(path)


def test_vietnamese_headers_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "endpoints.csv", "Mã,Tên,Khu vực,Địa chỉ,Tên cũ\nP-1,Phường Một,Bắc,1 Lê Lợi,Xã Hai\n"
    )
    assert read_endpoint_file(path) == [EndpointRow("P-1", "Phường Một", "Bắc", "1 Lê Lợi", "Xã Hai")]


def test_excel_unicode_text_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode Text" is UTF-16 with tabs, and Excel names it .txt."""
    path = write(tmp_path / "endpoints.txt", EXCEL_TEXT.replace(",", "\t"), encoding="utf-16")
    assert read_endpoint_file(path) == [
        EndpointRow("P-TANBINH", "Phường Tân Bình", "Khu vực phía Tây", "UBND phường Tân Bình"),
        EndpointRow("DK-CONDAO", "Đặc khu Côn Đảo", "Hải đảo", ""),
    ]
