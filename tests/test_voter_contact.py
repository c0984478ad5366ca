"""Voter contact end to end, every step through a chat: a voter who attends and petitions, a
voter of a commune the round does not connect who petitions in writing, staff who merge,
forward and answer, both voters told, and the compiled report with both."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from bot.notify import Outbox
from storage.endpoints import upsert_endpoints
from storage.models import (
    Endpoint,
    Event,
    EventEndpoint,
    EventKind,
    EventStatus,
    Submission,
    SubmissionStatus,
)
from tests.conftest import ADMIN_ID, WORLD_ENDPOINTS, local
from tests.flows import consent
from tests.support import ChatUser
from tests.test_outbox import RecordingChannel
from tests.test_petition_report import documents, docx_text, sheet_rows
from tests.test_petition_review import classify
from tests.test_voter_flow import HOST, TITLE, open_round, write_petition

ROAD = "Đề nghị sửa chữa tuyến đường liên xã qua Tân Bình đã xuống cấp, đi lại rất khó khăn vào mùa mưa."
SAME_ROAD = "Cử tri Côn Đảo đề nghị tỉnh sớm bố trí vốn sửa tuyến đường liên xã đã hư hỏng nặng nhiều năm."
ANSWER = "Tuyến đường đã được đưa vào kế hoạch đầu tư công năm 2027 của tỉnh."


async def a_round(app: App) -> int:
    """Tân Bình meets on 7 Dec, Bình Chánh on 8 Dec; Côn Đảo is not connected."""
    async with app.sessions() as db, db.begin():
        await upsert_endpoints(db, WORLD_ENDPOINTS)
        endpoints = {e.code: e for e in await db.scalars(select(Endpoint))}
        event = Event(
            kind=EventKind.VOTER_MEETING,
            title=TITLE,
            host=HOST,
            starts_at=local(2026, 12, 7, 8, 0),
            status=EventStatus.SCHEDULED,
            compile_deadline=local(2026, 12, 13, 17, 0),
            created_at=app.clock.now(),
            endpoints=[
                EventEndpoint(endpoint_id=endpoints["P-TANBINH"].id, capacity=30),
                EventEndpoint(
                    endpoint_id=endpoints["X-BINHCHANH"].id, capacity=30, starts_at=local(2026, 12, 8, 14, 0)
                ),
            ],
        )
        db.add(event)
    return event.id


async def test_two_voters_petition_staff_merge_forward_answer_and_both_are_told(
    staff_app: App, admin: ChatUser
) -> None:
    round_id = await a_round(staff_app)
    attending, writing = ChatUser(staff_app.dialog, user_id="21"), ChatUser(staff_app.dialog, user_id="22")

    await consent(attending)
    await open_round(attending)
    await attending.press("attend")
    await attending.say("Nguyễn Văn An")
    await attending.say("0912 345 678")
    await attending.press("confirm")
    assert "Mã đăng ký: TXCT-2026-000001" in attending.text
    await attending.press("petition")
    await write_petition(attending, text=ROAD)
    await attending.press("commune")  # the address: only the commune
    await attending.press("confirm")
    assert "Mã kiến nghị: KNCT-2026-000001" in attending.text

    await consent(writing)
    await open_round(writing, "con dao")
    assert "không phải là điểm cầu của hội nghị này" in writing.text
    await writing.press("petition")
    await write_petition(writing, text=SAME_ROAD)
    await writing.say("Lê Văn Cường")
    await writing.say("0987 000 111")
    await writing.say("Thôn 2, đặc khu Côn Đảo")
    await writing.press("confirm")
    assert "Mã kiến nghị: KNCT-2026-000002" in writing.text

    # What the voter gave is in "my data", as the consent rules promise.
    await writing.press("menu")
    await writing.press("privacy")
    await writing.press("show")
    assert "KNCT-2026-000002" in writing.text and "Thôn 2, đặc khu Côn Đảo" in writing.text
    assert "0987 000 111" in writing.text and SAME_ROAD in writing.text

    async with staff_app.sessions() as db:
        first, second = (p.id for p in await db.scalars(select(Submission).order_by(Submission.id)))
    await admin.say(f"/petitions {round_id}")
    assert "Tổng số: 2" in admin.text and "Chưa phân loại: 2" in admin.text
    await admin.press(f"p:{first}")
    await classify(admin, "transport", "province")
    await admin.press("merge")
    await admin.press(f"m:{second}")
    await admin.press("confirm")
    assert "Số cử tri: 2, tại 2 điểm cầu: Phường Tân Bình, Đặc khu Côn Đảo" in admin.text
    await admin.press("forward")
    await admin.press("Sở Xây dựng")
    await admin.press("answer")
    await admin.say(ANSWER)
    assert "Câu trả lời sẽ được gửi đến 2 cử tri" in admin.text

    channel = RecordingChannel()
    assert (
        await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
        == 2
    )
    told = dict(channel.sent)
    assert ANSWER in told["21"] and "KNCT-2026-000001" in told["21"] and "Sở Xây dựng" in told["21"]
    assert ANSWER in told["22"] and "KNCT-2026-000002" in told["22"] and "KNCT-2026-000001" not in told["22"]
    assert ADMIN_ID not in told

    # Form 03 is the reception's: a round's own export is /report.
    assert documents(await admin.say(f"/export {round_id}")) == {}
    assert f"/report {round_id}" in admin.text and "không có sổ tiếp công dân" in admin.text
    files = documents(await admin.say(f"/report {round_id}"))
    paragraphs, tables = docx_text(files["docx"])
    text = "\n".join(paragraphs + [cell for table in tables for row in table for cell in row])
    assert "BÁO CÁO TỔNG HỢP Ý KIẾN, KIẾN NGHỊ CỬ TRI" in text.upper()
    assert "Đặc khu Côn Đảo" in text and "Phường Tân Bình" in text and ANSWER in text
    rows = sheet_rows(files["xlsx"], "Kiến nghị")
    [line] = [row for row in rows if any(isinstance(cell, str) and ROAD in cell for cell in row)]
    assert 2 in line  # the voters behind the merged petition
    assert any(isinstance(cell, str) and "Côn Đảo" in cell for cell in line)

    # After the meetings, the results go to the round: the voter who wrote in from a commune
    # not connected too. The round has met: it is offered among those just held, or typed.
    staff_app.clock.set(local(2026, 12, 10, 9, 0))  # type: ignore[attr-defined]
    await admin.say("/broadcast")
    await admin.press("một buổi tiếp")
    assert any(option.payload.endswith(f"s:{round_id}") for option in admin.options_of_prompt)
    await admin.say("99999")
    assert "Không có buổi tiếp hoặc hội nghị số 99999" in admin.text
    await admin.say(f"#{round_id}")
    await admin.say("Kết quả hội nghị: các kiến nghị đã được tổng hợp, chuyển đến cơ quan có thẩm quyền.")
    assert "Số người nhận: 2" in admin.text
    await admin.press("Gửi")
    results = RecordingChannel()
    assert (
        await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": results}).send_due()
        == 2
    )
    assert {user for user, _ in results.sent} == {"21", "22"}


async def petition_from(chat: ChatUser, name: str, phone: str, text: str) -> None:
    await consent(chat)
    await open_round(chat, "con dao")
    await chat.press("petition")
    await write_petition(chat, text=text)
    await chat.say(name)
    await chat.say(phone)
    await chat.say("Thôn 2, đặc khu Côn Đảo")
    await chat.press("confirm")


async def delete_my_data(chat: ChatUser) -> None:
    await chat.press("menu")
    await chat.press("privacy")
    await chat.press("delete")
    await chat.press("yes")
    assert "Đã xóa dữ liệu cá nhân" in chat.text


async def test_a_voter_who_deletes_their_data_leaves_no_blank_petition_behind(
    staff_app: App, admin: ChatUser
) -> None:
    """Their petition not answered is withdrawn, not left as a blank in the lists and the
    report; one that others were merged into keeps its text (the matter is theirs too)."""
    round_id = await a_round(staff_app)
    first, second, third = (ChatUser(staff_app.dialog, user_id=str(n)) for n in (31, 32, 33))
    await petition_from(first, "Nguyễn Văn An", "0912 345 678", ROAD)
    await petition_from(second, "Lê Văn Cường", "0987 000 111", SAME_ROAD)
    await petition_from(third, "Trần Thị Bình", "0903 111 222", ROAD + " Thêm ý kiến.")
    async with staff_app.sessions() as db:
        kept, merged, alone = (p.id for p in await db.scalars(select(Submission).order_by(Submission.id)))
    await admin.say(f"/petitions {round_id}")
    await admin.press(f"p:{kept}")
    await admin.press("merge")
    await admin.press(f"m:{merged}")
    await admin.press("confirm")

    await delete_my_data(first)
    await delete_my_data(third)
    async with staff_app.sessions() as db:
        rows = {p.id: p for p in await db.scalars(select(Submission))}
    assert (rows[kept].status, rows[kept].summary, rows[kept].full_name) == (
        SubmissionStatus.ACTIVE,
        ROAD,
        None,
    )
    assert (rows[alone].status, rows[alone].summary, rows[alone].phone) == (
        SubmissionStatus.WITHDRAWN,
        "",
        None,
    )
    assert rows[merged].status == SubmissionStatus.MERGED and rows[merged].summary == SAME_ROAD
