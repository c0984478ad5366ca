"""Finding an endpoint and seeing upcoming sessions."""

from __future__ import annotations

from datetime import timedelta

from bot.app import App
from bot.clock import FrozenClock
from tests.conftest import World
from tests.flows import consent
from tests.support import ChatUser


async def test_endpoint_list_is_paged_and_searchable(app: App, world: World, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("register")
    assert "(trang 1/3)" in chat.text
    first_page = [label for label in chat.labels if not label.startswith("Trang")]
    assert len(first_page) == 6 and chat.labels[-1] == "Trang sau »"
    await chat.press("next")
    assert "(trang 2/3)" in chat.text and "« Trang trước" in chat.labels
    await chat.press("next")
    assert "(trang 3/3)" in chat.text and "Trang sau »" not in chat.labels
    await chat.press("prev")
    assert "(trang 2/3)" in chat.text

    await chat.say("côn đảo")
    assert "Có 1 điểm cầu khớp với «côn đảo»" in chat.text
    assert chat.labels == ["Đặc khu Côn Đảo", "Xem tất cả điểm cầu"]
    await chat.say("dac khu")
    assert chat.labels[0] == "Đặc khu Côn Đảo"
    await chat.press("all")
    assert "(trang 1/3)" in chat.text
    await chat.say("phuong so")
    assert "Có 10 điểm cầu" in chat.text and "(trang 1/2)" in chat.text


async def test_endpoint_with_no_open_session(
    app: App, world: World, clock: FrozenClock, chat: ChatUser
) -> None:
    clock.set(world.second_start - timedelta(days=4))  # both sessions closed for registration
    await consent(chat)
    await chat.press("register")
    await chat.say("tan binh")
    await chat.press("ep:")
    assert "chưa có buổi tiếp nào còn nhận đăng ký" in chat.text
    await chat.press("Chọn điểm cầu khác")
    assert "Xin Ông/Bà chọn điểm cầu" in chat.text


async def test_upcoming_sessions(app: App, world: World, clock: FrozenClock, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("sessions")
    assert "LỊCH TIẾP CÔNG DÂN SẮP TỚI" in chat.text
    assert chat.text.count("đang nhận đăng ký") == 2
    assert "Thứ Hai, 07/12/2026 08:00" in chat.text and "Số điểm cầu: 13" in chat.text
    clock.set(world.first_start - timedelta(days=1))
    await chat.say("/menu")
    await chat.press("sessions")
    assert "đã hết hạn đăng ký" in chat.text and "đang nhận đăng ký" in chat.text
    await chat.press("register")
    assert "điểm cầu" in chat.text


async def test_no_sessions_scheduled(app: App, chat: ChatUser) -> None:
    await consent(chat)
    await chat.press("sessions")
    assert "chưa có lịch tiếp công dân" in chat.text
