"""Staff notices at the right minute: the deadline export, the connection check, the empty flag."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from bot.app import App
from bot.clock import FrozenClock
from bot.dialog.types import DOCX_TYPE
from bot.notify import Outbox
from storage.models import AuditEntry, Endpoint
from storage.sessions import create_session
from tests.conftest import ADMIN_ID, World, local
from tests.flows import consent, officer_for, register, registered_citizen
from tests.support import TEXT_ONLY, ChatUser
from tests.test_outbox import RecordingChannel


async def tick(app: App, channel: RecordingChannel) -> int:
    return await Outbox(app.sessions, app.settings, app.clock, {"test": channel}).send_due()


async def test_staff_notices(staff_app: App, world: World, admin: ChatUser, clock: FrozenClock) -> None:
    citizen = ChatUser(staff_app.dialog, user_id="1")
    await consent(citizen)
    await register(citizen)  # the first session has a registration, the second none
    officer = await officer_for(staff_app, admin, "600", scope="P-TANBINH")
    channel = RecordingChannel()
    deadline = world.first_start - timedelta(days=5)  # Wednesday 02/12/2026 08:00

    clock.set(deadline - timedelta(minutes=1))
    await tick(staff_app, channel)
    assert channel.documents == []
    clock.set(deadline)
    await tick(staff_app, channel)
    assert channel.documents == [(ADMIN_ID, "so-tiep-cong-dan-2026-12-07.xlsx")]
    assert any("HẾT HẠN NHẬN NỘI DUNG" in text for user, text in channel.sent if user == ADMIN_ID)
    await tick(staff_app, channel)
    assert len(channel.documents) == 1  # once

    clock.set(local(2026, 12, 6, 13, 59))
    await tick(staff_app, channel)
    assert not [text for user, text in channel.sent if user == officer.user_id]
    clock.set(local(2026, 12, 6, 14, 0))
    await tick(staff_app, channel)
    [check] = [text for user, text in channel.sent if user == officer.user_id]
    assert "Xin kiểm tra đường truyền" in check and "https://meet.example/tcd" in check

    clock.set(world.second_start - timedelta(days=6))
    await tick(staff_app, channel)
    flags = [text for user, text in channel.sent if user == ADMIN_ID and "chưa có công dân nào" in text]
    assert len(flags) == 1 and "Tiếp công dân tháng 1" in flags[0] and "còn 6 ngày" in flags[0]


async def test_a_zalo_admin_gets_the_deadline_list_as_a_word_file(
    staff_app: App, world: World, clock: FrozenClock
) -> None:
    await registered_citizen(staff_app)
    word_only = replace(TEXT_ONLY, document_types=frozenset({DOCX_TYPE}), max_document_bytes=5 * 1024 * 1024)
    channel = RecordingChannel(capabilities=word_only)  # Zalo OA takes Word files, not spreadsheets
    clock.set(world.first_start - timedelta(days=5))
    await tick(staff_app, channel)
    assert channel.documents == [(ADMIN_ID, "so-tiep-cong-dan-2026-12-07.docx")]


async def test_the_deadline_list_logs_each_admin_who_gets_a_denouncers_name(
    staff_app: App, world: World, clock: FrozenClock
) -> None:
    """The list goes unmasked to every admin: the audit log names who received it, not the system."""
    await registered_citizen(staff_app, case_type="denunciation", name="trần thị bình")
    channel = RecordingChannel()
    clock.set(world.first_start - timedelta(days=5))
    await tick(staff_app, channel)
    assert channel.documents == [(ADMIN_ID, "so-tiep-cong-dan-2026-12-07.xlsx")]
    async with staff_app.sessions() as db:
        views = list(await db.scalars(select(AuditEntry).where(AuditEntry.action == "denouncer.view")))
    assert [(view.actor, view.at, view.target_type) for view in views] == [
        (f"test:{ADMIN_ID}", clock.now(), "registration")
    ]


async def test_the_empty_flag_counts_the_days_actually_left(
    staff_app: App, world: World, admin: ChatUser, clock: FrozenClock
) -> None:
    """Flagged on 01/12 for 04/12: 3 days left, not the 6 of the flag's lead; moved to 05/12: 4."""
    clock.set(local(2026, 12, 1, 9, 0))
    async with staff_app.sessions() as db, db.begin():
        endpoint = await db.get_one(Endpoint, world.endpoint_ids["P-TANBINH"])
        late = await create_session(
            db,
            title="Buổi bổ sung",
            starts_at=local(2026, 12, 4, 8, 0),
            now=clock.now(),
            endpoints=[(endpoint, 10)],
        )
    channel = RecordingChannel()

    def flags() -> list[str]:
        return [
            text
            for user, text in channel.sent
            if user == ADMIN_ID and "Buổi bổ sung" in text and "chưa có công dân" in text
        ]

    await tick(staff_app, channel)
    assert len(flags()) == 1 and "còn 3 ngày" in flags()[0]

    await admin.say(f"/reschedule {late.id}")
    await admin.say("05/12/2026")
    await admin.say("14:00")
    await admin.say("Lãnh đạo bận họp đột xuất")
    await admin.press("Xác nhận dù thời hạn thông báo ngắn")
    assert "Đã dời buổi tiếp" in admin.text
    await tick(staff_app, channel)
    assert len(flags()) == 2 and "còn 4 ngày" in flags()[1]
