"""First contact: language, privacy notice, explicit consent."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage.models import AuditEntry, Citizen
from tests.conftest import NOW, World
from tests.support import TEXT_ONLY, ChatUser


async def citizen_of(app: App, chat: ChatUser) -> Citizen:
    async with app.sessions() as db:
        citizen = await db.scalar(select(Citizen).where(Citizen.channel_user_id == chat.user_id))
        assert citizen is not None
        return citizen


async def test_first_message_asks_language_then_the_notice(app: App, chat: ChatUser) -> None:
    await chat.say("xin chào")
    assert chat.labels == ["Tiếng Việt", "English"]
    await chat.press("Tiếng Việt")
    notice = chat.text
    for part in ("họ và tên", "số CCCD", "Mục đích", "5 năm", "xem, chỉnh sửa, xóa", "phiên bản 2026-12"):
        assert part in notice
    assert chat.labels == ["Tôi đồng ý", "Tôi không đồng ý", "English"]


async def test_consent_is_stored_with_version_and_time(app: App, chat: ChatUser) -> None:
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    await chat.press("Tôi đồng ý")
    assert "DANH MỤC CHÍNH" in chat.text
    citizen = await citizen_of(app, chat)
    assert citizen.consent_version == "2026-12" and citizen.consent_at == NOW
    assert citizen.locale == "vi"


async def test_silence_and_other_answers_are_not_consent(app: App, world: World, chat: ChatUser) -> None:
    await chat.say("/start")
    await chat.press("English")
    for attempt in ("maybe", "/menu", "register", "1", "đồng ý nhưng"):
        await chat.say(attempt)
        assert "Consent is recorded only when you choose it explicitly" in chat.text
        assert chat.labels == ["I agree", "I do not agree", "Tiếng Việt"]
    citizen = await citizen_of(app, chat)
    assert citizen.consent_at is None and citizen.full_name is None


async def test_refusing_ends_politely_and_can_be_revisited(app: App, chat: ChatUser) -> None:
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    await chat.press("Tôi không đồng ý")
    assert "tôn trọng lựa chọn" in chat.text
    assert chat.labels == ["Xem lại thông báo"]
    # Whatever they send next brings the notice back, never a personal-data question.
    await chat.say("tôi muốn đăng ký")
    assert "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN" in chat.text
    await chat.press("Tôi đồng ý")
    assert "DANH MỤC CHÍNH" in chat.text
    async with app.sessions() as db:
        actions = [e.action for e in await db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["consent.refuse", "consent.give"]


async def test_platform_language_is_the_first_guess(app: App) -> None:
    chat = ChatUser(app.dialog, language="en-US")
    await chat.say("hello")
    assert "Welcome!" in chat.text


async def test_a_new_notice_version_asks_again(app: App, chat: ChatUser) -> None:
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    await chat.press("Tôi đồng ý")
    app.dialog.settings = app.settings.model_copy(update={"consent_version": "2027-01"})
    await chat.say("/menu")
    assert "phiên bản 2027-01" in chat.text


async def test_the_language_can_be_changed_at_the_notice_before_consenting(app: App, chat: ChatUser) -> None:
    """A person who mis-tapped the language need not consent in one they cannot read."""
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    for change, notice, language in (
        ("/language", "PERSONAL DATA NOTICE (version", "en"),
        ("/ngonngu", "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN", "vi"),
    ):
        await chat.say(change)
        assert chat.labels == ["Tiếng Việt", "English"]
        await chat.press("English" if language == "en" else "Tiếng Việt")
        assert notice in chat.text
        assert (await citizen_of(app, chat)).locale == language
    for typed, notice, language in (
        ("English", "PERSONAL DATA NOTICE (version", "en"),
        ("tieng viet", "THÔNG BÁO XỬ LÝ DỮ LIỆU CÁ NHÂN", "vi"),
    ):
        await chat.say(typed)
        assert notice in chat.text and "Consent is recorded only" not in chat.text
        assert (await citizen_of(app, chat)).locale == language
    await chat.press("English")  # the button at the notice
    assert "PERSONAL DATA NOTICE (version" in chat.text
    assert chat.labels == ["I agree", "I do not agree", "Tiếng Việt"]
    await chat.press("I agree")
    citizen = await citizen_of(app, chat)
    assert citizen.locale == "en" and citizen.consent_at == NOW
    assert "MAIN MENU" in chat.text


async def test_after_refusing_a_named_language_shows_the_notice_in_it(app: App, chat: ChatUser) -> None:
    await chat.say("/start")
    await chat.press("Tiếng Việt")
    await chat.press("Tôi không đồng ý")
    await chat.say("English")
    assert "PERSONAL DATA NOTICE (version" in chat.text
    assert (await citizen_of(app, chat)).consent_at is None


async def test_a_chat_with_buttons_is_not_told_to_type_a_number_it_cannot_use(
    app: App, chat: ChatUser
) -> None:
    """Telegram shows buttons without numbers and takes no typed number for them: what the bot
    says of choosing (a choice not understood, the help) asks for the button or its words there,
    and for the number only where the options are shown numbered (the console, Zalo)."""
    await chat.say("/start")
    await chat.say("3")
    assert "gõ chữ ghi trên nút" in chat.text and "số thứ tự" not in chat.text
    await chat.press("Tiếng Việt")
    await chat.press("Tôi đồng ý")
    await chat.press("Hướng dẫn")
    assert "gõ chữ ghi trên nút" in chat.text and "số thứ tự" not in chat.text

    console = ChatUser(app.dialog, user_id="1002", capabilities=TEXT_ONLY)
    await console.say("/start")
    await console.say("3")
    assert "gõ số thứ tự" in console.text
    await console.say("1")
    await console.say("1")  # I agree
    await console.say("7")  # help (after "Tiếp xúc cử tri" and "Phiên giải trình")
    assert "gõ số thứ tự" in console.text and "{choices}" not in console.text
