"""The office's own name (OFFICE_* and DATA_CONTROLLER settings): a deployment that sets them
reads them in the privacy notice, the help, a notice and Form 03, in both languages; one that
sets nothing reads the texts as they were before there were settings."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import openpyxl
import pytest
from pydantic import ValidationError

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.exports import document_translator, to_xlsx
from bot.i18n import Translator
from bot.notify import Outbox
from bot.settings import Settings
from tests.conftest import ADMIN_ID, VN, World, make_settings
from tests.support import ChatUser
from tests.test_broadcast import start_broadcast
from tests.test_exports import read_book
from tests.test_outbox import RecordingChannel

NAME = "Văn phòng Đoàn ĐBQH và HĐND tỉnh Quảng Ngãi"
OFFICE = {
    "office_name": NAME,
    "office_province": "tỉnh Quảng Ngãi",
    "office_hotline": "0255 3822 123",
    "office_address": "52 Hùng Vương, phường Cẩm Thành, tỉnh Quảng Ngãi",
    "data_controller": "Đoàn ĐBQH và HĐND tỉnh Quảng Ngãi",
}
LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}

# Today's texts, as the catalogs held them before the settings (an office that sets nothing).
WELCOME_VI = (
    "Xin chào Ông/Bà! Đây là kênh đăng ký tiếp công dân trực tuyến của Văn phòng Đoàn ĐBQH và HĐND tỉnh.\n"
    "Xin chọn ngôn ngữ / Please choose your language:"
)
WELCOME_EN = (
    "Welcome! This is the online citizen-reception sign-up of the Office of the National Assembly "
    "Delegation and the Provincial People's Council.\nXin chọn ngôn ngữ / Please choose your language:"
)
QUESTION = {
    "vi": "Ông/Bà có đồng ý cho Văn phòng xử lý dữ liệu cá nhân nêu trên không?",
    "en": "Do you agree to the Office processing the personal data above?",
}
NOTICE_START = {
    "vi": "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN (phiên bản 2026-12)\n\n• Dữ liệu thu thập:",
    "en": "PERSONAL DATA NOTICE (version 2026-12)\n\n• What we collect:",
}
HELP_END = {
    "vi": "• Khi có lựa chọn, Ông/Bà có thể bấm nút hoặc gõ chữ ghi trên nút.",
    "en": "• Where there are options you can press a button or type the words on it.",
}
BROADCAST_VI = "📢 THÔNG BÁO CỦA VĂN PHÒNG ĐOÀN ĐBQH VÀ HĐND TỈNH\n\nLịch tiếp thay đổi."


@pytest.fixture
async def office_app(database_url: str, clock: FrozenClock) -> AsyncIterator[App]:
    app = build_app(make_settings(database_url, admins=f"test:{ADMIN_ID}", **OFFICE), clock)
    yield app
    await app.close()


async def broadcast_to_all(app: App, text: str) -> dict[str, str]:
    """An admin's broadcast to everyone, as each citizen receives it."""
    admin = ChatUser(app.dialog, user_id=ADMIN_ID)
    await start_broadcast(admin, "Tất cả", None, text)
    await admin.press("Gửi")
    channel = RecordingChannel()
    await Outbox(app.sessions, app.settings, app.clock, {"test": channel}).send_due()
    return dict(channel.sent)


async def test_an_office_that_sets_its_names_reads_them_everywhere_in_both_languages(
    office_app: App, world: World
) -> None:
    for number, (locale, language) in enumerate(LANGUAGES.items(), start=1):
        citizen = ChatUser(office_app.dialog, user_id=str(number))
        await citizen.say("/start")
        assert NAME in citizen.text  # the welcome, before a language is chosen
        await citizen.press(language)
        notice = citizen.text
        controller = "Bên kiểm soát dữ liệu cá nhân" if locale == "vi" else "Data controller"
        assert f"{controller}: {OFFICE['data_controller']}\n\n" in notice, notice
        assert f" {OFFICE['data_controller']} " in notice.split("\n")[-1]  # the question itself
        await citizen.press("agree")
        await citizen.say("/help")
        assert OFFICE["office_hotline"] in citizen.text and OFFICE["office_address"] in citizen.text

    received = await broadcast_to_all(office_app, "Lịch tiếp thay đổi.")
    assert received["1"].startswith(f"📢 THÔNG BÁO CỦA {NAME.upper()}\n")
    assert received["2"].startswith(f"📢 A MESSAGE FROM {NAME.upper()}\n")

    for locale in LANGUAGES:  # Form 03 is Vietnamese whichever language the admin chats in
        t = document_translator(office_app.settings.translator(locale))
        sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(await read_book(office_app, world, t=t), t))).active
        assert sheet is not None
        assert sheet["A1"].value == "ĐOÀN ĐBQH VÀ HĐND TỈNH QUẢNG NGÃI"
        assert sheet["A2"].value == "VĂN PHÒNG"


