"""`tiepdan doctor`: one line per check naming the setting it judges, and a non-zero exit
when something blocks service. Against the fake Telegram, Zalo OA and Zalo Bot servers over
real HTTP, on both engines."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import cli, doctor
from bot.app import build_app
from bot.channels.telegram.runner import webhook_target
from bot.clock import FrozenClock
from bot.dialog.types import Incoming
from bot.findings import Finding, Status
from bot.settings import Settings
from storage import citizens, migrate, zalo_oa
from storage.db import create_engine, session_factory
from storage.identity import UserKey
from storage.outbox import NoticeKind, TokenFailed, queue
from tests.conftest import make_settings
from tests.fakes import telegram_api, zalo_bot_api
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.zalo_bot_api import FakeZaloBot
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, OA_NAME, OA_SECRET_KEY, FakeZalo
from tests.support import TEXT_ONLY

WEBHOOK_URL = "https://tiepdan.example.gov.vn"
WEBHOOK_SECRET = "a-webhook-secret-of-32-characters"
ADMIN = UserKey("telegram", "4242")


@dataclass
class Fakes:
    telegram: FakeTelegram
    zalo: FakeZalo
    zalo_bot: FakeZaloBot


@pytest.fixture
def clock() -> FrozenClock:
    """Now, for real: the doctor compares this machine's clock with the database's."""
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
async def fakes(clock: FrozenClock) -> AsyncIterator[Fakes]:
    servers = Fakes(FakeTelegram(), FakeZalo(clock=clock.now), FakeZaloBot())
    for server in (servers.telegram, servers.zalo, servers.zalo_bot):
        await server.start()
    servers.telegram.webhook = {"url": webhook_target(WEBHOOK_URL)}
    yield servers
    for server in (servers.telegram, servers.zalo, servers.zalo_bot):
        await server.stop()
    assert servers.telegram.violations == [] and servers.zalo.violations == []
    assert servers.zalo_bot.violations == []


def deployment(database_url: str, fakes: Fakes, **overrides: object) -> Settings:
    """Every messenger on, pointed at the fakes, as an office would set them."""
    values: dict[str, object] = {
        "telegram_bot_token": telegram_api.TOKEN,
        "telegram_api_base": fakes.telegram.base_url,
        "telegram_webhook_url": WEBHOOK_URL,
        "telegram_webhook_secret": WEBHOOK_SECRET,
        "zalo_oa_app_id": APP_ID,
        "zalo_oa_secret_key": OA_SECRET_KEY,
        "zalo_app_secret": APP_SECRET,
        "zalo_oa_access_token": fakes.zalo.access_token,
        "zalo_oa_refresh_token": fakes.zalo.refresh_token,
        "zalo_oa_api_base": fakes.zalo.base_url,
        "zalo_oauth_base": fakes.zalo.base_url,
        "zalo_zns_api_base": fakes.zalo.base_url,
        "zalo_zns_templates": "session_moved:412345,session_cancelled:412346",
        "zalo_bot_token": zalo_bot_api.TOKEN,
        "zalo_bot_api_base": fakes.zalo_bot.base_url,
        "admins": f"{ADMIN.channel}:{ADMIN.user_id}",
    }
    return make_settings(database_url, **(values | overrides))


async def examine(settings: Settings, clock: FrozenClock) -> tuple[dict[str, list[Finding]], str, int]:
    """The findings by the setting they name, the printed report and the exit status."""
    findings = await doctor.diagnose(settings, clock)
    out = io.StringIO()
    status = doctor.report(findings, out)
    by_subject: dict[str, list[Finding]] = {}
    for finding in findings:
        by_subject.setdefault(finding.subject, []).append(finding)
    return by_subject, out.getvalue(), status


async def admin_talks(settings: Settings, clock: FrozenClock) -> None:
    """The admin writes to the bot, through the dialog engine as a channel would."""
    app = build_app(settings, clock)
    try:
        await app.dialog.handle(
            Incoming(ADMIN.channel, ADMIN.user_id, text="/start", event_id="1"), TEXT_ONLY
        )
    finally:
        await app.close()


def only(found: dict[str, list[Finding]], subject: str) -> Finding:
    [finding] = found[subject]
    return finding


def secrets_of(settings: Settings) -> list[str]:
    return [
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.zalo_oa_secret_key,
        settings.zalo_app_secret,
        settings.zalo_oa_access_token,
        settings.zalo_oa_refresh_token,
        settings.zalo_bot_token,
    ]


async def test_a_healthy_deployment_passes_every_check_and_prints_no_secret(
    database_url: str, fakes: Fakes, clock: FrozenClock
) -> None:
    settings = deployment(database_url, fakes)
    await admin_talks(settings, clock)

    found, printed, status = await examine(settings, clock)

    assert status == 0, printed
    assert [line for line in printed.splitlines() if line.startswith("FAIL")] == []
    assert only(found, "TELEGRAM_BOT_TOKEN").detail.endswith("getMe answered @tiepdan_test_bot (id 123456)")
    webhook = only(found, "TELEGRAM_WEBHOOK_URL")
    assert (
        webhook.status == Status.OK and f"{WEBHOOK_URL}/telegram/webhook; 0 updates waiting" in webhook.detail
    )
    oa = only(found, "ZALO_OA_ACCESS_TOKEN")
    assert (
        oa.status == Status.OK
        and repr(OA_NAME) in oa.detail
        and "the settings' token, not stored yet" in oa.detail
    )
    assert only(found, "ZALO_ZNS_TEMPLATES").detail == (
        "2 configured: session_cancelled=412346, session_moved=412345"
    )
    bot = only(found, "ZALO_BOT_TOKEN")
    assert bot.status == Status.OK and "getMe answered bot.tiepdan" in bot.detail
    assert only(found, f"ADMINS {ADMIN.channel}:{ADMIN.user_id}").status == Status.OK
    assert only(found, "outbox").detail == "no notice waiting to be sent"
    assert only(found, "DATABASE_URL").detail.endswith(f"schema at {migrate.head()}, the latest")
    assert only(found, "clock").status == Status.OK
    assert only(found, "TIMEZONE").detail.startswith("Asia/Ho_Chi_Minh (UTC+07:00)")
    for secret in secrets_of(settings):
        assert secret not in printed
    assert printed.splitlines()[-1].endswith("0 FAIL: nothing blocks service")


async def test_a_wrong_token_fails_and_names_its_setting(
    database_url: str, fakes: Fakes, clock: FrozenClock
) -> None:
    settings = deployment(
        database_url,
        fakes,
        telegram_bot_token="123456:WRONG-token_typed-by-hand-000",
        zalo_bot_token="1459232241454765289:WRONG-zalo-token",
    )
    found, printed, status = await examine(settings, clock)

    assert status == 1
    telegram = only(found, "TELEGRAM_BOT_TOKEN")
    assert telegram.status == Status.FAIL and "refused by Telegram (Unauthorized)" in telegram.detail
    assert "TELEGRAM_WEBHOOK_URL" not in found  # not asked with a token Telegram refused
    zalo_bot = only(found, "ZALO_BOT_TOKEN")
    assert zalo_bot.status == Status.FAIL and "refused by Zalo (Unauthorized)" in zalo_bot.detail
    assert "WRONG" not in printed
    assert printed.splitlines()[-1].endswith("2 FAIL: fix the FAIL lines: they block service")


async def test_a_webhook_telegram_cannot_deliver_to_fails_with_telegrams_last_error(
    database_url: str, fakes: Fakes, clock: FrozenClock
) -> None:
    settings = deployment(database_url, fakes)
    failed_at = clock.now() - timedelta(minutes=3)
    fakes.telegram.webhook_last_error = (
        int(failed_at.timestamp()),
        "Wrong response from the webhook: 502 Bad Gateway",
    )
    fakes.telegram.webhook_pending = 17

    found, _, status = await examine(settings, clock)

    webhook = only(found, "TELEGRAM_WEBHOOK_URL")
    assert status == 1 and webhook.status == Status.FAIL
    assert (
        "failed 3 min ago (Wrong response from the webhook: 502 Bad Gateway); 17 updates waiting"
        in webhook.detail
    )

    fakes.telegram.webhook_pending = 0  # delivered since: a warning, no longer a failure
    found, _, status = await examine(settings, clock)
    assert only(found, "TELEGRAM_WEBHOOK_URL").status == Status.WARN

    fakes.telegram.webhook_last_error = None
    fakes.telegram.webhook = {"url": "https://old-server.example/telegram/webhook"}
    found, _, status = await examine(settings, clock)
    moved = only(found, "TELEGRAM_WEBHOOK_URL")
    assert status == 1 and moved.status == Status.FAIL
    assert moved.detail.startswith("Telegram posts to https://old-server.example/telegram/webhook, not to ")


async def test_an_admin_who_never_wrote_is_a_warning(
    database_url: str, fakes: Fakes, clock: FrozenClock
) -> None:
    settings = deployment(database_url, fakes, admins="telegram:4242,zalo:777")
    await admin_talks(settings, clock)

    found, _, status = await examine(settings, clock)

    assert status == 0
    assert only(found, "ADMINS telegram:4242").status == Status.OK
    silent = only(found, "ADMINS zalo:777")
    assert silent.status == Status.WARN and silent.detail.startswith("has never written to the bot")


async def queue_notice(database_url: str, due_at: datetime) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db, db.begin():
            citizen = await citizens.get_or_create(db, UserKey("telegram", "5005"), now=due_at)
            params = TokenFailed(reason="test", failed_at=due_at)
            await queue(db, NoticeKind.ZALO_TOKEN_FAILED, citizen_id=citizen.id, params=params, now=due_at)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("age", "expected", "status"),
    [
        (timedelta(minutes=2), Status.OK, 0),
        (timedelta(minutes=20), Status.WARN, 0),
        (timedelta(hours=3), Status.FAIL, 1),
    ],
)
async def test_an_old_backlog_is_judged_by_its_oldest_notice(
    database_url: str, clock: FrozenClock, age: timedelta, expected: Status, status: int
) -> None:
    settings = make_settings(database_url)  # no messenger: only the database is judged
    await queue_notice(database_url, clock.now() - age)

    found, printed, exit_status = await examine(settings, clock)

    outbox = only(found, "outbox")
    assert (outbox.status, exit_status) == (expected, status), printed
    assert outbox.detail.startswith("1 notice due and unsent, the oldest due ")


async def test_the_stored_zalo_oa_token_is_tried_and_a_refused_refresh_fails(
    database_url: str, fakes: Fakes, clock: FrozenClock
) -> None:
    settings = deployment(database_url, fakes)
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db, db.begin():  # as the bot stores the settings' pair
            seed = zalo_oa.TokenSeed(settings.zalo_oa_access_token, settings.zalo_oa_refresh_token)
            await zalo_oa.lock_tokens(db, APP_ID, seed, now=clock.now() - timedelta(hours=1))
        found, _, status = await examine(settings, clock)
        stored = only(found, "ZALO_OA_ACCESS_TOKEN")
        assert (status, stored.status) == (0, Status.OK)
        assert stored.detail.startswith("stored access token, 1 h 0 min left; Zalo accepts it")

        fakes.zalo.expire_access_tokens()
        found, _, status = await examine(settings, clock)
        assert (status, only(found, "ZALO_OA_ACCESS_TOKEN").status) == (0, Status.WARN)

        async with session_factory(engine)() as db, db.begin():
            await zalo_oa.queue_token_alert(db, settings.admin_keys, "-14014 invalid", now=clock.now())
    finally:
        await engine.dispose()

    found, _, status = await examine(settings, clock)

    refused = only(found, "ZALO_OA_REFRESH_TOKEN")
    assert status == 1 and refused.status == Status.FAIL
    assert refused.detail.startswith("Zalo refused to refresh the token pair 0 s ago: an OA admin")


@pytest.fixture
def command_on(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """`tiepdan` run against the test database (and no .env)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in (
        "ENVIRONMENT",
        "TELEGRAM_BOT_TOKEN",
        "ZALO_BOT_TOKEN",
        "ZALO_OA_APP_ID",
        "ADMINS",
        "TIMEZONE",
    ):
        monkeypatch.delenv(name, raising=False)
    return database_url


