"""The console channel and `tiepdan run` as a person uses them."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from bot.app import App
from bot.channels.console import ConsoleChannel, render
from bot.dialog.types import Document, Option, Reply
from tests.conftest import World
from tests.flows import ID_NUMBER, SUMMARY

CITIZEN_SESSION = [
    "1",  # Tiếng Việt
    "1",  # Tôi đồng ý
    "1",  # Đăng ký tiếp công dân
    "tan binh",
    "1",  # Phường Tân Bình
    "1",  # the first open session
    "Nguyễn Văn An",
    "0912345678",
    ID_NUMBER,
    "12 Lý Thường Kiệt, phường Tân Bình",
    "1",  # Khiếu nại
    "1",  # Đất đai
    SUMMARY,
    "xong",  # the summary is complete
    "1",  # no agency yet
    "1",  # only me
    "1",  # confirm
]


async def test_the_next_run_goes_on_where_the_last_one_stopped(app: App, world: World) -> None:
    halfway = CITIZEN_SESSION[: CITIZEN_SESSION.index("Nguyễn Văn An") + 1]
    await ConsoleChannel(app.dialog, out=io.StringIO()).run(lines_then_eof(halfway))
    out = io.StringIO()
    await ConsoleChannel(app.dialog, out=out).run(lines_then_eof([]))  # `make run` again
    transcript = out.getvalue()
    assert "số điện thoại" in transcript and "Tiếng Việt" not in transcript  # no start over
    out = io.StringIO()
    await ConsoleChannel(app.dialog, out=out).run(lines_then_eof(CITIZEN_SESSION[len(halfway) :]))
    assert "ĐĂNG KÝ THÀNH CÔNG" in out.getvalue() and "Nguyễn Văn An" in out.getvalue()


def test_options_are_numbered_lines() -> None:
    reply = Reply("Chọn:", (Option("1:a", "Tiếng Việt"), Option("1:b", "English")))
    assert render(reply) == "Chọn:\n  1. Tiếng Việt\n  2. English"


def lines_then_eof(lines: list[str]) -> Callable[[str], str]:
    """What a person types, then Ctrl-D."""
    typed = iter(lines)

    def read_line(prompt: str) -> str:
        try:
            return next(typed)
        except StopIteration:
            raise EOFError from None

    return read_line


async def test_a_citizen_registers_in_the_console(app: App, world: World) -> None:
    out = io.StringIO()
    await ConsoleChannel(app.dialog, out=out).run(lines_then_eof(CITIZEN_SESSION))
    transcript = out.getvalue()
    assert "  1. Tiếng Việt\n  2. English" in transcript
    assert "ĐĂNG KÝ THÀNH CÔNG" in transcript and "TCD-2026-000001" in transcript


def test_tiepdan_run_on_a_fresh_database(tmp_path: Path) -> None:
    """`make run` without a token: migrate, load the demo data, open the console chat."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/fresh.db",
        "TELEGRAM_BOT_TOKEN": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        input="\n".join(CITIZEN_SESSION) + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "demo data loaded" in result.stdout
    assert "ĐĂNG KÝ THÀNH CÔNG" in result.stdout, result.stdout[-2000:]
    assert "Traceback" not in result.stderr


def test_tiepdan_run_loads_the_endpoints_file(tmp_path: Path) -> None:
    (tmp_path / "endpoints.csv").write_text(
        "code,name,area\nX-THU,Xã Thử Nghiệm,Khu vực thử\n", encoding="utf-8"
    )
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/fresh.db",
        "ENDPOINTS_FILE": str(tmp_path / "endpoints.csv"),
        "TELEGRAM_BOT_TOKEN": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "endpoints: 1 added, 0 updated" in result.stdout
    (tmp_path / "endpoints.csv").write_text("code\nX-THU\n", encoding="utf-8")  # no name: refused
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "missing: name" in result.stderr


async def test_documents_are_saved_where_the_console_says(app: App, tmp_path: Path) -> None:
    out = io.StringIO()
    channel = ConsoleChannel(app.dialog, out=out, files_dir=tmp_path / "files")
    await channel.send("local", [Reply("", document=Document("so.csv", b"\xef\xbb\xbfa,b\n"))])
    assert (tmp_path / "files" / "so.csv").read_bytes() == b"\xef\xbb\xbfa,b\n"
    assert str(tmp_path / "files" / "so.csv") in out.getvalue()
