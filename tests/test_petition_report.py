"""The compiled report of a voter-contact round (Báo cáo tổng hợp ý kiến, kiến nghị cử tri),
opened with python-docx and openpyxl: the groups by level and field, the counts, the marks of
written petitions from communes not connected, the attendance per endpoint; /report ID and
/stats ID for staff, by scope and with the denouncer rules."""

from __future__ import annotations

import io
from dataclasses import dataclass

import docx
import openpyxl
from sqlalchemy import select

from bot.app import App
from bot.dialog.types import Reply
from storage.endpoints import EndpointRow, upsert_endpoints
from storage.models import (
    AnswerLevel,
    AuditEntry,
    CaseType,
    Citizen,
    Endpoint,
    Event,
    EventEndpoint,
    EventKind,
    SignUp,
    SignUpStatus,
    StaffMember,
    StaffRole,
    Submission,
    SubmissionKind,
    SubmissionStatus,
)
from storage.sessions import create_session
from tests.conftest import ADMIN_ID, local
from tests.support import ChatUser

ENDPOINTS = [
    EndpointRow("P-TANBINH", "Phường Tân Bình", "Khu vực phía Tây", "UBND phường Tân Bình"),
    EndpointRow("X-BINHCHANH", "Xã Bình Chánh", "Khu vực phía Nam", "UBND xã Bình Chánh"),
    EndpointRow("DK-CONDAO", "Đặc khu Côn Đảo", "Hải đảo", "UBND đặc khu Côn Đảo"),
]
TITLE = "Tiếp xúc cử tri trước Kỳ họp thứ Năm"
FIRST_START = local(2026, 12, 3, 8, 0)  # Phường Tân Bình
SECOND_START = local(2026, 12, 4, 14, 0)  # Xã Bình Chánh meets the next afternoon
OFFICER_TANBINH = "700"
OFFICER_ALL = "701"


@dataclass
class Round:
    event_id: int
    endpoint_ids: dict[str, int]
    petition_ids: dict[str, int]


