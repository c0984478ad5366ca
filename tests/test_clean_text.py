"""Clean text everywhere: one cleaner for what people type, writers of documents that stand on
their own, cut messages said to be cut, and Form 03 in Vietnamese for every admin (issue 10,
items 5 and 19)."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import docx
import openpyxl
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.channels.telegram.runner import TelegramBot
from bot.clock import FrozenClock
from bot.dialog.types import Attachment, Reply
from bot.export_cells import writable
from bot.exports import to_csv, to_docx, to_xlsx
from bot.i18n import Translator
from bot.notify import Outbox
from bot.reception_book import BookRow, EndpointBook, ReceptionBook
from storage.models import Citizen, SignUp, SignUpStatus, Submission
from storage.text import normalize
from tests.conftest import ADMIN_ID, VN, World
from tests.fakes.telegram_api import FakeTelegram
from tests.flows import ID_NUMBER, SUMMARY, consent
from tests.support import ChatUser
from tests.telegram_harness import TelegramUser
from tests.test_outbox import RecordingChannel
from tests.test_telegram_keyboards import consent as consent_on_telegram
from tests.test_telegram_keyboards import to_the_phone_step
from tests.test_telegram_webhook import post, webhook  # noqa: F401 - a fixture, used by name

DIRTY_AGENCY = "Thanh tra\u0001\u0008 tỉnh"
CLEAN_AGENCY = "Thanh tra tỉnh"
VI, EN = Translator("vi", VN), Translator("en", VN)
HEADER_VI = "Nội dung vụ việc"


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        (DIRTY_AGENCY, CLEAN_AGENCY),
        ("Nguyễn\u0000 Văn An", "Nguyễn Văn An"),  # a NUL fails every statement on PostgreSQL
        ("Lê\ud800 Văn", "Lê Văn"),  # a lone surrogate cannot be written as UTF-8
        ("UBND \u202ephường\u202c \u2066Tân Bình\u2069", "UBND phường Tân Bình"),  # shown reordered
        ("Tha\u200bnh tra\u2060 tỉ\ufeffnh", CLEAN_AGENCY),  # invisible: would never match "Thanh tra"
        ("Sở\u00ad Y tế\U000e0068\U000e0069", "Sở Y tế"),  # soft hyphen; tag letters smuggle "hi"
        ("dòng một\r\ndòng hai\u2028dòng ba\tcột", "dòng một\ndòng hai\ndòng ba\tcột"),
        (
            "Gia đình 👨\u200d👩\u200d👧 và cờ 🏳\ufe0f\u200d🌈",
            "Gia đình 👨\u200d👩\u200d👧 và cờ 🏳\ufe0f\u200d🌈",
        ),
        ("Scotland \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", None),
        ("Ba\u200d lan", "Ba lan"),  # a joiner between letters hides, between emoji it draws
        ("\ufffe\uffffMục\ufdd0", "Mục"),  # non-characters: XML refuses them
        ("Phu\u031bo\u031b\u0300ng", "Phường"),  # NFD from Zalo, as before
    ],
)
def test_one_cleaner_for_free_text(typed: str, kept: str | None) -> None:
    assert normalize(typed) == (typed if kept is None else kept)


async def fill_with(chat: ChatUser, *, name: str, address: str, agency: str, summary: str = SUMMARY) -> None:
    """From the main menu to the review screen with these answers."""
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat.say(name)
    await chat.say("0912 345 678")
    await chat.say(ID_NUMBER)
    await chat.say(address)
    await chat.press("complaint")
    await chat.press("land")
    await chat.say(summary)
    await chat.press("done")  # the summary is complete
    await chat.press("done")  # no attachments
    await chat.say(agency)
    await chat.press("alone")


async def test_control_characters_never_reach_the_database_nor_break_the_confirm(
    staff_app: App, world: World
) -> None:
    """`\\u0000` used to fail every confirm on PostgreSQL; `\\u0001\\u0008` took down /export."""
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await fill_with(
        citizen,
        name="Nguyễn\u0000 Văn\u200b An",
        address="12 Lý Thường Kiệt\u0000, phường \u202eTân Bình",
        agency=DIRTY_AGENCY,
        summary=SUMMARY + "\u0000\u0007\nDòng hai\u0001.",
    )
    await citizen.press("confirm")
    assert "TCD-2026-000001" in citizen.text
    async with staff_app.sessions() as db:
        registration = await db.scalar(select(SignUp))
        person = await db.scalar(select(Citizen).where(Citizen.channel_user_id == "1"))
    assert registration is not None and person is not None
    assert (registration.case.full_name, registration.case.prior_agency) == ("Nguyễn Văn An", CLEAN_AGENCY)
    assert registration.case.address == person.address == "12 Lý Thường Kiệt, phường Tân Bình"
    assert registration.case.summary == SUMMARY + "\nDòng hai."


async def test_a_file_name_is_cleaned_before_it_is_kept(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    for answer in ("Nguyễn Văn An", "0912 345 678", ID_NUMBER, "12 Lý Thường Kiệt, phường Tân Bình"):
        await chat.say(answer)
    await chat.press("complaint")
    await chat.press("land")
    await chat.say(SUMMARY)
    await chat.press("done")  # the summary is complete
    document = Attachment("document", "file-1", "quyet\u0000dinh\u202efdp.pdf", "application/pdf\u0001", 1000)
    await chat._send(attachments=(document,))
    await chat.press("done")
    await chat.press("none")
    await chat.press("alone")
    await chat.press("confirm")
    async with app.sessions() as db:
        registration = await db.scalar(select(SignUp))
    assert registration is not None
    [kept] = registration.case.attachments
    assert (kept["name"], kept["mime_type"]) == ("quyetdinhfdp.pdf", "application/pdf")


@dataclass
class KeepingChannel(RecordingChannel):
    """Keeps the documents themselves, to open them."""

    files: list[tuple[str, bytes]] = field(default_factory=list)

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        await super().send(user_id, replies)
        self.files += [(r.document.filename, r.document.content) for r in replies if r.document is not None]


def xlsx_text(content: bytes) -> str:
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    return "\n".join(
        str(value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
    )


def docx_text(content: bytes) -> str:
    document = docx.Document(io.BytesIO(content))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([*(p.text for p in document.paragraphs), *cells])


async def test_form_03_in_vietnamese_with_a_dirty_agency_for_an_admin_who_reads_english(
    staff_app: App, world: World, clock: FrozenClock
) -> None:
    """/export and the deadline list: the documents open, hold the agency clean, and are in
    Vietnamese (an official document) while the chat speaks the admin's language. A second
    row was stored before text was cleaned: the writers cope with it on their own."""
    for user_id, name in (("1", "Nguyễn Văn An"), ("2", "Lê Văn Cường")):
        citizen = ChatUser(staff_app.dialog, user_id=user_id)
        await consent(citizen)
        await fill_with(citizen, name=name, address="12 Lý Thường Kiệt, Tân Bình", agency=DIRTY_AGENCY)
        await citizen.press("confirm")
    async with staff_app.sessions() as db, db.begin():
        stored_before = "Sở\u0001 Tài nguyên\u0008\u001f"  # PostgreSQL takes all but NUL
        await db.execute(
            update(Submission)
            .where(Submission.full_name == "Lê Văn Cường")
            .values(prior_agency=stored_before)
        )
    admin = ChatUser(staff_app.dialog, user_id=ADMIN_ID)
    await consent(admin, language="English")

    await admin.say(f"/export {world.first_id}")
    assert "Registrations: 2" in admin.text  # the chat in English
    files = {r.document.filename.rsplit(".", 1)[1]: r.document.content for r in admin.last if r.document}
    assert set(files) == {"xlsx", "docx", "csv"}
    for opened in (xlsx_text(files["xlsx"]), docx_text(files["docx"]), files["csv"].decode("utf-8-sig")):
        assert CLEAN_AGENCY in opened and HEADER_VI in opened and "Khiếu nại" in opened
        assert "Sở Tài nguyên" in opened and EN("export.col.content") not in opened

    channel = KeepingChannel()
    clock.set(world.first_start - timedelta(days=5))
    await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": channel}).send_due()
    [(name, content)] = channel.files
    assert name.endswith(".xlsx")
    opened = xlsx_text(content)
    assert CLEAN_AGENCY in opened and "Sở Tài nguyên" in opened and HEADER_VI in opened
    assert EN("export.col.content") not in opened
    assert any("SUMMARY DEADLINE REACHED" in text for user, text in channel.sent if user == ADMIN_ID)


def dirty_book() -> ReceptionBook:
    """A book that did not come through the engine: every kind of character XML refuses."""
    bad = "Thanh tra\u0001\u0008 tỉnh\u0000\ud800\uffff"
    row = BookRow(
        number=1,
        date=datetime(2026, 12, 1, 8, tzinfo=VN),
        name_and_address=f"Nguyễn Văn An\u000b\n{bad}",
        id_number="079203001234",
        content=f"={bad}" + "x" * 40_000,
        classification="Khiếu nại\u001f",
        people=1,
        prior_agency=bad,
        handling_route="",
        follow_up="",
        notes=bad,
        code="TCD-2026-000001",
        status=SignUpStatus.CONFIRMED,
    )
    return ReceptionBook(
        session_title=f"Tiếp công dân {bad}",
        starts_at=datetime(2026, 12, 7, 8, tzinfo=VN),
        host=bad,
        endpoints=[EndpointBook(endpoint_name=f"Phường\u0002 Tân Bình{bad}", rows=[row])],
        masked=0,
    )


def test_document_writers_stand_on_their_own() -> None:
    """One bad cell never takes down the whole document, nor puts the citizen's text in an error."""
    book = dirty_book()
    sheet_text = xlsx_text(to_xlsx(book, VI))
    word_text = docx_text(to_docx(book, VI))
    comma_text = to_csv(book, VI).decode("utf-8-sig")
    for opened in (sheet_text, word_text, comma_text):
        assert "Thanh tra tỉnh" in opened and "\u0001" not in opened and "\u0000" not in opened
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx(book, VI)))
    assert workbook.sheetnames == ["Phường Tân BìnhThanh tra tỉnh"]
    longest = max(len(str(v)) for r in workbook.active.iter_rows(values_only=True) for v in r if v)
    assert longest == 32_767  # Excel's cell; the file still opens
    [line] = list(csv.reader(io.StringIO(comma_text)))[1:]
    assert line[5].startswith("'=")  # still inert
    assert writable("a\u0000b\ud800c\uffffd\te\nf") == "abcd\te\nf"


