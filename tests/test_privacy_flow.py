"""Privacy and my data: see, delete (anonymise), withdraw consent."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from bot.app import App
from storage.models import AuditEntry, Citizen, EventEndpoint, SignUp, SignUpStatus, Submission
from tests.conftest import World
from tests.flows import ID_NUMBER, SUMMARY, consent, fill_until_review, register
from tests.support import ChatUser


async def test_show_my_data(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("privacy")
    assert "Phiên bản thông báo Ông/Bà đã đồng ý: 2026-12" in chat.text
    await chat.press("show")
    assert "Họ và tên: —" in chat.text  # nothing stored yet
    await chat.press("menu")
    await register(chat)
    await chat.press("privacy")
    await chat.press("show")
    assert "Nguyễn Văn An" in chat.text and ID_NUMBER in chat.text and "Số lần đăng ký: 1" in chat.text
    # Each registration with what came with it, and the consent given.
    assert "Mã đăng ký: TCD-2026-000001" in chat.text and "Gia đình tôi bị thu hồi đất" in chat.text
    assert "Kèm theo: điện thoại 0912 345 678; CCCD 079203001234" in chat.text
    assert "LỊCH SỬ ĐỒNG Ý XỬ LÝ DỮ LIỆU" in chat.text and "đồng ý (thông báo phiên bản 2026-12)" in chat.text
    async with app.sessions() as db:
        views = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "citizen.view_own_data")
        )
    assert views == 2


async def test_a_denouncer_seeing_their_data_is_not_shown_their_identity_again(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await register(chat, case_type="denunciation")
    await chat.press("privacy")
    await chat.press("show")
    assert "N***** V** A*" in chat.text and "Nguyễn Văn An" not in chat.text
    assert all(shown not in chat.text for shown in (ID_NUMBER, "0912 345 678", "Lý Thường Kiệt"))
    assert "(giữ bí mật)" in chat.text and "liên hệ trực tiếp Văn phòng" in chat.text
    assert "Mã đăng ký: TCD-2026-000001" in chat.text  # their registration, identity left out


async def test_a_denouncer_who_also_complained_is_not_shown_their_name_on_any_screen(
    app: App, world: World, chat: ChatUser
) -> None:
    """One rule (CitizenRecord.denouncer, read with the conversation state) on every citizen
    screen: the name stored with a khiếu nại of someone who has also denounced is masked like
    the rest of their identity."""
    await consent(chat)
    await register(chat, case_type="denunciation")
    await fill_until_review(chat, session="11/01/2027")
    assert "Nguyễn Văn An" not in chat.text  # the review: saved details, not echoed
    await chat.press("confirm")
    await chat.press("privacy")
    await chat.press("show")
    assert "Loại vụ việc: Khiếu nại" in chat.text and "Loại vụ việc: Tố cáo" in chat.text
    assert "Nguyễn Văn An" not in chat.text and "Người đăng ký: N***** V** A*" in chat.text
    await chat.press("menu")
    await chat.press("mine")
    for code in ("TCD-2026-000001", "TCD-2026-000002"):
        await chat.press(code)
        assert f"Mã đăng ký: {code}" in chat.text
        assert "Nguyễn Văn An" not in chat.text and "Người đăng ký: N***** V** A*" in chat.text
        await chat.press("list")


async def test_delete_my_data_anonymises_and_keeps_counts(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await register(chat)
    await chat.press("privacy")
    await chat.press("delete")
    await chat.press("no")
    assert "QUYỀN RIÊNG TƯ" in chat.text
    await chat.press("delete")
    await chat.press("yes")
    assert "Đã xóa dữ liệu cá nhân" in chat.text and "Số đăng ký đã hủy: 1" in chat.text
    async with app.sessions() as db:
        citizen = await db.scalar(select(Citizen))
        registration = await db.scalar(select(SignUp))
    assert citizen is not None and registration is not None
    assert (citizen.full_name, citizen.phone, citizen.id_number, citizen.address) == (None,) * 4
    assert citizen.consent_at is None and citizen.anonymised_at is not None
    assert registration.status == SignUpStatus.CANCELLED
    assert (registration.case.full_name, registration.case.phone, registration.case.id_number) == (None,) * 3
    assert registration.case.summary == "" and registration.case.case_type == "complaint"  # counts stay
    # The seat went back.
    async with app.sessions() as db:
        link = registration.session_endpoint_id
        taken = await db.scalar(select(EventEndpoint.seats_taken).where(EventEndpoint.id == link))
    assert taken == 0
    # Nothing more is processed without consent again.
    await chat.say("/menu")
    assert "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN" in chat.text


def database_files(app: App) -> list[Path]:
    """The SQLite database and its write-ahead log (none on PostgreSQL)."""
    url = make_url(app.settings.database_url)
    if url.get_backend_name() != "sqlite":
        return []
    database = Path(str(url.database))
    return [database, database.with_name(database.name + "-wal")]


async def test_delete_my_data_leaves_it_nowhere(app: App, world: World, chat: ChatUser) -> None:
    """Not in the staff's notes on the case, and on SQLite not in the database file's free
    space nor in its write-ahead log."""
    await consent(chat)
    await register(chat)
    async with app.sessions() as db, db.begin():
        await db.execute(
            update(Submission).values(
                route="forward",
                forwarded_to="Thanh tra tỉnh",
                route_note="Đã gọi ông Nguyễn Văn An (0912 345 678) để hẹn",
                outcome="Ông Nguyễn Văn An, ĐT +84912345678, đã nhận quyết định",
                summary=SUMMARY + " Người làm chứng: Nguyễn Văn An." * 200,  # longer than a page
            )
        )
    personal = [value.encode() for value in ("Nguyễn Văn An", "+84912345678", "0912 345 678", ID_NUMBER)]
    personal.append(SUMMARY[:40].encode())
    files = database_files(app)
    stored_before = b"".join(path.read_bytes() for path in files)
    assert not files or all(value in stored_before for value in personal[:2])  # there before

    await chat.press("privacy")
    await chat.press("delete")
    await chat.press("yes")
    async with app.sessions() as db:
        registration = await db.scalar(select(SignUp))
    assert registration is not None
    assert (registration.case.route_note, registration.case.outcome) == ("", "")
    assert (registration.case.route, registration.case.forwarded_to) == (
        "forward",
        "Thanh tra tỉnh",
    )  # the counts
    for path in files:
        stored = path.read_bytes() if path.exists() else b""
        assert not [value for value in personal if value in stored], path.name
    if files:  # on every SQLite build, not only those compiled with SQLITE_SECURE_DELETE
        async with app.sessions() as db:
            assert await db.scalar(text("PRAGMA secure_delete")) == 1


async def test_withdraw_consent(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await register(chat)
    await chat.press("privacy")
    await chat.press("withdraw")
    await chat.press("yes")
    assert "rút lại sự đồng ý" in chat.text and "Số đăng ký đã hủy: 1" in chat.text
    async with app.sessions() as db:
        citizen = await db.scalar(select(Citizen))
        actions = [e.action for e in await db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert citizen is not None and citizen.consent_at is None and citizen.consent_version is None
    assert "consent.withdraw" in actions
    await chat.say("đăng ký")
    assert "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN" in chat.text


async def test_reading_the_notice_again_asks_no_question_it_cannot_take(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.press("privacy")
    await chat.press("notice")
    notice, prompt = chat.last[0].text, chat.prompt
    assert "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN" in notice and "5 năm" in notice
    assert "có đồng ý" not in notice  # already consented; no agree button here
    assert "QUYỀN RIÊNG TƯ" in prompt.text and "Tôi đồng ý" not in chat.labels
    # The first notice still asks, next to its buttons.
    newcomer = ChatUser(app.dialog, user_id="2")
    await newcomer.say("/start")
    await newcomer.press("Tiếng Việt")
    assert newcomer.text.endswith("Ông/Bà có đồng ý cho Văn phòng xử lý dữ liệu cá nhân nêu trên không?")
    assert newcomer.labels == ["Tôi đồng ý", "Tôi không đồng ý", "English"]