async def voter_round(app: App) -> Round:
    """A round at Tân Bình (3/12) and Bình Chánh (4/12); Côn Đảo is not connected.

    Sign-ups: Tân Bình one of 2 seats; Bình Chánh one confirmed and one waitlisted.
    Petitions: `land` (province, land) from Tân Bình, with `merged_bc` (Bình Chánh) and
    `merged_cd` (written, Côn Đảo) merged into it: 3 voters; `written` from Côn Đảo, not
    classified; `denounce` (central, health), a denunciation from Bình Chánh, answered;
    `withdrawn` (commune, transport), not counted.
    """
    now = app.clock.now()
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, ENDPOINTS)
        endpoints = {e.code: e for e in await db.scalars(select(Endpoint))}
        event = Event(
            kind=EventKind.VOTER_MEETING,
            title=TITLE,
            host="Tổ đại biểu Quốc hội số 1",
            starts_at=FIRST_START,
            online_room="https://meet.example/txct",
            created_at=now,
            endpoints=[
                EventEndpoint(endpoint_id=endpoints["P-TANBINH"].id, capacity=30, seats_taken=2),
                EventEndpoint(
                    endpoint_id=endpoints["X-BINHCHANH"].id,
                    capacity=30,
                    seats_taken=1,
                    starts_at=SECOND_START,
                ),
            ],
        )
        db.add(event)
        citizens = [Citizen(channel="test", channel_user_id=f"20{n}", created_at=now) for n in range(6)]
        db.add_all(citizens)
        await db.flush()
        links = {link.endpoint_id: link.id for link in event.endpoints}

        def sign_up(citizen: Citizen, code: str, status: SignUpStatus, seats: int = 1) -> SignUp:
            row = SignUp(
                code=f"KNCT-2026-{citizen.id:06d}",
                citizen_id=citizen.id,
                session_id=event.id,
                session_endpoint_id=links[endpoints[code].id],
                status=status,
                seats=seats,
                created_at=now,
                updated_at=now,
                queued_at=now,
            )
            db.add(row)
            return row

        tanbinh = sign_up(citizens[0], "P-TANBINH", SignUpStatus.CONFIRMED, seats=2)
        binhchanh = sign_up(citizens[1], "X-BINHCHANH", SignUpStatus.CONFIRMED)
        sign_up(citizens[2], "X-BINHCHANH", SignUpStatus.WAITLISTED)
        await db.flush()

        def petition(key: str, commune: str, **values: object) -> Submission:
            row = Submission(
                kind=SubmissionKind.PETITION,
                event_id=event.id,
                citizen_id=citizens[len(key) % 6].id,
                endpoint_id=endpoints[commune].id,
                code=f"KNCT-P-{key}",
                full_name="Nguyễn Văn An",
                phone="+84903123456",
                address=f"Thôn 1, {endpoints[commune].name}",
                case_type=CaseType.PETITION,
                field="land",
                summary=f"Kiến nghị {key}",
                created_at=now,
                updated_at=now,
            )
            for name, value in values.items():
                setattr(row, name, value)
            if row.level is not None:  # staff classified it (field and level checked)
                row.reviewed_at, row.reviewed_by = now, "telegram:9000"
            db.add(row)
            return row

        land = petition(
            "land",
            "P-TANBINH",
            sign_up_id=tanbinh.id,
            level=AnswerLevel.PROVINCE,
            voters=3,
            summary="Đề nghị sớm cấp giấy chứng nhận quyền sử dụng đất cho các hộ dân khu phố 3",
            forwarded_to="Sở Nông nghiệp và Môi trường",
        )
        written = petition("written", "DK-CONDAO", field="", summary="=Đề nghị nâng cấp cảng cá Bến Đầm")
        denounce = petition(
            "denounce",
            "X-BINHCHANH",
            sign_up_id=binhchanh.id,
            level=AnswerLevel.CENTRAL,
            field="health",
            case_type=CaseType.DENUNCIATION,
            full_name="Trần Thị Bình",
            summary="Tố cáo việc thu tiền khám chữa bệnh sai quy định",
            outcome="Bộ Y tế đã trả lời tại Công văn số 123/BYT-KCB",
        )
        withdrawn = petition(
            "withdrawn",
            "X-BINHCHANH",
            level=AnswerLevel.COMMUNE,
            field="transport",
            status=SubmissionStatus.WITHDRAWN,
        )
        await db.flush()
        merged_bc = petition(
            "merged_bc",
            "X-BINHCHANH",
            sign_up_id=binhchanh.id,
            level=AnswerLevel.PROVINCE,
            status=SubmissionStatus.MERGED,
            merged_into_id=land.id,
        )
        merged_cd = petition("merged_cd", "DK-CONDAO", status=SubmissionStatus.MERGED, merged_into_id=land.id)
        await db.flush()
        return Round(
            event_id=event.id,
            endpoint_ids={code: e.id for code, e in endpoints.items()},
            petition_ids={
                "land": land.id,
                "written": written.id,
                "denounce": denounce.id,
                "withdrawn": withdrawn.id,
                "merged_bc": merged_bc.id,
                "merged_cd": merged_cd.id,
            },
        )


async def add_officer(
    app: App, user_id: str, endpoint_ids: list[int] | None, *, denouncers: bool = False
) -> None:
    async with app.sessions() as db, db.begin():
        db.add(
            StaffMember(
                channel="test",
                user_id=user_id,
                role=StaffRole.OFFICER,
                endpoint_ids=endpoint_ids,
                see_denouncers=denouncers,
                created_at=app.clock.now(),
            )
        )


def documents(replies: list[Reply]) -> dict[str, bytes]:
    return {
        r.document.filename.rsplit(".", 1)[1]: r.document.content for r in replies if r.document is not None
    }


def docx_text(content: bytes) -> tuple[list[str], list[list[list[str]]]]:
    """The paragraphs, and every table as rows of cell texts."""
    document = docx.Document(io.BytesIO(content))
    paragraphs = [p.text for p in document.paragraphs if p.text]
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    return paragraphs, tables


