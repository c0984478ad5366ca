"""The reception book (Form 03) for the Standing Committee: read from real registrations, opened back."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import docx
import openpyxl
import pytest
from docx.enum.section import WD_ORIENT
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.export_cells import sheet_titles
from bot.exports import export_filename, stats_table, to_csv, to_docx, to_xlsx
from bot.i18n import Translator
from bot.reception_book import BookRow, EndpointBook, ReceptionBook, reception_book
from storage.citizens import anonymise
from storage.identity import UserKey
from storage.models import AuditEntry, CaseType, Citizen, SignUp, SignUpStatus, StaffRole, Submission
from storage.reception_book import mask_id_number, registration_stats
from storage.review import decide, record_outcome
from storage.staff import Actor
from tests.conftest import VN, World, local
from tests.flows import SUMMARY, consent, fill_until_review, register
from tests.support import ChatUser

VI, EN = Translator("vi", VN), Translator("en", VN)
ADMIN = Actor(UserKey("telegram", "900"), StaffRole.ADMIN, None, True)
HEADERS = [
    "Số TT",
    "Ngày tiếp",
    "Họ tên, địa chỉ",
    "Số CCCD",
    "Nội dung vụ việc",
    "Phân loại vụ việc, số người",
    "Cơ quan đã giải quyết",
    "Hướng xử lý (thụ lý / trả lại, hướng dẫn / chuyển đơn)",
    "Theo dõi kết quả giải quyết",
    "Ghi chú",
]
DENOUNCER = "Trần Thị Bình"
MASKED_DENOUNCER = "T*** T** B***"
MASKED_ID = "*********234"
HIDDEN = "(Được giữ bí mật theo Luật Tố cáo)"
# The file builders are pure: reading the book is tested on both engines, the files on one.
ONE_ENGINE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Booked:
    world: World
    denunciation_id: int


async def user(app: App, user_id: str) -> ChatUser:
    chat = ChatUser(app.dialog, user_id=user_id)
    await consent(chat)
    return chat


@pytest.fixture
async def booked(app: App, world: World, clock: FrozenClock) -> Booked:
    """Tân Bình (2 seats): a complaint, a denunciation, one waitlisted; Bình Chánh: a group of 7
    and a cancelled one; Côn Đảo: one in January."""
    await register(await user(app, "1"), name="nguyễn văn an")
    clock.advance(timedelta(hours=1))
    await register(await user(app, "2"), case_type="denunciation", name="trần thị bình")
    clock.advance(timedelta(hours=1))
    await register(await user(app, "3"), name="lê văn cường", case_type="petition")
    group = await user(app, "4")
    await fill_until_review(group, endpoint="binh chanh", group="7", name="phạm văn dũng")
    await group.say("Lê Văn Một\nLê Văn Hai")
    await group.press("confirm")
    leaving = await user(app, "5")
    await register(leaving, endpoint="binh chanh", name="hoàng văn em")
    await leaving.press("mine")
    await leaving.press("r:")
    await leaving.press("cancel")
    await leaving.press("yes")
    await register(await user(app, "6"), endpoint="con dao", session="11/01/2027", name="võ thị giang")

    async with app.sessions() as db, db.begin():
        first = await db.scalar(select(SignUp).where(SignUp.code == "TCD-2026-000001"))
        assert first is not None
        await decide(db, first.id, "forward", actor=ADMIN, now=clock.now(), agency="UBND tỉnh")
        await record_outcome(db, first.id, "Đã giải quyết xong", actor=ADMIN, now=clock.now())
        denunciation = await db.scalar(
            select(Submission.sign_up_id).where(Submission.case_type == CaseType.DENUNCIATION)
        )
        assert denunciation is not None
    return Booked(world, denunciation)


async def read_book(
    app: App,
    world: World,
    *,
    endpoints: set[str] | None = None,
    reveal: bool = False,
    t: Translator = VI,
) -> ReceptionBook:
    scope = None if endpoints is None else frozenset(world.endpoint_ids[code] for code in endpoints)
    async with app.sessions() as db, db.begin():
        return await reception_book(
            db,
            world.first_id,
            endpoint_ids=scope,
            reveal_denouncers=reveal,
            actor="telegram:900",
            now=app.clock.now(),
            t=t,
        )


async def denouncer_views(app: App) -> list[AuditEntry]:
    async with app.sessions() as db:
        return list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "denouncer.view")))


def header_row(sheet: Worksheet) -> int:
    return next(int(cell.row) for cell in sheet["A"] if cell.value == "Số TT")


def sheet_text(sheet: Worksheet) -> str:
    return "\n".join(str(value) for row in sheet.iter_rows(values_only=True) for value in row if value)


# --- the book ------------------------------------------------------------------------------


async def test_the_book_lists_active_registrations_per_endpoint_with_denouncers_masked(
    app: App, booked: Booked
) -> None:
    book = await read_book(app, booked.world)
    assert book.session_title == "Tiếp công dân tháng 12" and book.starts_at == booked.world.first_start
    assert [e.endpoint_name for e in book.endpoints] == ["Phường Tân Bình", "Xã Bình Chánh"]
    tan_binh, binh_chanh = book.endpoints
    assert [row.number for row in tan_binh.rows] == [1, 2, 3]
    assert [row.code for row in tan_binh.rows] == ["TCD-2026-000001", "TCD-2026-000002", "TCD-2026-000003"]
    assert [row.status for row in tan_binh.rows] == ["confirmed", "confirmed", "waitlisted"]

    an, denouncer, cuong = tan_binh.rows
    assert an.name_and_address == "Nguyễn Văn An\n12 Lý Thường Kiệt, phường Tân Bình"
    assert an.id_number == "079203001234" and an.content == SUMMARY
    assert an.classification == "Khiếu nại — Đất đai" and an.people == 1
    assert an.handling_route == "Chuyển đến UBND tỉnh" and an.follow_up == "Đã giải quyết xong"
    assert an.date.strftime("%d/%m/%Y %H:%M") == "23/11/2026 09:00"
    assert denouncer.name_and_address == f"{MASKED_DENOUNCER}\n{HIDDEN}"
    assert denouncer.id_number == MASKED_ID and denouncer.classification == "Tố cáo — Đất đai"
    assert cuong.classification == "Kiến nghị — Đất đai" and cuong.handling_route == ""
    assert book.masked == 1 and book.row_count == 4
    assert await denouncer_views(app) == []  # nothing revealed, nothing logged

    [group] = binh_chanh.rows  # the cancelled registration is left out
    assert group.number == 1 and group.people == 7
    assert group.notes == "Người đại diện: Lê Văn Một, Lê Văn Hai"

    english = (await read_book(app, booked.world, t=EN)).endpoints[0].rows
    assert (
        english[0].classification == "Complaint — Land"
        and english[0].handling_route == "Forwarded to UBND tỉnh"
    )
    assert english[1].name_and_address.endswith("(Kept confidential under the Law on Denunciation)")


async def test_a_scoped_officer_gets_their_endpoints_and_revealing_is_logged(
    app: App, booked: Booked
) -> None:
    scoped = await read_book(app, booked.world, endpoints={"X-BINHCHANH", "DK-CONDAO"})
    assert [e.endpoint_name for e in scoped.endpoints] == ["Xã Bình Chánh"]  # Côn Đảo: nobody in December
    assert [row.number for row in scoped.endpoints[0].rows] == [1]
    assert (await read_book(app, booked.world, endpoints={"DK-CONDAO"})).endpoints == []

    book = await read_book(app, booked.world, reveal=True)
    denouncer = book.endpoints[0].rows[1]
    assert denouncer.name_and_address.startswith(DENOUNCER) and denouncer.id_number == "079203001234"
    assert book.masked == 0
    [view] = await denouncer_views(app)
    assert (view.actor, view.target_type, view.target_id) == (
        "telegram:900",
        "registration",
        str(booked.denunciation_id),
    )
    assert view.details == {"via": "export"}
    # Outside the officer's scope nothing is revealed, so nothing more is logged.
    await read_book(app, booked.world, endpoints={"X-BINHCHANH"}, reveal=True)
    assert len(await denouncer_views(app)) == 1


async def test_an_anonymised_citizen_is_a_row_that_says_so(
    app: App, booked: Booked, clock: FrozenClock
) -> None:
    """After the session, the complainant and the denouncer delete their data: their rows stay
    (the book keeps its count) and say why they are empty; revealing nothing logs nothing."""
    clock.set(booked.world.first_start + timedelta(days=1))
    async with app.sessions() as db, db.begin():
        for user_id in ("1", "2"):
            citizen = await db.scalar(select(Citizen).where(Citizen.channel_user_id == user_id))
            assert citizen is not None
            await anonymise(db, citizen, now=clock.now())
    book = await read_book(app, booked.world, reveal=True)
    an, denouncer, _ = book.endpoints[0].rows
    for row in (an, denouncer):
        assert (row.name_and_address, row.id_number, row.content) == ("(Dữ liệu cá nhân đã được xóa)", "", "")
    assert book.masked == 0 and await denouncer_views(app) == []
    masked = await read_book(app, booked.world)
    assert (
        masked.endpoints[0].rows[1].name_and_address == "(Dữ liệu cá nhân đã được xóa)" and masked.masked == 0
    )


# --- the files, opened back ------------------------------------------------------------------


@ONE_ENGINE
async def test_xlsx_follows_form_03(app: App, booked: Booked) -> None:
    book = await read_book(app, booked.world)
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(book, VI)))
    assert workbook.sheetnames == ["Phường Tân Bình", "Xã Bình Chánh"]
    sheet = workbook["Phường Tân Bình"]
    text = sheet_text(sheet)
    for heading in (
        "ĐOÀN ĐBQH VÀ HĐND TỈNH",
        "VĂN PHÒNG",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "SỔ TIẾP CÔNG DÂN",
        "Buổi tiếp công dân: Tiếp công dân tháng 12",
        "Thời gian: Thứ Hai, 07/12/2026 08:00",
        "Điểm cầu: Phường Tân Bình",
    ):
        assert heading in text
    top = header_row(sheet)
    assert [cell.value for cell in sheet[top]] == HEADERS
    assert all(cell.font.b and cell.border.left.style == "thin" for cell in sheet[top])
    assert sheet.freeze_panes == f"A{top + 1}"
    assert (
        sheet.max_row - top == 3
        and workbook["Xã Bình Chánh"].max_row - header_row(workbook["Xã Bình Chánh"]) == 1
    )
    assert sheet.column_dimensions["E"].width == 50  # the case content gets room

    an, denouncer, waiting = (list(row) for row in sheet.iter_rows(min_row=top + 1))
    assert all(cell.alignment.wrap_text for cell in an)
    assert an[0].value == 1 and an[1].number_format == "DD/MM/YYYY"
    assert an[1].value == datetime(2026, 11, 23)  # a real date, so the column sorts
    assert str(an[2].value).startswith("Nguyễn Văn An\n") and an[3].value == "079203001234"
    assert an[5].value == "Khiếu nại — Đất đai\nSố người: 1"
    assert an[7].value == "Chuyển đến UBND tỉnh" and an[8].value == "Đã giải quyết xong"
    assert denouncer[2].value == f"{MASKED_DENOUNCER}\n{HIDDEN}" and denouncer[3].value == MASKED_ID
    assert DENOUNCER not in text
    assert waiting[9].value == "Mã đăng ký: TCD-2026-000003\nTrong danh sách chờ"

    revealed = openpyxl.load_workbook(
        io.BytesIO(to_xlsx(await read_book(app, booked.world, reveal=True), VI))
    )
    assert DENOUNCER in sheet_text(revealed["Phường Tân Bình"])


@ONE_ENGINE
async def test_docx_is_a4_landscape_with_the_official_heading(app: App, booked: Booked) -> None:
    document = docx.Document(io.BytesIO(to_docx(await read_book(app, booked.world), VI)))
    [section] = document.sections
    assert section.orientation == WD_ORIENT.LANDSCAPE
    assert section.page_width is not None and section.page_height is not None
    assert section.page_width > section.page_height
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (297, 210)  # A4

    heading, tan_binh, binh_chanh = document.tables
    left, right = heading.rows[0].cells
    assert left.text == "ĐOÀN ĐBQH VÀ HĐND TỈNH\nVĂN PHÒNG"
    assert right.text == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"
    paragraphs = [p.text for p in document.paragraphs]
    for line in ("SỔ TIẾP CÔNG DÂN", "Điểm cầu: Phường Tân Bình", "Điểm cầu: Xã Bình Chánh"):
        assert line in paragraphs

    assert [cell.text for cell in tan_binh.rows[0].cells] == HEADERS
    assert (len(tan_binh.rows), len(binh_chanh.rows)) == (1 + 3, 1 + 1)
    assert tan_binh.rows[0]._tr.xpath("./w:trPr/w:tblHeader")  # repeated on every page
    assert tan_binh.rows[1].cells[2].text == "Nguyễn Văn An\n12 Lý Thường Kiệt, phường Tân Bình"
    assert tan_binh.rows[2].cells[2].text == f"{MASKED_DENOUNCER}\n{HIDDEN}"
    assert tan_binh.rows[2].cells[3].text == MASKED_ID
    assert binh_chanh.rows[1].cells[5].text == "Khiếu nại — Đất đai\nSố người: 7"
    assert document.styles["Normal"].font.name == "Times New Roman"
    assert DENOUNCER not in "\n".join(cell.text for table in document.tables for cell in table._cells)


@ONE_ENGINE
async def test_csv_opens_in_excel_with_vietnamese_intact(app: App, booked: Booked) -> None:
    data = to_csv(await read_book(app, booked.world), VI)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    header, *rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header == ["Điểm cầu", *HEADERS]
    assert [(row[0], row[1]) for row in rows] == [
        ("Phường Tân Bình", "1"),
        ("Phường Tân Bình", "2"),
        ("Phường Tân Bình", "3"),
        ("Xã Bình Chánh", "1"),
    ]
    assert rows[0][2] == "23/11/2026" and rows[0][3].startswith("Nguyễn Văn An\n")
    assert rows[1][3] == f"{MASKED_DENOUNCER}\n{HIDDEN}" and rows[1][4] == MASKED_ID
    assert rows[3][10].endswith("Người đại diện: Lê Văn Một, Lê Văn Hai")


# --- stats -----------------------------------------------------------------------------------


async def test_stats_count_active_registrations_by_session_start(app: App, booked: Booked) -> None:
    world = booked.world
    december, january = (
        (local(2026, 12, 1, 0), local(2027, 1, 1, 0)),
        (local(2027, 1, 1, 0), local(2027, 2, 1, 0)),
    )
    async with app.sessions() as db:
        month = await registration_stats(db, since=december[0], until=december[1], endpoint_ids=None)
        both = await registration_stats(db, since=december[0], until=january[1], endpoint_ids=None)
        scoped = await registration_stats(
            db, since=december[0], until=january[1], endpoint_ids=frozenset({world.endpoint_ids["DK-CONDAO"]})
        )
        quiet = await registration_stats(
            db, since=january[1], until=january[1] + timedelta(days=30), endpoint_ids=None
        )

    assert month.total == 4  # the cancelled one is not counted, January's is not yet
    assert month.by_endpoint == [("Phường Tân Bình", 3), ("Xã Bình Chánh", 1)]
    assert month.by_case_type == [
        (CaseType.COMPLAINT, 2),
        (CaseType.DENUNCIATION, 1),
        (CaseType.PETITION, 1),
    ]
    assert month.by_field == [("land", 4)]
    assert both.total == 5 and ("Đặc khu Côn Đảo", 1) in both.by_endpoint
    assert scoped.total == 1 and scoped.by_endpoint == [("Đặc khu Côn Đảo", 1)]

    table = stats_table(month, VI)
    assert table.splitlines()[:3] == [
        "THỐNG KÊ ĐĂNG KÝ TIẾP CÔNG DÂN",
        "Các buổi tiếp từ 01/12/2026 đến 31/12/2026",
        "Tổng số đăng ký: 4",
    ]
    for line in ("Phường Tân Bình: 3", "Xã Bình Chánh: 1", "Khiếu nại: 2", "Tố cáo: 1", "Đất đai: 4"):
        assert line in table.splitlines()
    assert quiet.total == 0
    assert stats_table(quiet, VI).endswith("Không có đăng ký nào trong thời gian này.")
    assert "By endpoint:" in stats_table(month, EN)


# --- pure helpers ----------------------------------------------------------------------------


def test_sheet_titles_keep_excels_rules() -> None:
    titles = sheet_titles(["Phường [Tân Bình]: khu 1/2", "A" * 40, "a" * 40, "Xã Bình Chánh", "'"])
    assert titles[0] == "Phường  Tân Bình   khu 1 2"
    assert titles[1] == "A" * 31 and titles[2] == "a" * 27 + " (2)"
    assert titles[3] == "Xã Bình Chánh" and titles[4] == "Sheet"
    assert all(len(title) <= 31 for title in titles)
    assert len({title.casefold() for title in titles}) == len(titles)


def test_an_empty_book_still_makes_valid_files() -> None:
    empty = ReceptionBook("Tiếp công dân tháng 12", local(2026, 12, 7).astimezone(VN), "", [], 0)
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(empty, VI)))
    assert workbook.sheetnames == ["SỔ TIẾP CÔNG DÂN"]
    assert "Không có công dân đăng ký." in sheet_text(workbook["SỔ TIẾP CÔNG DÂN"])
    document = docx.Document(io.BytesIO(to_docx(empty, VI)))
    assert "Không có công dân đăng ký." in [p.text for p in document.paragraphs]
    [header] = list(csv.reader(io.StringIO(to_csv(empty, EN).decode("utf-8-sig"))))
    assert header[:3] == ["Endpoint", "No.", "Date received"] and len(header) == 11


def test_a_summary_cannot_smuggle_a_formula_into_a_spreadsheet() -> None:
    formula = '=HYPERLINK("http://evil.example","Bấm vào đây")'
    row = BookRow(
        number=1,
        date=local(2026, 11, 23),
        name_and_address="Nguyễn Văn An",
        id_number="079203001234",
        content=formula,
        classification="Khiếu nại — Đất đai",
        people=1,
        prior_agency="-",
        handling_route="",
        follow_up="",
        notes="",
        code="TCD-2026-000001",
        status=SignUpStatus.CONFIRMED,
    )
    book = ReceptionBook(
        "x", local(2026, 12, 7).astimezone(VN), "", [EndpointBook("Phường Tân Bình", [row])], 0
    )
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(book, VI)))["Phường Tân Bình"]
    content = sheet.cell(row=header_row(sheet) + 1, column=5)
    assert (content.value, content.data_type) == (formula, "s")
    [_, line] = list(csv.reader(io.StringIO(to_csv(book, VI).decode("utf-8-sig"))))
    assert line[5] == "'" + formula and line[7] == "'-"


def test_masks_and_file_names() -> None:
    assert mask_id_number("079203001234") == MASKED_ID
    assert mask_id_number("12") == "**" and mask_id_number("") == ""
    late = ReceptionBook("x", local(2026, 12, 7, 6, 30).astimezone(VN), "", [], 0)  # 6 Dec 23:30 UTC
    assert export_filename(late, "xlsx") == "so-tiep-cong-dan-2026-12-07.xlsx"
    assert export_filename(late, "csv") == "so-tiep-cong-dan-2026-12-07.csv"
    with pytest.raises(ValueError):
        export_filename(late, "xlsx/../../etc")
