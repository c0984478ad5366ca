"""Zalo OA end to end: signed webhook events in, consultation messages out, against fake
Zalo OA, OAuth and ZNS servers over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import logging
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import docx
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.channels.zalo.oa_client import PermanentError
from bot.channels.zalo.oa_events import classify, to_incoming
from bot.channels.zalo.oa_render import BUTTON_PREFIX, messages_for
from bot.channels.zalo.oa_webhook import WEBHOOK_PATH, ZaloOA
from bot.clock import FrozenClock
from bot.dialog.types import Attachment, Option, RecipientUnreachable, Reply, WindowClosed
from bot.notify import Outbox
from bot.settings import Settings
from storage import inbound, schedule
from storage.identity import UserKey
from storage.models import (
    Citizen,
    InboundUpdate,
    Notification,
    SignUp,
    StaffRole,
    ZaloOAToken,
)
from storage.staff import Actor
from storage.text import fold
from tests.conftest import ADMIN_ID, World, make_settings
from tests.fakes.local_http import serve_locally
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, OA_SECRET_KEY, FakeZalo, SentCS
from tests.flows import ID_NUMBER, SUMMARY
from tests.support import counted
from tests.test_staff import citizens_registered
from tests.test_telegram_webhook import updates_cannot_be_stored


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.fixture
async def fake(clock: FrozenClock) -> AsyncIterator[FakeZalo]:
    server = FakeZalo(clock=clock.now)
    await server.start()
    yield server
    await server.stop()
    assert server.violations == [], server.violations


def point_at(settings: Settings, fake: FakeZalo) -> None:
    settings.zalo_oa_app_id, settings.zalo_oa_secret_key = APP_ID, OA_SECRET_KEY
    settings.zalo_app_secret = APP_SECRET
    settings.zalo_oa_access_token, settings.zalo_oa_refresh_token = fake.access_token, fake.refresh_token
    settings.zalo_oa_api_base = settings.zalo_oauth_base = settings.zalo_zns_api_base = fake.base_url


@dataclass
class Harness:
    app: App
    zalo: ZaloOA
    fake: FakeZalo
    url: str

    async def post(self, event: dict[str, Any], signature: str | None = "") -> int:
        """Deliver an event as Zalo does and wait until the bot has answered it."""
        status = await self.fake.post(self.url, event, signature)
        await self.zalo.wait_idle()
        return status

    def user(self, user_id: str) -> ZaloUser:
        return ZaloUser(self, user_id)


@asynccontextmanager
async def serving(app: App, fake: FakeZalo) -> AsyncIterator[Harness]:
    point_at(app.settings, fake)
    zalo = ZaloOA(app, retry_base_delay=0.01)
    application = web.Application()
    zalo.add_routes(application)
    runner, base_url = await serve_locally(application)
    try:
        yield Harness(app, zalo, fake, f"{base_url}{WEBHOOK_PATH}")
    finally:
        await zalo.stop()
        await runner.cleanup()


@pytest.fixture
async def harness(app: App, fake: FakeZalo) -> AsyncIterator[Harness]:
    async with serving(app, fake) as served:
        yield served


@dataclass
class ZaloUser:
    """A citizen in the Zalo app: sends events, reads what the OA sent them."""

    harness: Harness
    user_id: str
    seen: int = 0
    last: list[SentCS] = field(default_factory=list)

    async def deliver(self, event: dict[str, Any]) -> list[SentCS]:
        assert await self.harness.post(event) == 200
        mine = self.harness.fake.sent_to(self.user_id)
        self.last, self.seen = mine[self.seen :], len(mine)
        return self.last

    async def follow(self) -> list[SentCS]:
        return await self.deliver(self.harness.fake.event("follow", self.user_id))

    async def say(self, text: str) -> list[SentCS]:
        return await self.deliver(self.harness.fake.text_event(self.user_id, text))

    async def submit_info(self, name: str, phone: str) -> list[SentCS]:
        return await self.deliver(self.harness.fake.submit_info_event(self.user_id, name, phone))

    async def press(self, wanted: str) -> list[SentCS]:
        """Press the button whose payload is (`ep:` starts) `wanted` or whose title contains it.
        Zalo sends the pressed oa.query.hide button's payload back as the user's text."""
        buttons = [button for sent in self.last for button in sent.buttons]
        for button in buttons:
            bare = button["payload"].removeprefix(BUTTON_PREFIX).partition(":")[2]
            prefix = wanted.endswith(":") and bare.startswith(wanted)
            if bare == wanted or prefix or fold(wanted) in fold(button["title"]):
                return await self.say(button["payload"])
        raise AssertionError(f"no button {wanted!r} in {[b['title'] for b in buttons]}")

    @property
    def text(self) -> str:
        return "\n".join(sent.text for sent in self.last)


async def count(app: App, model: type[Any]) -> int:
    async with app.sessions() as db:
        return await db.scalar(select(func.count()).select_from(model)) or 0


async def citizen(app: App, user_id: str) -> Citizen:
    async with app.sessions() as db:
        found = await db.scalar(
            select(Citizen).where(Citizen.channel == "zalo", Citizen.channel_user_id == user_id)
        )
        assert found is not None
        return found


async def notice_of(app: App, kind: str) -> Notification:
    """The one notice of that kind."""
    async with app.sessions() as db:
        notice = await db.scalar(select(Notification).where(Notification.kind == kind))
    assert notice is not None
    return notice


async def consented(user: ZaloUser) -> None:
    await user.follow()
    await user.press("Tiếng Việt")
    await user.press("agree")


# --- the conversation ---------------------------------------------------------------------


async def test_follow_consent_register_with_buttons_and_shared_info(harness: Harness, world: World) -> None:
    user = harness.user("u-1001")
    await user.follow()
    assert "Xin chào" in user.text
    assert [b["title"] for b in user.last[-1].buttons] == ["1. Tiếng Việt", "2. English"]
    assert "  1. Tiếng Việt" in user.text  # the numbers can be typed, too
    await user.say("1")
    assert "đồng ý" in user.text.lower()
    await user.press("agree")
    await user.press("register")
    await user.say(nfd("tân bình"))  # Zalo may send decomposed Vietnamese
    await user.press("ep:")
    await user.press("s:")
    await user.say(nfd("nguyễn văn an"))
    phone_prompt = user.last[-1]
    assert phone_prompt.template_type == "request_user_info"
    assert "số điện thoại" in user.last[-2].text.lower()
    await user.submit_info("Nguyễn Văn An", "84912345678")
    assert "0912 345 678" in user.text
    await user.say(ID_NUMBER)
    await user.say("12 Lý Thường Kiệt, phường Tân Bình")
    await user.press("complaint")
    await user.press("land")
    await user.say(SUMMARY)
    await user.press("Xong")
    file = {"url": "https://zalo.example/don.pdf", "name": "don.pdf", "size": "2048", "type": "pdf"}
    attachment = [{"type": "file", "payload": file}]
    await user.deliver(harness.fake.message_event("user_send_file", user.user_id, attachments=attachment))
    assert "don.pdf" in user.text
    await user.press("done")
    await user.press("none")
    await user.press("alone")
    await user.press("confirm")
    async with harness.app.sessions() as db:
        registration = await db.scalar(select(SignUp))
        assert registration is not None and registration.code and registration.code in user.text
        assert [item["name"] for item in registration.case.attachments] == ["don.pdf"]
        assert registration.case.full_name == "Nguyễn Văn An"  # NFC, not the NFD that was typed
        assert registration.case.full_name == unicodedata.normalize("NFC", registration.case.full_name)
        assert registration.case.phone == "+84912345678"
    assert all(len(sent.text) <= 2000 for sent in harness.fake.sent)


async def test_typing_the_number_works_where_the_phone_form_is_offered(
    harness: Harness, world: World
) -> None:
    user = harness.user("u-1002")
    await consented(user)
    await user.press("register")
    await user.say("tan binh")
    await user.press("ep:")
    await user.press("s:")
    await user.say("Trần Thị Bích")
    await user.say("0912 345 678")
    assert "0912 345 678" in user.text


def test_nfd_text_becomes_nfc_and_a_button_payload_an_option() -> None:
    payload = {
        "app_id": APP_ID,
        "event_name": "user_send_text",
        "sender": {"id": "u1"},
        "recipient": {"id": "oa"},
        "message": {"msg_id": "m1", "text": nfd("  Phường Tân Bình ")},
        "timestamp": "1",
    }
    event = classify(payload)
    assert event is not None and event.event_id == "m1"
    incoming = to_incoming(event, payload)
    assert incoming.text == "Phường Tân Bình" == unicodedata.normalize("NFC", incoming.text)
    payload["message"] = {"msg_id": "m2", "text": f"{BUTTON_PREFIX}4:agree"}
    event = classify(payload)
    assert event is not None and to_incoming(event, payload).option == "4:agree"


def test_many_options_go_five_buttons_a_message_each_listing_its_numbers() -> None:
    options = tuple(Option(f"1:o{n}", f"Lựa chọn {n}") for n in range(1, 8))
    first, second = messages_for(Reply("Chọn một:", options))
    assert first["text"].startswith("Chọn một:") and "  5. Lựa chọn 5" in first["text"]
    assert len(first["attachment"]["payload"]["buttons"]) == 5
    assert second["text"] == "  6. Lựa chọn 6\n  7. Lựa chọn 7"
    assert [b["payload"] for b in second["attachment"]["payload"]["buttons"]] == ["#chon:1:o6", "#chon:1:o7"]


async def test_long_text_is_split_at_line_ends(harness: Harness) -> None:
    harness.fake.event("follow", "u-long")
    line = "Dòng thông báo dài về lịch tiếp công dân. " * 4
    text = "\n".join(f"{n}. {line}" for n in range(30))
    await harness.zalo.channel.send("u-long", [Reply(text)])
    sent = harness.fake.sent_to("u-long")
    assert len(sent) > 1 and all(len(s.text) <= 2000 for s in sent)
    assert "\n".join(s.text for s in sent) == text


# --- the webhook ----------------------------------------------------------------------------


async def test_a_forged_or_missing_signature_is_refused(harness: Harness, world: World) -> None:
    event = harness.fake.text_event("u-2001", "/start")
    assert await harness.post(event, signature="mac=" + "0" * 64) == 401
    assert await harness.post(event, signature=None) == 401
    forged = FakeZalo.sign(b"{}", str(event["timestamp"]), secret="guessed")
    assert await harness.post(event, signature=forged) == 401
    assert await count(harness.app, InboundUpdate) == 0 and harness.fake.sent == []


async def test_a_body_over_the_cap_is_refused(harness: Harness) -> None:
    event = harness.fake.text_event("u-2002", "x" * 70_000)
    assert await harness.post(event) == 413
    assert await count(harness.app, InboundUpdate) == 0


async def test_a_repeated_delivery_is_handled_once(harness: Harness, world: World) -> None:
    user = harness.user("u-2003")
    follow = harness.fake.event("follow", user.user_id)
    assert await harness.post(follow) == 200
    assert await harness.post(follow) == 200  # Zalo retries when the 200 is late: same content
    text = harness.fake.text_event(user.user_id, "1")
    assert await harness.post(text) == 200
    assert await harness.post(text) == 200  # same msg_id
    sent = harness.fake.sent_to(user.user_id)
    assert len(sent) == 2, [s.text[:40] for s in sent]  # the welcome and the consent notice
    assert await count(harness.app, InboundUpdate) == 2


async def test_echoes_and_other_events_are_acknowledged_not_handled(harness: Harness, world: World) -> None:
    echo = harness.fake.message_event("oa_send_text", "u-2004", text="Xin chào")
    seen = harness.fake.event("user_seen_message", "u-2004", message={"msg_ids": ["m1"]})
    assert await harness.post(echo) == 200
    assert await harness.post(seen) == 200
    assert await count(harness.app, InboundUpdate) == 0 and harness.fake.sent == []


async def test_an_event_the_database_cannot_take_is_a_503_then_taken(harness: Harness, world: World) -> None:
    event = harness.fake.text_event("u-2011", "Xin chào")
    async with updates_cannot_be_stored(harness.app):
        assert await harness.post(event) == 503  # Zalo delivers it again
    assert await harness.post(event) == 200
    assert await count(harness.app, InboundUpdate) == 1


async def test_an_event_whose_ids_are_not_ids_makes_no_citizen(harness: Harness, world: World) -> None:
    """A sender id that is null, an object or 200 characters is a malformed event, not a user:
    acknowledged, never a citizen nor a message sent to "None"."""
    for sender in (None, {"nested": 1}, ["u"], True, "9" * 200, ""):
        event = harness.fake.text_event("u-2010", "Xin chào")
        event["sender"] = {"id": sender}
        assert await harness.post(event) == 200
    assert await count(harness.app, Citizen) == 0 and harness.fake.sent == []


def test_a_message_id_or_text_that_is_not_a_string_is_not_taken_as_one() -> None:
    payload = {
        "event_name": "user_send_text",
        "sender": {"id": 2468458835296117922},  # a number is an id as Zalo's own are
        "message": {"msg_id": ["a"], "text": {"x": 1}},
    }
    event = classify(payload)
    assert event is not None and event.user_id == "2468458835296117922"
    assert event.event_id != "['a']" and len(event.event_id) == 64  # the event's hash instead
    assert to_incoming(event, payload).text == ""


async def test_unfollow_marks_unreachable_and_follow_reachable(
    harness: Harness, world: World, clock: FrozenClock
) -> None:
    user = harness.user("u-2005")
    await user.follow()
    assert await harness.post(harness.fake.event("unfollow", user.user_id)) == 200
    assert (await citizen(harness.app, user.user_id)).unreachable
    async with harness.app.sessions() as db:
        assert await inbound.unhandled(db, "zalo") == []
    clock.advance(timedelta(minutes=1))  # a new follow, not a repeat of the first (same timestamp)
    await user.follow()
    assert "Xin chào" in user.text  # greeted again
    assert not (await citizen(harness.app, user.user_id)).unreachable


async def test_a_late_repeat_of_unfollow_or_follow_changes_nothing(
    harness: Harness, world: World, clock: FrozenClock
) -> None:
    user = harness.user("u-2010")
    await consented(user)
    clock.advance(timedelta(minutes=1))  # each event of its own moment, as at Zalo
    unfollow = harness.fake.event("unfollow", user.user_id)
    assert await harness.post(unfollow) == 200
    clock.advance(timedelta(minutes=1))
    follow = harness.fake.event("follow", user.user_id)
    assert await harness.post(follow) == 200
    assert not (await citizen(harness.app, user.user_id)).unreachable
    # Zalo delivers the unfollow again (our first 200 came late): they still follow the OA.
    assert await harness.post(unfollow) == 200
    assert not (await citizen(harness.app, user.user_id)).unreachable
    clock.advance(timedelta(minutes=1))
    assert await harness.post(harness.fake.event("unfollow", user.user_id)) == 200
    assert await harness.post(follow) == 200  # and a late follow does not undo a later unfollow
    assert (await citizen(harness.app, user.user_id)).unreachable


async def test_an_event_stored_before_a_crash_is_handled_on_start(
    app: App, fake: FakeZalo, world: World
) -> None:
    event = fake.event("follow", "u-2006")
    async with app.sessions() as db, db.begin():
        await inbound.store(db, "zalo", classify(event).event_id, event, app.clock.now())  # type: ignore[union-attr]
    async with serving(app, fake) as served:
        assert await served.zalo.start() == 1
        assert "Xin chào" in fake.sent_to("u-2006")[0].text
        assert await served.zalo.start() == 0


async def test_shared_files_become_attachments(harness: Harness, world: World) -> None:
    user = harness.user("u-2007")
    await consented(user)
    image = [{"type": "image", "payload": {"url": "https://zalo.example/i.jpg", "thumbnail": ""}}]
    await user.deliver(
        harness.fake.message_event("user_send_image", user.user_id, text="", attachments=image)
    )
    assert "Bước này không nhận tệp" in user.text


async def test_malformed_events_are_answered_and_marked_handled(harness: Harness, world: World) -> None:
    user = harness.user("u-2008")
    await consented(user)
    fake = harness.fake
    # `attachments` that is not a list, a sticker without its message: answered, not dropped.
    await user.deliver(fake.message_event("user_send_image", user.user_id, attachments=5))
    assert "DANH MỤC CHÍNH" in user.text
    await user.deliver(fake.event("user_send_sticker", user.user_id))
    # A sticker is no file: read as no text, the menu asked again (no word of attachments).
    assert "chọn một mục trong danh mục" in user.text and "DANH MỤC CHÍNH" in user.text
    assert "không nhận tệp" not in user.text and "Tệp đính kèm" not in user.text
    await user.deliver(fake.message_event("user_send_file", user.user_id, attachments=[{"payload": "x"}, 7]))
    assert "DANH MỤC CHÍNH" in user.text
    async with harness.app.sessions() as db:
        assert await inbound.unhandled(db, "zalo") == []  # nothing left to fail again at every start


async def test_a_link_is_read_as_the_text_it_came_in(harness: Harness, world: World) -> None:
    user = harness.user("u-2009")
    await consented(user)
    await user.press("register")
    await user.say("tan binh")
    await user.press("ep:")
    await user.press("s:")
    await user.say("Trần Thị Bích")
    await user.say("0912 345 678")
    await user.say(ID_NUMBER)
    await user.say("12 Lý Thường Kiệt, phường Tân Bình")
    await user.press("complaint")
    await user.press("land")
    # Zalo sends a message holding a link as user_send_link, with the text and a link preview.
    summary = f"{SUMMARY} Bài báo: https://baomoi.example/thu-hoi-dat"
    preview = [{"type": "link", "payload": {"url": "https://baomoi.example/thu-hoi-dat", "description": ""}}]
    await user.deliver(
        harness.fake.message_event("user_send_link", user.user_id, text=summary, attachments=preview)
    )
    assert "không nhận tệp" not in user.text
    await user.press("Xong")  # the summary is complete
    await user.press("done")
    await user.press("none")
    await user.press("alone")
    assert "https://baomoi.example/thu-hoi-dat" in user.text  # in the review of the registration


def test_images_and_files_are_mapped_to_attachments() -> None:
    file = {"url": "https://zalo.example/f", "name": "don.pdf", "size": "2048", "type": "pdf"}
    payload = {
        "event_name": "user_send_file",
        "sender": {"id": "u1"},
        "message": {"msg_id": "m9", "attachments": [{"type": "file", "payload": file}]},
        "timestamp": "1",
    }
    event = classify(payload)
    assert event is not None
    (attachment,) = to_incoming(event, payload).attachments
    assert (attachment.kind, attachment.name, attachment.size) == ("document", "don.pdf", 2048)
    assert attachment.mime_type == "application/pdf" and attachment.file_id == file["url"]


# --- tokens ------------------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_once_for_two_concurrent_workers(
    app: App, fake: FakeZalo, world: World
) -> None:
    async with serving(app, fake) as first, serving(app, fake) as second:  # two processes' worth
        alice, bob = first.user("u-3001"), second.user("u-3002")
        await consented(alice)
        await consented(bob)
        old = fake.access_token
        fake.expire_access_tokens()  # mid-conversation
        await asyncio.gather(alice.press("register"), bob.press("register"))
        assert fake.refresh_calls == 1
        assert "điểm cầu" in alice.text.lower() and "điểm cầu" in bob.text.lower()
    async with app.sessions() as db:
        row = await db.get(ZaloOAToken, APP_ID)
        assert row is not None and row.access_token == fake.access_token != old
        assert row.refresh_token == fake.refresh_token  # the new single-use token, kept
        assert row.expires_at == app.clock.now() + timedelta(seconds=90000)


async def test_a_token_near_its_expiry_is_refreshed_before_use(
    harness: Harness, clock: FrozenClock, world: World
) -> None:
    user = harness.user("u-3003")
    await user.follow()
    assert harness.fake.refresh_calls == 0  # the seeded token is trusted for a while
    clock.advance(timedelta(hours=2))
    await user.say("1")
    assert harness.fake.refresh_calls == 1
    clock.advance(timedelta(hours=24, minutes=45))  # 25 h tokens are refreshed half an hour early
    await user.say("/start")
    assert harness.fake.refresh_calls == 2 and harness.fake.refused_refreshes == 0


async def test_a_refused_refresh_alerts_the_admins_and_never_logs_a_token(
    staff_app: App, fake: FakeZalo, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = {fake.access_token, fake.refresh_token}
    async with serving(staff_app, fake) as served:
        user = served.user("u-3004")
        await user.follow()
        fake.expire_access_tokens()
        fake.revoke_refresh_tokens()
        await user.say("1")
        await user.say("2")
        assert fake.refused_refreshes == 2 and user.last == []
        assert counted(staff_app, "tiepdan_zalo_oa_token_refresh_refused_total") == 2  # shown at /metrics
    async with staff_app.sessions() as db:
        alerts = list(await db.scalars(select(Notification).where(Notification.kind == "zalo_token_failed")))
        assert len(alerts) == 1  # once a day per admin
        admin = await db.get(Citizen, alerts[0].citizen_id)
        assert admin is not None and (admin.channel, admin.channel_user_id) == ("test", ADMIN_ID)
    secrets |= {fake.access_token, fake.refresh_token}
    ours = [r for r in caplog.records if r.name.startswith(("bot", "storage", "aiohttp"))]
    written = [logging.Formatter().format(record) for record in ours]  # with tracebacks
    assert written and not any(secret in line for line in written for secret in secrets)

    class Recorder:
        name = "test"
        capabilities = served.zalo.channel.capabilities
        sent: list[Reply] = []  # noqa: RUF012

        async def send(self, user_id: str, replies: list[Reply]) -> None:
            self.sent.extend(replies)

    recorder = Recorder()
    await Outbox(staff_app.sessions, staff_app.settings, staff_app.clock, {"test": recorder}).drain()
    assert "Zalo OA" in recorder.sent[0].text and "Invalid refresh token" in recorder.sent[0].text


# --- the 7-day window and unreachable users -------------------------------------------------------


async def test_outside_the_window_nothing_is_sent_and_window_closed_is_raised(
    harness: Harness, clock: FrozenClock, world: World
) -> None:
    user = harness.user("u-4001")
    await user.follow()
    clock.advance(timedelta(days=7, minutes=1))
    with pytest.raises(WindowClosed):
        await harness.zalo.channel.send(user.user_id, [Reply("Lịch tiếp công dân đã thay đổi.")])
    assert len(harness.fake.sent_to(user.user_id)) == 1  # only the welcome, before
    harness.fake.last_interaction.pop(user.user_id)  # Zalo knows better than our record (-230)
    clock.advance(timedelta(days=-7))
    with pytest.raises(WindowClosed):
        await harness.zalo.channel.send(user.user_id, [Reply("Lịch tiếp công dân đã thay đổi.")])
    assert not (await citizen(harness.app, user.user_id)).unreachable  # closed, not blocked


async def test_a_late_repeat_of_an_old_event_does_not_reopen_the_window(
    harness: Harness, clock: FrozenClock, world: World
) -> None:
    user = harness.user("u-4003")
    first = harness.fake.event("follow", user.user_id)
    await user.deliver(first)
    clock.advance(timedelta(days=2))
    await user.say("xin chào")
    written = clock.now()
    clock.advance(timedelta(days=6))
    assert await harness.post(first) == 200  # Zalo delivers the 8-day-old follow again
    assert (await citizen(harness.app, user.user_id)).last_seen_at == written
    with pytest.raises(WindowClosed):  # 6 days after they last wrote, and counting
        clock.advance(timedelta(days=1, minutes=1))
        await harness.zalo.channel.send(user.user_id, [Reply("Lịch tiếp công dân đã thay đổi.")])


async def test_a_banned_user_is_marked_unreachable(harness: Harness, world: World) -> None:
    user = harness.user("u-4002")
    await user.follow()
    harness.fake.banned.add(user.user_id)
    with pytest.raises(RecipientUnreachable) as raised:
        await harness.zalo.channel.send(user.user_id, [Reply("Thông báo")])
    assert not isinstance(raised.value, WindowClosed)
    assert (await citizen(harness.app, user.user_id)).unreachable


async def test_a_server_error_is_retried(harness: Harness, world: World) -> None:
    user = harness.user("u-4003")
    harness.fake.inject("/v3.0/oa/message/cs", 502, times=2)
    await user.follow()
    assert "Xin chào" in user.text
    assert counted(harness.app, "tiepdan_rate_limited_total", channel="zalo") == 0


async def test_a_429_is_retried_and_counted(harness: Harness, world: World) -> None:
    user = harness.user("u-4004")
    harness.fake.inject("/v3.0/oa/message/cs", 429)
    await user.follow()
    assert "Xin chào" in user.text
    assert counted(harness.app, "tiepdan_rate_limited_total", channel="zalo") == 1  # shown at /metrics


# --- ZNS -------------------------------------------------------------------------------------------


async def test_a_zns_template_is_sent_by_phone_with_our_tracking_id(harness: Harness) -> None:
    client = harness.zalo.client
    harness.fake.expire_access_tokens()  # ZNS answers -124: refreshed once, sent again
    msg_id = await client.send_zns(
        "+84912345678", "reschedule-tpl", {"code": "TCD-1", "time": "08:00 07/12/2026"}, "session_moved:1:2"
    )
    assert msg_id and harness.fake.refresh_calls == 1
    assert harness.fake.zns == [
        {
            "phone": "84912345678",
            "template_id": "reschedule-tpl",
            "template_data": {"code": "TCD-1", "time": "08:00 07/12/2026"},
            "tracking_id": "session_moved:1:2",
        }
    ]
    with pytest.raises(PermanentError) as raised:
        await client.send_zns("+84912345678", "unknown-tpl", {}, "x:1")
    assert raised.value.code == -109


async def registered(user: ZaloUser) -> None:
    """Consent and a complete registration, the phone given through the Zalo form."""
    await consented(user)
    await user.press("register")
    await user.say("tân bình")
    await user.press("ep:")
    await user.press("s:")
    await user.say("Nguyễn Văn An")
    await user.submit_info("Nguyễn Văn An", "84912345678")
    await user.say(ID_NUMBER)
    await user.say("12 Lý Thường Kiệt, phường Tân Bình")
    await user.press("complaint")
    await user.press("land")
    await user.say(SUMMARY)
    await user.press("Xong")
    await user.press("done")  # no files
    await user.press("none")
    await user.press("alone")
    await user.press("confirm")
    assert "TCD-2026-" in user.text


async def move_first_session(app: App, world: World, days: int) -> None:
    async with app.sessions() as db, db.begin():
        await schedule.reschedule(
            db,
            world.first_id,
            world.first_start + timedelta(days=days),
            reason="Trùng lịch họp HĐND",
            override=False,
            lead_days=app.settings.summary_lead_days,
            actor=Actor(key=UserKey("test", ADMIN_ID), role=StaffRole.ADMIN),
            now=app.clock.now(),
        )


def zalo_outbox(harness: Harness) -> Outbox:
    zalo = harness.zalo
    app = harness.app
    return Outbox(app.sessions, app.settings, app.clock, {"zalo": zalo.channel}, {"zalo": zalo.zns})


async def test_a_reschedule_notice_outside_the_window_goes_by_zns(
    harness: Harness, clock: FrozenClock, world: World
) -> None:
    harness.fake.zns_templates = {"412345"}
    harness.zalo.zns.templates = {"session_moved": "412345"}
    user = harness.user("u-5001")
    await registered(user)
    clock.advance(timedelta(days=8))  # the citizen has not written for 8 days
    await move_first_session(harness.app, world, days=3)
    before = len(harness.fake.sent_to(user.user_id))
    assert await zalo_outbox(harness).send_due() == 1
    assert len(harness.fake.sent_to(user.user_id)) == before  # no consultation message
    (sent,) = harness.fake.zns
    assert sent["phone"] == "84912345678" and sent["template_id"] == "412345"
    data = sent["template_data"]
    assert data["code"].startswith("TCD-2026-") and data["reason"] == "Trùng lịch họp HĐND"
    assert data["old_time"] == "Thứ Hai, 07/12/2026 08:00" and data["new_time"] == "Thứ Năm, 10/12/2026 08:00"
    notice = await notice_of(harness.app, "session_moved")
    assert notice.state == "sent" and notice.result.startswith("by template")
    assert sent["tracking_id"] == notice.dedupe_key


async def test_without_a_template_the_notice_is_left_for_staff_to_call(
    harness: Harness, clock: FrozenClock, world: World
) -> None:
    user = harness.user("u-5002")
    await registered(user)
    clock.advance(timedelta(days=8))
    await move_first_session(harness.app, world, days=3)
    assert await zalo_outbox(harness).send_due() == 0
    assert harness.fake.zns == []
    notice = await notice_of(harness.app, "session_moved")
    assert notice.state == "undeliverable" and "no template for session_moved" in notice.result


async def test_news_of_their_case_reaches_a_citizen_who_unfollowed_by_zns_and_nothing_else_does(
    harness: Harness, clock: FrozenClock, world: World
) -> None:
    harness.fake.zns_templates = {"412345"}
    harness.zalo.zns.templates = {"session_moved": "412345", "reminder": "412346"}
    user = harness.user("u-5004")
    await registered(user)
    assert await harness.post(harness.fake.event("unfollow", user.user_id)) == 200
    await move_first_session(harness.app, world, days=3)
    before = len(harness.fake.sent_to(user.user_id))
    assert await zalo_outbox(harness).send_due() == 1
    assert len(harness.fake.sent_to(user.user_id)) == before  # the chat is closed to us
    (sent,) = harness.fake.zns
    assert sent["template_id"] == "412345" and sent["phone"] == "84912345678"
    clock.set(world.first_start + timedelta(days=3) - timedelta(hours=24))  # the moved session's eve
    assert await zalo_outbox(harness).send_due() == 0  # a reminder is not worth a template
    assert len(harness.fake.zns) == 1
    assert (await notice_of(harness.app, "reminder")).state == "unreachable"


async def test_an_unfollower_without_a_template_is_left_for_staff_to_call(
    harness: Harness, world: World
) -> None:
    user = harness.user("u-5005")
    await registered(user)
    assert await harness.post(harness.fake.event("unfollow", user.user_id)) == 200
    await move_first_session(harness.app, world, days=3)
    assert await zalo_outbox(harness).send_due() == 0
    notice = await notice_of(harness.app, "session_moved")
    assert notice.state == "unreachable" and "no template for session_moved" in notice.result


async def test_inside_the_window_the_notice_is_a_chat_message(
    harness: Harness, clock: FrozenClock, world: World
) -> None:
    harness.zalo.zns.templates = {"session_moved": "412345"}
    user = harness.user("u-5003")
    await registered(user)
    clock.advance(timedelta(days=6))
    await move_first_session(harness.app, world, days=3)
    assert await zalo_outbox(harness).send_due() == 1
    assert "Trùng lịch họp HĐND" in harness.fake.sent_to(user.user_id)[-1].text
    assert harness.fake.zns == []


def test_files_sent_back_to_a_zalo_chat_are_links_or_names() -> None:
    reply = Reply(
        "Hồ sơ kèm theo",
        files=(
            Attachment("document", "https://zalo.example/don.pdf", "don.pdf", "application/pdf", 2048),
            Attachment("photo", "AgACAgIAAxkBAAIB", "anh.jpg", "image/jpeg", 1000),  # a Telegram file id
        ),
    )
    (message,) = messages_for(reply)
    assert message["text"] == "Hồ sơ kèm theo\n📎 don.pdf: https://zalo.example/don.pdf\n📎 anh.jpg"


# --- staff on Zalo ------------------------------------------------------------------------------


async def test_an_admin_on_zalo_gets_the_export_as_a_word_file(
    database_url: str, clock: FrozenClock, fake: FakeZalo, world: World
) -> None:
    app = build_app(make_settings(database_url, admins="zalo:u-6001"), clock)
    await citizens_registered(app)
    async with serving(app, fake) as harness:
        admin = harness.user("u-6001")
        await admin.follow()
        fake.inject("/v2.0/oa/upload/file", 502)  # the upload is tried again, with a new form
        await admin.say(f"/export {world.first_id}")
    await app.close()
    assert "Số đăng ký: 3" in admin.text and "Gửi kèm: DOCX." in admin.text
    (upload,) = fake.uploads.values()  # Zalo takes Word files, not spreadsheets
    filename, content = upload
    assert filename == "so-tiep-cong-dan-2026-12-07.docx"
    cells = [cell.text for table in docx.Document(io.BytesIO(content)).tables for cell in table._cells]
    assert any("Nguyễn Văn An" in text for text in cells), cells
    files = [sent.message for sent in admin.last if not sent.text]
    assert files == [{"attachment": {"type": "file", "payload": {"token": "file-0001"}}}]