async def test_an_office_that_sets_nothing_reads_todays_texts(staff_app: App, world: World) -> None:
    for number, (locale, language) in enumerate(LANGUAGES.items(), start=1):
        citizen = ChatUser(staff_app.dialog, user_id=str(number))
        await citizen.say("/start")
        assert citizen.text == WELCOME_VI
        await citizen.press(language)
        assert citizen.text.startswith(NOTICE_START[locale])
        assert citizen.text.endswith("\n\n" + QUESTION[locale])
        await citizen.press("agree")
        await citizen.say("/help")
        assert citizen.text.endswith(HELP_END[locale])

    received = await broadcast_to_all(staff_app, "Lịch tiếp thay đổi.")
    assert received["1"] == BROADCAST_VI

    t = staff_app.settings.translator("vi")
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(await read_book(staff_app, world, t=t), t))).active
    assert sheet is not None
    assert (sheet["A1"].value, sheet["A2"].value) == ("ĐOÀN ĐBQH VÀ HĐND TỈNH", "VĂN PHÒNG")


def test_the_welcome_in_english_is_todays_when_nothing_is_set() -> None:
    assert Translator("en", VN)("onboarding.welcome") == WELCOME_EN
    assert Settings(_env_file=None).translator("en")("onboarding.welcome") == WELCOME_EN


def test_the_province_alone_names_the_office() -> None:
    t = Settings(_env_file=None, office_province="thành phố Hà Nội").translator("vi")  # type: ignore[call-arg]
    assert "trực tuyến của Văn phòng Đoàn ĐBQH và HĐND thành phố Hà Nội.\n" in t("onboarding.welcome")
    assert t("export.office.parent") == "ĐOÀN ĐBQH VÀ HĐND THÀNH PHỐ HÀ NỘI"
    # the data controller is the office, named in full once the office names itself
    assert "Bên kiểm soát dữ liệu cá nhân: Văn phòng Đoàn ĐBQH và HĐND thành phố Hà Nội\n" in t(
        "consent.notice", version="1", years=5
    )


@pytest.mark.parametrize(
    ("setting", "value"),
    [("office_hotline", "gọi cho chúng tôi"), ("office_name", "V" * 101)],
)
def test_an_office_setting_that_cannot_be_right_is_refused(setting: str, value: str) -> None:
    with pytest.raises(ValidationError, match=setting.upper() if setting == "office_hotline" else "100"):
        Settings(_env_file=None, **{setting: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("locale", LANGUAGES)
def test_notices_about_a_session_end_with_the_offices_hotline_and_address(locale: str) -> None:
    t = Settings(_env_file=None, **OFFICE).translator(locale)  # type: ignore[arg-type]
    fields = {"code": "TCD-1", "title": "T", "when": "W", "reason": "R"}
    cancelled = t("notice.session_cancelled", **fields)
    assert cancelled.endswith(f"{OFFICE['office_hotline']}\n🏢 " + cancelled.rsplit("🏢 ", 1)[1])
    assert cancelled.endswith(OFFICE["office_address"])
    bare = Translator(locale, VN)("notice.session_cancelled", **fields)
    assert OFFICE["office_hotline"] not in bare and "☎️" not in bare


def test_the_bot_makes_its_translators_from_the_settings_only() -> None:
    """A Translator made elsewhere would name the office by the catalogs' defaults."""
    root = Path(__file__).resolve().parents[1]
    makers = {
        str(path.relative_to(root))
        for folder in ("bot", "handlers")
        for path in (root / folder).rglob("*.py")
        if "Translator(" in path.read_text(encoding="utf-8").replace("class Translator(", "")
    }
    assert makers == {"bot/settings.py", "bot/i18n.py"}
