"""The citizen's registration, end to end through the engine and a real database."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from bot.app import App
from bot.clock import FrozenClock
from bot.dialog.types import Attachment
from storage.models import (
    AuditEntry,
    CaseType,
    Citizen,
    Event,
    EventStatus,
    Notification,
    SignUp,
    SignUpStatus,
)
from storage.registrations import Draft, cancel, submit
from tests.conftest import World
from tests.flows import ID_NUMBER, SUMMARY, consent, fill_until_review, register
from tests.support import ChatUser


async def registrations(app: App) -> list[SignUp]:
    async with app.sessions() as db:
        return list(await db.scalars(select(SignUp).order_by(SignUp.id)))


async def test_register_end_to_end(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    assert "DANH MỤC CHÍNH" in chat.text
    await fill_until_review(chat)
    assert "KIỂM TRA LẠI" in chat.text
    assert "Nguyễn Văn An" in chat.text and "0912 345 678" in chat.text and ID_NUMBER in chat.text
    assert "Thứ Hai, 07/12/2026 08:00" in chat.text
    assert "Hạn gửi nội dung: Thứ Tư, 02/12/2026 08:00" in chat.text  # 5 days before
    await chat.press("Xác nhận")
    assert "ĐĂNG KÝ THÀNH CÔNG" in chat.text
    assert "TCD-2026-000001" in chat.text
    assert "DANH MỤC CHÍNH" in chat.prompt.text

    [registration] = await registrations(app)
    assert registration.status == SignUpStatus.CONFIRMED
    assert registration.case.phone == "+84912345678"
    assert registration.case.summary == SUMMARY
    assert registration.case.case_type == "complaint" and registration.case.field == "land"
    async with app.sessions() as db:
        citizen = await db.scalar(select(Citizen))
        assert citizen is not None and citizen.full_name == "Nguyễn Văn An"
        actions = [entry.action for entry in await db.scalars(select(AuditEntry))]
        assert "consent.give" in actions and "registration.submit" in actions


async def test_english_registration(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat, language="English")
    assert "MAIN MENU" in chat.text
    await fill_until_review(chat)
    assert "PLEASE CHECK YOUR DETAILS" in chat.text
    assert "Monday, 07/12/2026 08:00" in chat.text
    await chat.press("confirm")
    assert "REGISTERED" in chat.text and "TCD-2026-000001" in chat.text


async def test_bad_inputs_are_reasked_and_nothing_is_lost(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("register")
    await chat.say("không có nơi này")
    assert "Không tìm thấy điểm cầu" in chat.text
    await chat.say("TAN BINH")
    await chat.press("ep:")
    await chat.say("tôi chọn buổi đầu")  # text where a choice is expected
    assert "Xin Ông/Bà chọn một trong các lựa chọn" in chat.text
    await chat.press("s:")

    await chat.say("")
    assert "Xin Ông/Bà gõ họ và tên" in chat.text
    await chat.say("Nguyễn Văn 😀")
    assert "chỉ gồm chữ cái" in chat.text
    await chat.say("A" * 101)
    assert "dài quá 100 ký tự" in chat.text
    await chat.say("Trần Thị Bình")

    for wrong in ("12345", "số của tôi", "+1 415 555 2671", "📞"):
        await chat.say(wrong)
        assert "Số điện thoại chưa đúng" in chat.text
        assert "số điện thoại" in chat.prompt.text  # the step is asked again
    await chat.share_phone("84912345678")

    await chat.say("07920300123")
    assert "đúng 12 chữ số" in chat.text
    await chat.say("999203001234")
    assert "mã tỉnh" in chat.text
    await chat.say(ID_NUMBER)
    await chat.say("12 Lý Thường Kiệt 🏠")
    assert "biểu tượng" in chat.text
    await chat.say("12 Lý Thường Kiệt, phường Tân Bình")
    await chat.press("denunciation")
    assert "giữ bí mật" in chat.text
    await chat.press("land")

    await chat.say("Ngắn quá")
    await chat.press("done")
    assert "cần ít nhất 30 ký tự" in chat.text
    await chat.press("clear")
    await chat.say("x" * 10_000)
    assert "10.000 ký tự, vượt quá giới hạn 3.000" in chat.text
    await chat.say(f"   {SUMMARY}   ")
    await chat.press("done")
    await chat.say("không có tệp")
    assert "Xin gửi tệp" in chat.text
    await chat.press("done")
    await chat.say("UBND phường đã trả lời năm 2025")
    await chat.say("nhiều người")
    assert "bằng chữ số" in chat.text
    await chat.say("3")
    assert "KIỂM TRA LẠI" in chat.text
    # Everything typed before the mistakes is still there.
    assert "Trần Thị Bình" in chat.text and "0912 345 678" in chat.text
    assert SUMMARY in chat.text and "UBND phường đã trả lời năm 2025" in chat.text
    assert "Số người: 3" in chat.text


async def test_edit_from_review_returns_to_review(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await fill_until_review(chat)
    await chat.press("edit")
    await chat.press("phone")
    await chat.say("0987 654 321")
    assert "KIỂM TRA LẠI" in chat.text and "0987 654 321" in chat.text
    await chat.press("edit")
    await chat.press("session")
    await chat.press("Thứ Hai, 11/01/2027")
    assert "KIỂM TRA LẠI" in chat.text and "11/01/2027" in chat.text
    await chat.press("confirm")
    [registration] = await registrations(app)
    assert registration.session_id == world.second_id and registration.case.phone == "+84987654321"


async def test_group_names_representatives_and_takes_their_seats(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await fill_until_review(chat, endpoint="binh chanh", group="7")
    assert "tối đa 2 người" in chat.text
    await chat.say("Lê Văn Một, Lê Văn Hai, Lê Văn Ba")
    assert "tối đa 2 người đại diện" in chat.text
    await chat.say("Lê Văn Một\nLê Văn Hai")
    assert "Người đại diện: Lê Văn Một, Lê Văn Hai" in chat.text
    await chat.press("confirm")
    [registration] = await registrations(app)
    assert registration.case.group_size == 7 and registration.seats == 2
    assert registration.case.representatives == ["Lê Văn Một", "Lê Văn Hai"]


async def test_deadline_to_the_minute_when_offering_sessions(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    deadline = world.first_start - timedelta(days=5)
    await consent(chat)
    for moment, offered in (
        (deadline - timedelta(minutes=1), True),
        (deadline, True),
        (deadline + timedelta(minutes=1), False),
    ):
        clock.set(moment)
        await chat.say("/menu")
        await chat.press("register")
        await chat.say("tan binh")
        await chat.press("ep:")
        assert ("07/12/2026" in " ".join(chat.labels)) is offered, moment
        assert "11/01/2027" in " ".join(chat.labels)


async def test_deadline_passing_before_confirm_offers_the_next_session(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    deadline = world.first_start - timedelta(days=5)
    clock.set(deadline - timedelta(minutes=10))
    await consent(chat)
    await fill_until_review(chat)
    clock.set(deadline + timedelta(minutes=1))
    await chat.press("confirm")
    assert "hết hạn nhận nội dung lúc Thứ Tư, 02/12/2026 08:00" in chat.text
    assert "Thứ Hai, 11/01/2027 08:00" in chat.text  # the next open session
    assert await registrations(app) == []
    await chat.press("next")
    assert "KIỂM TRA LẠI" in chat.text and "11/01/2027" in chat.text
    assert "Nguyễn Văn An" in chat.text  # nothing entered was lost
    await chat.press("confirm")
    [registration] = await registrations(app)
    assert registration.session_id == world.second_id


async def test_a_session_closing_or_cancelled_while_choosing_is_said_at_once(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    deadline = world.first_start - timedelta(days=5)
    clock.set(deadline - timedelta(minutes=1))
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    clock.set(deadline + timedelta(minutes=1))
    await chat.press("07/12/2026")
    assert "vừa hết hạn nhận nội dung lúc Thứ Tư, 02/12/2026 08:00" in chat.text
    assert "07/12/2026" not in " ".join(chat.labels) and "11/01/2027" in " ".join(chat.labels)
    async with app.sessions() as db, db.begin():
        second = await db.get(Event, world.second_id)
        assert second is not None
        second.status = EventStatus.CANCELLED
    await chat.press("11/01/2027")
    assert "đã bị hủy hoặc đã kết thúc" in chat.text and "họ và tên" not in chat.text


async def test_full_endpoint_offers_the_waitlist(app: App, world: World) -> None:
    first, second, third = (ChatUser(app.dialog, user_id=str(n)) for n in (1, 2, 3))
    for user in (first, second):
        await consent(user)
        await register(user)
        assert "ĐĂNG KÝ THÀNH CÔNG" in user.text
    await consent(third)
    await third.press("register")
    await third.say("tan binh")
    await third.press("ep:")
    assert "hết chỗ" in " ".join(third.labels)
    await third.press("s:")
    assert "danh sách chờ" in third.text
    await third.press("yes")
    assert "họ và tên" in third.text
    await third.say("/huy")
    assert "Đã hủy thao tác" in third.text

    await register(third)
    assert "ĐÃ VÀO DANH SÁCH CHỜ" in third.text
    statuses = [r.status for r in await registrations(app)]
    assert statuses == ["confirmed", "confirmed", "waitlisted"]

    # The first citizen cancels; the waitlisted one gets the seat and a notice is queued.
    await first.press("mine")
    await first.press("r:")
    await first.press("cancel")
    assert "có chắc muốn hủy" in first.text
    await first.press("yes")
    assert "Đã hủy đăng ký TCD-2026-000001" in first.text
    statuses = [r.status for r in await registrations(app)]
    assert statuses == ["cancelled", "confirmed", "confirmed"]
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification))
        assert notice is not None and notice.kind == "waitlist_promoted"
        assert notice.params == {"registration_id": 3}


async def test_one_registration_per_session(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await register(chat)
    # Another endpoint, the same session: told when choosing it, not after every step.
    await chat.press("register")
    await chat.say("binh chanh")
    await chat.press("ep:")
    await chat.press("07/12/2026")
    assert "đã có đăng ký cho buổi tiếp này (mã TCD-2026-000001)" in chat.text
    assert "11/01/2027" in " ".join(chat.labels)  # still choosing a session
    async with app.sessions() as db:
        assert await db.scalar(select(func.count()).select_from(SignUp)) == 1


async def test_a_registration_made_meanwhile_keeps_what_was_entered(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await fill_until_review(chat, session="11/01/2027")
    async with app.sessions() as db, db.begin():  # the same citizen, from another device
        citizen = await db.scalar(select(Citizen))
        assert citizen is not None
        draft = Draft(
            session_endpoint_id=world.seats[(world.second_id, "P-TANBINH")],
            full_name="Nguyễn Văn An",
            phone="+84912345678",
            id_number=ID_NUMBER,
            address="12 Lý Thường Kiệt",
            case_type=CaseType.COMPLAINT,
            field="land",
            summary=SUMMARY,
            prior_agency="",
            group_size=1,
            representatives=[],
            attachments=[],
        )
        meanwhile = await submit(db, citizen, draft, now=app.clock.now(), lead_days=5)
    await chat.press("confirm")
    assert "đã có đăng ký cho buổi tiếp này" in chat.text
    assert "11/01/2027" in " ".join(chat.labels)  # choosing a session again, nothing lost
    async with app.sessions() as db, db.begin():
        other = await db.get(SignUp, meanwhile.id)
        assert other is not None
        await cancel(db, other, now=app.clock.now(), actor="test")
    await chat.press("11/01/2027")
    assert "KIỂM TRA LẠI" in chat.text and "Nguyễn Văn An" in chat.text and SUMMARY in chat.text
    await chat.press("confirm")
    assert "ĐĂNG KÝ THÀNH CÔNG" in chat.text


async def test_profile_prefills_the_next_registration(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await register(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("11/01/2027")
    assert chat.labels == ["Giữ: Nguyễn Văn An"]
    await chat.press("Giữ")
    assert chat.labels == ["Giữ: 0912 345 678"]
    await chat.press("Giữ")
    await chat.press("Giữ")
    await chat.press("Giữ")
    assert "Vụ việc của Ông/Bà thuộc loại nào" in chat.text


async def test_denouncer_identity_is_not_echoed_after_submission(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat, case_type="denunciation")
    confirmation = chat.text
    assert "ĐĂNG KÝ THÀNH CÔNG" in confirmation
    for personal in ("Nguyễn", "An", "0912 345 678", ID_NUMBER, "Lý Thường Kiệt"):
        assert personal not in confirmation.replace("Tân Bình", "")
    await chat.press("mine")
    assert "Nguyễn Văn An" not in chat.text
    await chat.press("r:")
    assert "Người đăng ký: N***** V** A*" in chat.text
    assert "Nguyễn Văn An" not in chat.text


def document(name: str, mime_type: str, size: int = 50_000, kind: str = "document") -> Attachment:
    return Attachment(kind=kind, file_id=f"id-{name}", name=name, mime_type=mime_type, size=size)


async def test_attachments_are_checked_and_listed(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat._send(attachments=(document("scan.pdf", "application/pdf"),))
    assert "Bước này không nhận tệp" in chat.text and "họ và tên" in chat.prompt.text
    await chat.say("/huy")
    await fill_until_review(chat)
    await chat.press("edit")
    await chat.press("Tệp đính kèm")
    assert "tối đa 5 tệp" in chat.text
    await chat._send(
        attachments=(
            document("quyet-dinh.pdf", "application/pdf"),
            document("don.docx", "application/octet-stream"),
            document("", "image/jpeg", kind="photo"),
            document("video.mp4", "video/mp4"),
            document("to-lon.pdf", "application/pdf", size=30_000_000),
            document("", "", kind="sticker"),
        )
    )
    assert "«video.mp4»: chỉ nhận ảnh JPG/PNG, PDF, DOC hoặc DOCX" in chat.text
    assert "«to-lon.pdf» lớn hơn 20 MB" in chat.text
    assert "«sticker»" in chat.text
    assert "Đã nhận 3 tệp: quyet-dinh.pdf, don.docx, photo.jpg" in chat.text
    await chat._send(attachments=tuple(document(f"{n}.png", "image/png") for n in range(4)))
    assert "Đã đủ 5 tệp" in chat.text and "Đã nhận 5 tệp" in chat.text
    await chat.press("done")
    assert "Tệp đính kèm: quyet-dinh.pdf, don.docx, photo.jpg, 0.png, 1.png" in chat.text
    await chat.press("confirm")
    [registration] = await registrations(app)
    assert [item["name"] for item in registration.case.attachments][:2] == ["quyet-dinh.pdf", "don.docx"]
    assert registration.case.attachments[0] == {
        "kind": "document",
        "file_id": "id-quyet-dinh.pdf",
        "name": "quyet-dinh.pdf",
        "mime_type": "application/pdf",
        "size": 50_000,
    }


async def test_a_group_larger_than_the_endpoint_is_told_before_it_blocks_the_waitlist(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await fill_until_review(chat, group="3")  # Tân Bình has 2 seats in the first session
    await chat.press("confirm")
    assert "chỉ có 2 chỗ, ít hơn số người sẽ tham dự" in chat.text
    assert "muốn sửa thông tin nào" in chat.prompt.text
    assert await registrations(app) == []
    await chat.press("group")
    await chat.press("alone")
    await chat.press("confirm")
    assert "ĐĂNG KÝ THÀNH CÔNG" in chat.text


async def test_a_denouncers_saved_identity_is_not_shown_again(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await register(chat, case_type="denunciation")
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("11/01/2027")
    assert chat.labels == ["Dùng thông tin đã lưu"]
    await chat.press("Dùng thông tin đã lưu")
    assert "Nguyễn" not in chat.text
    shown = chat.text.replace("(ví dụ 0912 345 678)", "")  # the question's own example
    assert chat.labels == ["Dùng thông tin đã lưu"] and "0912 345 678" not in shown


async def test_a_denouncer_using_the_saved_details_never_sees_them_echoed(
    app: App, world: World, chat: ChatUser
) -> None:
    """On a shared phone, "use the saved details" four times must not show the denouncer's
    identity on the next screens either: not the phone noted, not the review."""
    await consent(chat)
    await register(chat, case_type="denunciation")
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("11/01/2027")
    seen = []
    for _ in range(4):  # name, phone, CCCD number, address
        await chat.press("Dùng thông tin đã lưu")
        seen.append(chat.text.replace("(ví dụ 0912 345 678)", ""))  # the question's own example
    await chat.press("petition")
    await chat.press("land")
    await chat.say(SUMMARY)
    await chat.press("done")
    await chat.press("done")
    await chat.press("none")
    await chat.press("alone")
    seen.append(chat.text)
    assert "KIỂM TRA" in chat.text and "(thông tin đã lưu)" in chat.text
    for secret in ("Nguyễn Văn An", "0912 345 678", ID_NUMBER, "Lý Thường Kiệt"):
        assert not [text for text in seen if secret in text], secret
    await chat.press("confirm")
    assert "ĐĂNG KÝ THÀNH CÔNG" in chat.text
    async with app.sessions() as db:
        second = await db.scalar(select(SignUp).order_by(SignUp.id.desc()))
    assert second is not None and (second.case.full_name, second.case.id_number) == (
        "Nguyễn Văn An",
        ID_NUMBER,
    )
    assert second.case.phone == "+84912345678" and second.case.address == "12 Lý Thường Kiệt, phường Tân Bình"


async def test_the_code_carries_the_local_year(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    # 1 January 2027 at 06:30 in Vietnam is still 31 December 2026 in UTC.
    clock.set(datetime(2027, 1, 1, 6, 30, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    await consent(chat)
    await register(chat, session="11/01/2027")
    assert "TCD-2027-000001" in chat.text


async def test_a_constraint_failure_at_confirm_is_not_told_as_registered_already(
    app: App, world: World, chat: ChatUser
) -> None:
    """Only a registration that really won the race is "registered already"; any other
    integrity failure is an error, apologised for with its reference, and nothing is kept."""
    await consent(chat)
    await fill_until_review(chat)
    async with app.sessions() as db, db.begin():
        postgres = db.get_bind().dialect.name == "postgresql"
        if postgres:
            await db.execute(
                text(
                    "CREATE FUNCTION refuse_check() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$"
                )
            )
            trigger = "EXECUTE FUNCTION refuse_check()"
            await db.execute(text(f"CREATE TRIGGER refuse_check BEFORE INSERT ON submissions {trigger}"))
        else:  # RAISE(ABORT) is a constraint failure: sqlite3.IntegrityError
            await db.execute(
                text(
                    "CREATE TRIGGER refuse_check BEFORE INSERT ON submissions "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
    try:
        await chat.press("confirm")
    finally:
        async with app.sessions() as db, db.begin():
            await db.execute(text("DROP TRIGGER refuse_check" + (" ON submissions" if postgres else "")))
            if postgres:
                await db.execute(text("DROP FUNCTION refuse_check()"))
    assert "Mã tham chiếu" in chat.text and "đã đăng ký" not in chat.text.lower()
    assert await registrations(app) == []
