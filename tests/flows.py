"""Steps shared by the flow tests."""

from __future__ import annotations

from bot.app import App
from tests.support import ChatUser

SUMMARY = "Gia đình tôi bị thu hồi đất năm 2024 nhưng chưa nhận được tiền bồi thường theo quyết định."
ID_NUMBER = "079203001234"


async def consent(chat: ChatUser, language: str = "Tiếng Việt") -> None:
    await chat.say("/start")
    await chat.press(language)
    await chat.press("agree")


async def at_the_phone_step(chat: ChatUser) -> None:
    """Consented, and a registration under way: endpoint, session and name given."""
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    await chat.press("s:")
    await chat.say("nguyễn văn an")


async def fill_until_review(
    chat: ChatUser,
    endpoint: str = "tan binh",
    session: str = "s:",
    case_type: str = "complaint",
    group: str | None = None,
    name: str = "nguyễn văn an",
) -> None:
    """From the main menu to the review screen, answering every step correctly."""
    await chat.press("register")
    await chat.say(endpoint)
    await chat.press("ep:")
    await chat.press(session)
    if any(option.payload.endswith(":yes") for option in chat.options_of_prompt):
        await chat.press("yes")  # the endpoint is full: join the waiting list
    await chat.say(name)
    await chat.say("0912 345 678")
    await chat.say(ID_NUMBER)
    await chat.say("12 Lý Thường Kiệt, phường Tân Bình")
    await chat.press(case_type)
    await chat.press("land")
    await chat.say(SUMMARY)
    await chat.press("done")  # the summary is complete
    if chat.capabilities.file_uploads:
        await chat.press("done")  # no attachments
    await chat.press("none")
    if group is None:
        await chat.press("alone")
    else:
        await chat.say(group)


async def register(chat: ChatUser, **kwargs: str) -> None:
    await fill_until_review(chat, **kwargs)  # type: ignore[arg-type]
    await chat.press("confirm")


async def registered_citizen(app: App, user_id: str = "1", **kwargs: str) -> ChatUser:
    """A citizen who has consented and registered (`register`'s choices in `kwargs`)."""
    chat = ChatUser(app.dialog, user_id=user_id)
    await consent(chat)
    await register(chat, **kwargs)
    return chat


async def officer_for(
    app: App, admin: ChatUser, user_id: str, scope: str | None, denouncers: bool = False
) -> ChatUser:
    """An officer invited by `admin` (scope: endpoint codes/names, or None for all) who has joined."""
    await admin.say("/invite")
    if scope is None:
        await admin.press("Tất cả điểm cầu")
    else:
        await admin.say(scope)
    await admin.press("Có, được xem" if denouncers else "Không")
    code = admin.text.split("Mã mời: ")[1].split()[0]
    officer = ChatUser(app.dialog, user_id=user_id)
    await officer.say(f"/join {code}")
    assert "đã được thêm làm cán bộ" in officer.text
    return officer