async def test_a_message_too_long_for_any_step_is_cut_and_said_so_with_the_steps_limit(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat.say("A" * 100_000)
    assert "100.000 ký tự" in chat.text and "tối đa 100 ký tự" in chat.text and "cắt" in chat.text
    assert "32.767" not in chat.text and "20000" not in chat.text
    for answer in ("Nguyễn Văn An", "0912 345 678", ID_NUMBER, "12 Lý Thường Kiệt, phường Tân Bình"):
        await chat.say(answer)
    await chat.press("complaint")
    await chat.press("land")
    limit = app.settings.summary_max_chars
    await chat.say("Nội dung " * 12_000)  # 108,000 characters
    assert (
        "108.000 ký tự" in chat.text
        and f"tối đa {limit:,} ký tự".replace(",", ".") in chat.text
        and "cắt" in chat.text
    )
    assert "32.767" not in chat.text and "20000" not in chat.text
    await chat.say("x" * (limit + 1))  # not cut: the step's own message, with the true length
    assert f"{limit + 1:,} ký tự".replace(",", ".") in chat.text and "cắt" not in chat.text
    await chat.say(SUMMARY)
    await chat.press("done")  # the summary is complete
    assert "gửi kèm" in chat.text  # on to the next step


async def test_a_cut_message_that_a_step_takes_is_said_to_be_cut(
    app: App, world: World, chat: ChatUser
) -> None:
    await consent(chat)
    await chat.say("tiếp " * 10_000)  # at the menu: not an option, and said to be cut
    assert "50.000 ký tự" in chat.text and "chỉ 32.767 ký tự đầu" in chat.text


# --- no personal data in logs (item 7) -------------------------------------------------------

PERSON = {
    "name": "Phạm Thị Riêng Tư",
    "phone": "0912 345 678",
    "id_number": ID_NUMBER,
    "address": "99 Đường Bí Mật, phường Tân Bình",
    "summary": "Vụ việc riêng tư về đất đai của gia đình tôi ở khu phố bảy, chưa ai giải quyết.",
}
# What each may look like once stored: the phone in E.164.
TRACES = [*PERSON.values(), "+84912345678", "912345678", "Riêng Tư", "Bí Mật", "đất đai của gia đình"]


@contextlib.asynccontextmanager
async def registrations_refused(app: App) -> AsyncIterator[None]:
    """A real database error when the citizen's registration is written (not a constraint,
    which the confirm reads as "registered already"): a trigger that fails at run time. It is
    dropped afterwards: the PostgreSQL test database is only emptied between tests."""
    async with app.sessions() as db, db.begin():
        if is_postgres(db):
            await db.execute(
                text(
                    "CREATE FUNCTION refuse_all() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            await db.execute(
                text(
                    "CREATE TRIGGER refuse_all BEFORE INSERT ON sign_ups "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_all()"
                )
            )
        else:  # integer overflow: an OperationalError while the INSERT runs
            await db.execute(
                text(
                    "CREATE TRIGGER refuse_all BEFORE INSERT ON sign_ups "
                    "BEGIN SELECT abs(-9223372036854775808); END"
                )
            )
    try:
        yield
    finally:
        async with app.sessions() as db, db.begin():
            await db.execute(text("DROP TRIGGER refuse_all" + (" ON sign_ups" if is_postgres(db) else "")))
            if is_postgres(db):
                await db.execute(text("DROP FUNCTION refuse_all()"))


def is_postgres(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


async def test_a_database_error_logs_none_of_the_citizens_details(
    app: App, world: World, chat: ChatUser, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every level, SQLAlchemy's own loggers included
    await consent(chat)
    await fill_with(
        chat,
        name=PERSON["name"],
        address=PERSON["address"],
        agency="Thanh tra tỉnh",
        summary=PERSON["summary"],
    )
    caplog.clear()
    async with registrations_refused(app):
        await chat.press("confirm")
    assert "Mã tham chiếu" in chat.text  # the apology, with the reference that ties the log lines
    logged = "\n".join(
        logging.Formatter("%(name)s %(levelname)s %(message)s").format(r) for r in caplog.records
    )
    assert "refused by the test" in logged or "integer overflow" in logged  # the error was logged
    assert "Traceback" in logged
    found = [trace for trace in TRACES if trace in logged]
    assert found == [], f"personal data in the log: {found}"


async def test_an_update_the_webhook_refuses_is_logged_without_its_text(
    app: App,
    fake: FakeTelegram,
    webhook: tuple[TelegramBot, str],  # noqa: F811 - the fixture
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, url = webhook
    update = fake.message_update(603, PERSON["name"])
    del update["message"]["chat"]  # pydantic quotes the whole message it found incomplete
    caplog.set_level(logging.DEBUG)
    assert await post(url, update) == 400
    logged = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    assert "message.chat" in logged and "Riêng Tư" not in logged


async def test_control_characters_and_lone_surrogates_by_webhook_are_stored_and_answered(
    app: App,
    world: World,
    fake: FakeTelegram,
    webhook: tuple[TelegramBot, str],  # noqa: F811 - the fixture
) -> None:
    """The raw update is kept until handled (JSON escapes them); the engine cleans the text."""
    _, url = webhook
    assert await post(url, fake.message_update(604, "/start\u0000\ud800")) == 200
    await fake.wait_until(lambda: fake.sent_to(604))
    assert "Xin chào" in fake.sent_to(604)[0].text


async def test_what_follows_a_nul_is_kept_over_telegram(
    app: App,
    world: World,
    fake: FakeTelegram,
    polling: TelegramBot,
) -> None:
    """A NUL is taken out, never cut at: the rest of the message is the citizen's case."""
    user = TelegramUser(polling, fake, 612)
    await consent_on_telegram(user)
    await to_the_phone_step(user)
    for answer in ("0912 345 678", ID_NUMBER, "12 Lý Thường Kiệt, phường Tân Bình"):
        await user.say(answer)
    await user.press("Khiếu nại")
    await user.press("Đất đai")
    await user.say("\u0000Thu hồi đất số 123/QĐ-UBND\u0000 của UBND phường, chưa được bồi thường.")
    assert "Thu hồi đất số 123/QĐ-UBND của UBND phường, chưa được bồi thường." in user.text