def test_the_command_exits_zero_on_a_healthy_database(
    command_on: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["doctor"]) == 0
    printed = capsys.readouterr().out
    assert "OK    DATABASE_URL: " in printed and "OK    settings: valid" in printed


def test_an_unmigrated_database_fails_and_names_the_command_to_run(
    command_on: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(migrate.downgrade(command_on, "-1"))
    try:
        assert cli.main(["doctor"]) == 1
    finally:
        asyncio.run(migrate.upgrade(command_on))
    printed = capsys.readouterr().out
    previous = migrate.revisions()[-2][0]
    assert f"is at {previous}, this tiepdan needs {migrate.head()}: run `tiepdan db upgrade`" in printed
    assert "WARN  ADMINS, outbox, clock: not checked: the database cannot be used" in printed


def test_a_missing_sqlite_file_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nowhere.db"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    assert cli.main(["doctor"]) == 1
    assert (
        f"FAIL  DATABASE_URL: no database file at {path}: run `tiepdan db upgrade`" in capsys.readouterr().out
    )
    assert not path.exists()


def test_settings_that_do_not_load_fail_one_line_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIMEZONE", "Asia/Hanoi_City")
    monkeypatch.setenv("REMINDER_HOURS", "soon")
    assert cli.main(["doctor"]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert (
        "FAIL  TIMEZONE: TIMEZONE 'Asia/Hanoi_City' is not a known time zone (e.g. Asia/Ho_Chi_Minh)"
        in printed
    )
    assert any(line.startswith("FAIL  REMINDER_HOURS: ") for line in printed)


def test_production_without_a_messenger_fails(
    command_on: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    assert cli.main(["doctor"]) == 1
    printed = capsys.readouterr().out
    if command_on.startswith("sqlite"):  # refused with the settings, before any messenger is looked at
        assert "FAIL  settings: production needs PostgreSQL (DATABASE_URL=postgresql" in printed
    else:
        assert "FAIL  ENVIRONMENT: production, but no messenger is configured" in printed