def sheet_rows(content: bytes, sheet: str) -> list[list[object]]:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    return [[value for value in row] for row in workbook[sheet].iter_rows(values_only=True)]


async def test_the_report_groups_petitions_by_level_then_field_with_their_communes_and_voters(
    staff_app: App, admin: ChatUser
) -> None:
    staff_app.settings.office_province = "tỉnh Quảng Ngãi"  # the heading names the office
    found = await voter_round(staff_app)
    replies = await admin.say(f"/report {found.event_id}")
    files = documents(replies)
    assert set(files) == {"docx", "xlsx"}
    assert [r.document.filename for r in replies if r.document] == [
        f"bao-cao-tong-hop-kien-nghi-cu-tri-{found.event_id}-2026-12-03.docx",
        f"bao-cao-tong-hop-kien-nghi-cu-tri-{found.event_id}-2026-12-03.xlsx",
    ]
    assert "3 kiến nghị của 5 lượt cử tri (1 bằng văn bản)" in replies[0].text
    assert "1 kiến nghị chưa phân loại" in replies[0].text

    paragraphs, tables = docx_text(files["docx"])
    assert "BÁO CÁO TỔNG HỢP Ý KIẾN, KIẾN NGHỊ CỬ TRI" in paragraphs
    assert f"Hội nghị tiếp xúc cử tri: {TITLE}" in paragraphs
    assert "Thời gian: từ Thứ Năm, 03/12/2026 08:00 đến Thứ Sáu, 04/12/2026 14:00" in paragraphs
    assert "Tổ đại biểu: Tổ đại biểu Quốc hội số 1" in paragraphs
    office, nation = tables[0][0]
    assert office == "ĐOÀN ĐBQH VÀ HĐND TỈNH QUẢNG NGÃI\nVĂN PHÒNG"
    assert nation == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc"
    groups = [p for p in paragraphs if p[:2] in ("1.", "2.", "3.", "4.")]
    assert groups == [
        "1. Kiến nghị thuộc thẩm quyền giải quyết của Trung ương (1 kiến nghị, 1 lượt cử tri)",
        "1.1. Lĩnh vực: Y tế",
        "2. Kiến nghị thuộc thẩm quyền giải quyết của cấp tỉnh (1 kiến nghị, 3 lượt cử tri)",
        "2.1. Lĩnh vực: Đất đai",
        "3. Kiến nghị chưa phân loại cấp giải quyết (1 kiến nghị, 1 lượt cử tri)",
        "3.1. Lĩnh vực: Chưa phân loại",
    ]
    assert "Còn 1 kiến nghị chưa được phân loại cấp giải quyết hoặc lĩnh vực." in paragraphs

    attendance, central, province, unclassified = tables[1:]
    assert attendance[0][:6] == [
        "Số TT",
        "Điểm cầu",
        "Thời gian",
        "Số chỗ",
        "Số lượt đăng ký",
        "Số cử tri đăng ký dự",
    ]
    assert [row[1] for row in attendance[1:]] == ["Phường Tân Bình", "Xã Bình Chánh", "Tổng cộng"]
    assert attendance[1][3:] == ["30", "1", "2", "0", "1"]  # seats, sign-ups, attending, waiting, petitions
    assert attendance[2][3:] == ["30", "1", "1", "1", "1"]
    assert attendance[3][3:] == ["60", "2", "3", "1", "2"]

    [header, row] = province
    assert header[:5] == [
        "Số TT",
        "Nội dung ý kiến, kiến nghị",
        "Cử tri kiến nghị",
        "Điểm cầu, xã, phường",
        "Số cử tri",
    ]
    assert row[0] == "2" and row[1].startswith("Đề nghị sớm cấp giấy chứng nhận")
    assert row[3].split("\n") == [
        "Phường Tân Bình",
        "Xã Bình Chánh",
        "Đặc khu Côn Đảo (bằng văn bản, không kết nối)",
    ]
    assert row[4] == "3" and row[5] == "Sở Nông nghiệp và Môi trường"
    assert "Gộp 2 kiến nghị cùng nội dung" in row[7]
    [_, row] = unclassified
    assert row[1] == "=Đề nghị nâng cấp cảng cá Bến Đầm"
    assert row[3] == "Đặc khu Côn Đảo (bằng văn bản, không kết nối)"
    assert "Kiến nghị bằng văn bản, xã, phường không kết nối điểm cầu" in row[7]
    [_, row] = central
    assert row[2] == "Trần Thị Bình\nThôn 1, Xã Bình Chánh"  # an admin may read a denouncer's name
    assert row[6] == "Bộ Y tế đã trả lời tại Công văn số 123/BYT-KCB"
    assert "Kiến nghị withdrawn" not in str(tables)

    rows = sheet_rows(files["xlsx"], "Kiến nghị")
    petitions = [row for row in rows if isinstance(row[0], int)]
    assert [(row[0], row[1], row[2], row[6], row[7]) for row in petitions] == [
        (1, "Kiến nghị thuộc thẩm quyền giải quyết của Trung ương", "Y tế", 1, "Tại hội nghị"),
        (2, "Kiến nghị thuộc thẩm quyền giải quyết của cấp tỉnh", "Đất đai", 3, "Tại hội nghị"),
        (
            3,
            "Kiến nghị chưa phân loại cấp giải quyết",
            "Chưa phân loại",
            1,
            "Bằng văn bản (xã, phường không kết nối)",
        ),
    ]
    assert petitions[2][3] == "=Đề nghị nâng cấp cảng cá Bến Đầm"  # text, never a formula
    workbook = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    formula_cells = [c for row in workbook["Kiến nghị"].iter_rows() for c in row if c.data_type == "f"]
    assert formula_cells == []
    assert rows[0][0] == "ĐOÀN ĐBQH VÀ HĐND TỈNH QUẢNG NGÃI"
    headings = [row[0] for row in rows if isinstance(row[0], str) and row[0][:2] in ("1.", "2.", "3.")]
    assert headings[0].startswith("1. Kiến nghị thuộc thẩm quyền giải quyết của Trung ương")
    sheet = sheet_rows(files["xlsx"], "Điểm cầu")
    counted = [row for row in sheet if row[1] in ("Phường Tân Bình", "Xã Bình Chánh", "Tổng cộng")]
    assert [row[3:8] for row in counted] == [[30, 1, 2, 0, 1], [30, 1, 1, 1, 1], [60, 2, 3, 1, 2]]

    async with staff_app.sessions() as db:
        views = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "denouncer.view")))
        reports = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "round.report")))
    assert [(v.actor, v.target_type, v.target_id) for v in views] == [
        (f"test:{ADMIN_ID}", "submission", str(found.petition_ids["denounce"]))
    ]
    assert len(reports) == 1 and reports[0].details["formats"] == ["docx", "xlsx"]


