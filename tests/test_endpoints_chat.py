"""An admin stops and resumes an endpoint from the chat; a stopped endpoint is offered to nobody."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import App
from storage.models import AuditEntry, Endpoint
from tests.conftest import World
from tests.flows import consent, register
from tests.support import ChatUser


async def test_an_admin_deactivates_and_reactivates_an_endpoint(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await citizen.press("register")
    await citizen.say("tan binh")
    await citizen.press("ep:")
    assert any(
        option.payload.endswith(":back") or "s:" in option.payload for option in citizen.options_of_prompt
    )

    await admin.say("/endpoints tân bình")
    assert "Mã P-TANBINH — Phường Tân Bình: đang nhận đăng ký" in admin.text
    await admin.press("Ngừng: Phường Tân Bình")
    assert "Đã ngừng điểm cầu Phường Tân Bình" in admin.text and "0 đăng ký sắp tới" in admin.text

    await citizen.press("s:")  # chosen before it stopped
    assert "Điểm cầu này đã ngừng nhận đăng ký" in citizen.text
    await citizen.say("tan binh")
    assert "tan binh" in citizen.text and "Phường Tân Bình" not in [
        o.label for o in citizen.options_of_prompt
    ]
    await admin.say("/newsession")
    await admin.press("Tiếp công dân")
    await admin.say("Tiếp công dân tháng 3")
    await admin.say("Thường trực HĐND tỉnh")
    await admin.say("09/03/2027 08:00")
    await admin.say("P-TANBINH")
    assert "Điểm cầu đã ngừng hoạt động: Phường Tân Bình" in admin.text and "/endpoints" in admin.text

    await admin.say("/endpoints p-tanbinh")  # by code, stopped ones too
    assert "Mã P-TANBINH — Phường Tân Bình: đã ngừng" in admin.text
    await admin.press("Mở lại: Phường Tân Bình")
    assert "Đã mở lại điểm cầu Phường Tân Bình" in admin.text
    async with staff_app.sessions() as db:
        endpoint = await db.scalar(select(Endpoint).where(Endpoint.code == "P-TANBINH"))
        actions = list(
            await db.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "endpoint"))
        )
    assert endpoint is not None and endpoint.active
    assert actions == ["endpoint.deactivate", "endpoint.reactivate"]


async def test_a_stopped_endpoint_is_named_as_stopped_and_its_citizens_can_still_be_told(
    staff_app: App, world: World, admin: ChatUser
) -> None:
    """Stopping keeps the coming registrations: a broadcast reaches them (most likely about the
    stop); an officer's scope or a new session cannot take it until it is resumed."""
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await register(citizen, endpoint="tan binh")
    await admin.say("/endpoints tan binh")
    await admin.press("Ngừng: Phường Tân Bình")
    assert "1 đăng ký sắp tới tại đây vẫn được giữ nguyên" in admin.text

    await admin.say("/broadcast")
    await admin.press("tại một điểm cầu")
    await admin.say("tan binh")
    assert "Không có điểm cầu" not in admin.text
    await admin.say("Điểm cầu Tân Bình tạm ngừng, xin đến trụ sở HĐND tỉnh.")
    assert "Số người nhận: 1" in admin.text

    await admin.say("/invite")
    await admin.say("tan binh")
    assert "Không có điểm cầu" not in admin.text
    assert "Điểm cầu đã ngừng hoạt động: Phường Tân Bình" in admin.text and "/endpoints" in admin.text
    await admin.say("tan binh, khong co noi nay")  # one unknown: that is said first
    assert "Không có điểm cầu: khong co noi nay" in admin.text


async def test_only_admins_manage_endpoints(staff_app: App, world: World, admin: ChatUser) -> None:
    await admin.say("/endpoints")
    assert "gõ mã hoặc một phần tên điểm cầu" in admin.text
    await admin.say("khong co noi nay")
    assert "Không tìm thấy điểm cầu nào" in admin.text
    citizen = ChatUser(staff_app.dialog, user_id="2")
    await consent(citizen)
    await citizen.say("/endpoints tan binh")
    assert "không có quyền" in citizen.text