async def test_an_officer_gets_the_petitions_of_their_endpoints_with_the_denouncer_hidden(
    staff_app: App,
) -> None:
    found = await voter_round(staff_app)
    await add_officer(staff_app, OFFICER_TANBINH, [found.endpoint_ids["P-TANBINH"]])
    await add_officer(staff_app, OFFICER_ALL, None)
    scoped = ChatUser(staff_app.dialog, user_id=OFFICER_TANBINH)
    files = documents(await scoped.say(f"/report {found.event_id}"))
    paragraphs, tables = docx_text(files["docx"])
    assert [p for p in paragraphs if p[:2] == "1."] == [
        "1. Kiến nghị thuộc thẩm quyền giải quyết của cấp tỉnh (1 kiến nghị, 3 lượt cử tri)",
        "1.1. Lĩnh vực: Đất đai",
    ]
    assert [row[1] for row in tables[1][1:]] == ["Phường Tân Bình", "Tổng cộng"]

    every = ChatUser(staff_app.dialog, user_id=OFFICER_ALL)
    files = documents(await every.say(f"/report {found.event_id}"))
    rows = sheet_rows(files["xlsx"], "Kiến nghị")
    [denounced] = [row for row in rows if row[0] == 1]
    assert denounced[4] == "T*** T** B***\n(Được giữ bí mật theo Luật Tố cáo)"
    assert "Trần Thị Bình" not in str(rows)
    assert "Trần Thị Bình" not in str(docx_text(files["docx"]))
    async with staff_app.sessions() as db:
        views = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "denouncer.view")))
    assert views == []


async def test_stats_for_a_round_count_sign_ups_petitions_and_answers(
    staff_app: App, admin: ChatUser
) -> None:
    found = await voter_round(staff_app)
    await admin.say(f"/stats {found.event_id}")
    text = admin.text
    assert f"THỐNG KÊ HỘI NGHỊ TIẾP XÚC CỬ TRI #{found.event_id}" in text
    assert "Phường Tân Bình: 1 lượt đăng ký, 2/30 cử tri dự, 0 chờ" in text
    assert "Xã Bình Chánh: 1 lượt đăng ký, 1/30 cử tri dự, 1 chờ" in text
    assert "Tổng số kiến nghị: 3 (5 lượt cử tri; 1 bằng văn bản)" in text
    by_field = text.split("Theo lĩnh vực:")[1].split("\n\n")[0]
    assert by_field.strip().splitlines() == ["Y tế: 1", "Đất đai: 1", "Chưa phân loại: 1"]
    by_level = text.split("Theo cấp giải quyết:")[1].split("\n\n")[0]
    assert by_level.strip().splitlines() == [
        "Kiến nghị thuộc thẩm quyền giải quyết của Trung ương: 1",
        "Kiến nghị thuộc thẩm quyền giải quyết của cấp tỉnh: 1",
        "Kiến nghị chưa phân loại cấp giải quyết: 1",
    ]
    assert "Đã có kết quả trả lời: 1/3 kiến nghị (33%)" in text

    await admin.say("/stats 01/01/2026 31/12/2026")  # the period's registration stats still
    assert "THỐNG KÊ ĐĂNG KÝ TIẾP CÔNG DÂN" in admin.text


async def test_report_is_for_rounds_only(staff_app: App, admin: ChatUser) -> None:
    found = await voter_round(staff_app)
    async with staff_app.sessions() as db, db.begin():
        endpoint = await db.get_one(Endpoint, found.endpoint_ids["P-TANBINH"])
        session = await create_session(
            db,
            title="Tiếp công dân tháng 12",
            starts_at=FIRST_START,
            now=staff_app.clock.now(),
            endpoints=[(endpoint, 30)],
        )
    replies = await admin.say(f"/report {session.id}")
    assert documents(replies) == {}
    assert f"#{session.id} không phải hội nghị tiếp xúc cử tri" in admin.text
    await admin.say("/report")
    assert "Cách dùng: /report SỐ" in admin.text
    await admin.say("/report 99999")
    assert documents(admin.last) == {}


async def test_an_empty_round_says_so(staff_app: App, admin: ChatUser) -> None:
    now = staff_app.clock.now()
    async with staff_app.sessions() as db, db.begin():
        await upsert_endpoints(db, ENDPOINTS)
        endpoint = await db.scalar(select(Endpoint).where(Endpoint.code == "P-TANBINH"))
        assert endpoint is not None
        event = Event(
            kind=EventKind.VOTER_MEETING,
            title="Tiếp xúc cử tri chuyên đề",
            starts_at=FIRST_START,
            created_at=now,
            endpoints=[EventEndpoint(endpoint_id=endpoint.id, capacity=30)],
        )
        db.add(event)
    files = documents(await admin.say(f"/report {event.id}"))
    paragraphs, _ = docx_text(files["docx"])
    assert "Chưa có ý kiến, kiến nghị nào của cử tri." in paragraphs
    assert any(
        row[0] == "Chưa có ý kiến, kiến nghị nào của cử tri."
        for row in sheet_rows(files["xlsx"], "Kiến nghị")
    )
