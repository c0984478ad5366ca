"""Settings: .env.example documents every field, defaults are as documented, bad values are refused."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

import pytest
from pydantic import ValidationError

from bot import cli
from bot.app import build_app
from bot.settings import Settings
from storage.identity import UserKey

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")

# Environment variables a developer may have exported; none may leak into these tests.
SETTING_NAMES = [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)


def make(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def example_assignments() -> dict[str, str]:
    assignments: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ASSIGNMENT.match(line)
        assert match, f".env.example line {number} is neither a comment nor NAME=value: {line!r}"
        name, value = match.groups()
        assert name not in assignments, f"{name} is set twice in .env.example"
        assignments[name] = value
    return assignments


def test_env_example_names_every_setting_and_nothing_else() -> None:
    names = set(example_assignments())
    assert names, ".env.example has no settings"
    fields = set(SETTING_NAMES)
    assert sorted(fields - names) == [], "settings missing from .env.example"
    assert sorted(names - fields) == [], "names in .env.example that Settings does not know"


def test_env_example_explains_every_setting() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            above = number - 1
            while above >= 0 and ASSIGNMENT.match(lines[above]):  # a group under one comment
                above -= 1
            assert above >= 0 and lines[above].startswith("#"), f"no comment above {line!r}"


def test_env_example_leaves_the_telegram_token_empty() -> None:
    # A token in the example would make `make run` try Telegram instead of the console chat.
    assert example_assignments()["TELEGRAM_BOT_TOKEN"] == ""


def test_env_example_values_are_the_defaults() -> None:
    from_example = Settings(_env_file=ENV_EXAMPLE)
    assert from_example.model_dump() == make().model_dump()


def test_defaults() -> None:
    settings = make()
    assert settings.environment == "development"
    assert settings.database_url == "sqlite+aiosqlite:///./data/tiepdan.db"
    assert settings.default_locale == "vi"
    assert settings.timezone == "Asia/Ho_Chi_Minh"
    assert str(settings.tz) == "Asia/Ho_Chi_Minh"
    assert settings.summary_lead_days == 5
    assert settings.change_notice_days == 5
    assert settings.default_capacity == 30
    assert settings.handled_keep_days == 30
    assert settings.telegram_bot_token == ""
    assert settings.telegram_api_base == "https://api.telegram.org"
    assert settings.admin_keys == frozenset()
    assert settings.case_field_codes[0] == "land" and settings.case_field_codes[-1] == "other"
    assert len(settings.case_field_codes) == 10


def test_environment_variables_are_the_upper_case_field_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUMMARY_LEAD_DAYS", "7")
    monkeypatch.setenv("DEFAULT_LOCALE", "en")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://tiepdan@db/tiepdan")
    monkeypatch.setenv("CASE_FIELDS", " land , other ,")
    settings = make()
    assert settings.summary_lead_days == 7
    assert settings.default_locale == "en"
    assert settings.database_url == "postgresql+asyncpg://tiepdan@db/tiepdan"
    assert settings.case_field_codes == ("land", "other")


def test_admins_are_parsed_into_user_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMINS", "telegram:123, zalo:88")
    assert make().admin_keys == frozenset({UserKey("telegram", "123"), UserKey("zalo", "88")})


@pytest.mark.parametrize("admins", ["telegram123", "telegram:", ":123", "telegram:1,zalo"])
def test_a_malformed_admin_entry_is_refused(admins: str) -> None:
    with pytest.raises(ValueError, match="channel:user_id"):
        _ = make(admins=admins).admin_keys


@pytest.mark.parametrize("locale", ["fr", "VI", "vi-VN", ""])
def test_an_unknown_default_locale_is_refused(monkeypatch: pytest.MonkeyPatch, locale: str) -> None:
    monkeypatch.setenv("DEFAULT_LOCALE", locale)
    with pytest.raises(ValidationError, match="DEFAULT_LOCALE"):
        make()


@pytest.mark.parametrize("zone", ["Asia/Hanoi", "Mars/Olympus_Mons", "GMT+7", "../etc/passwd"])
def test_an_unknown_timezone_is_refused(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    monkeypatch.setenv("TIMEZONE", zone)
    # ZoneInfo raises ZoneInfoNotFoundError (a KeyError) for an unknown key, which pydantic
    # does not turn into a ValidationError; either way the settings are not built.
    with pytest.raises((ValidationError, ZoneInfoNotFoundError)):
        make()


@pytest.mark.parametrize(
    "values",
    [{"summary_lead_days": -1}, {"default_capacity": 0}, {"web_port": 70000}, {"retention_days": 7}],
)
def test_out_of_range_numbers_are_refused(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        make(**values)


POSTGRES = "postgresql+asyncpg://tiepdan@db-host/tiepdan"


def test_production_refuses_sqlite() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        make(environment="production").check_production_secrets()


@pytest.mark.parametrize("name", ["telegram_bot_token", "telegram_webhook_secret"])
def test_production_refuses_an_example_secret(name: str) -> None:
    settings = make(environment="production", database_url=POSTGRES, **{name: "123:change-me-please"})
    with pytest.raises(ValueError, match=name.upper()):
        settings.check_production_secrets()


def test_production_webhook_needs_a_real_secret() -> None:
    settings = make(
        environment="production",
        database_url=POSTGRES,
        telegram_bot_token="123456:real-token",
        telegram_webhook_url="https://tiepdan.example.gov.vn",
        telegram_webhook_secret="short",
    )
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        settings.check_production_secrets()


def test_production_with_postgres_and_real_secrets_starts() -> None:
    make(
        environment="production",
        database_url=POSTGRES,
        telegram_bot_token="123456:real-token",
        telegram_webhook_url="https://tiepdan.example.gov.vn",
        telegram_webhook_secret="a" * 32,
        admins="telegram:123,console:local",
    ).check_production_secrets()


def test_production_refuses_an_admin_on_a_messenger_not_served() -> None:
    settings = make(
        environment="production",
        database_url=POSTGRES,
        telegram_bot_token="123456:real-token",
        admins="telegram:123,telegarm:456",  # a typo: that admin would never be one
    )
    with pytest.raises(ValueError, match="ADMINS entry telegarm:456: telegarm is not a messenger served"):
        settings.check_production_secrets()


def test_development_accepts_sqlite_and_example_secrets() -> None:
    make(telegram_bot_token="change-me").check_production_secrets()


ZALO_OA = {
    "zalo_oa_app_id": "4321",
    "zalo_oa_secret_key": "oa-secret",
    "zalo_app_secret": "app-secret",
    "zalo_oa_refresh_token": "refresh",
}


@pytest.mark.parametrize("left_out", sorted(ZALO_OA))
def test_a_zalo_oa_half_set_up_is_refused(left_out: str) -> None:
    given = {name: value for name, value in ZALO_OA.items() if name != left_out}
    with pytest.raises(ValidationError, match=left_out.upper()):
        make(**given)


def test_the_messengers_the_settings_turn_on() -> None:
    assert make().messengers == []
    assert make(telegram_bot_token="123:abc", **ZALO_OA).messengers == ["telegram", "zalo"]
    assert make(zalo_bot_token="1:abc").messengers == ["zalo_bot"]


def test_zns_templates_are_parsed_and_a_malformed_entry_refused() -> None:
    settings = make(zalo_zns_templates="session_moved:412345, reminder:412347")
    assert settings.zns_templates == {"session_moved": "412345", "reminder": "412347"}
    for malformed in ("session_moved", "session_moved:abc", ":412345"):
        with pytest.raises(ValidationError, match="kind:template_id"):
            make(zalo_zns_templates=malformed)
    with pytest.raises(ValidationError, match="no notice is of kind reminders; the kinds are"):
        make(zalo_zns_templates="session_moved:412345,reminders:412347")  # a typo


@pytest.mark.parametrize("name", ["zalo_oa_secret_key", "zalo_app_secret", "zalo_oa_refresh_token"])
def test_production_refuses_an_example_zalo_secret(name: str) -> None:
    values = {**ZALO_OA, name: "change-me-please"}
    settings = make(environment="production", database_url=POSTGRES, **values)
    with pytest.raises(ValueError, match=name.upper()):
        settings.check_production_secrets()
    make(environment="production", database_url=POSTGRES, **ZALO_OA).check_production_secrets()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("DEFAULT_LOCALE", "fr", "DEFAULT_LOCALE"),
        ("ZALO_OA_APP_ID", "4321", "ZALO_OA_SECRET_KEY"),
        ("ENVIRONMENT", "production", "PostgreSQL"),
    ],
)
def test_the_command_explains_settings_that_are_not_valid(
    variable: str,
    value: str,
    named: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    assert cli.main(["demo", "seed"]) == 2
    told = capsys.readouterr().err
    assert "the settings are not valid" in told and named in told
    assert "Traceback" not in told


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"environment": "prod"}, "ENVIRONMENT must be 'development' or 'production'"),
        ({"log_level": "verbose"}, "LOG_LEVEL must be DEBUG, INFO"),
        ({"summary_min_chars": 500, "summary_max_chars": 400}, r"SUMMARY_MIN_CHARS \(500\) must not be"),
        ({"summary_max_chars": 40_000}, "less than or equal to 32767"),
        ({"case_fields": " , "}, "CASE_FIELDS must name at least one"),
        ({"case_fields": "land,landuse"}, "no message field.<code> in locales/vi for landuse"),
        ({"agencies": " ; "}, "AGENCIES must name at least one agency"),
        ({"default_capacity": 10_001}, "less than or equal to 10000"),
        ({"database_url": "postgresql://tiepdan:secret@db/tiepdan"}, r"DATABASE_URL must be sqlite\+aio"),
        ({"database_url": "data/tiepdan.db"}, "DATABASE_URL must be"),
        ({"handled_keep_days": 1, "reminder_hours": "48,2"}, r"HANDLED_KEEP_DAYS \(1\) must be longer"),
        ({"handled_keep_days": 0}, "greater than or equal to 1"),
    ],
)
def test_a_value_the_bot_cannot_work_with_is_refused_at_start(values: dict[str, Any], named: str) -> None:
    """Each of these used to be accepted, then failed later: a traceback, no production checks,
    no summary a citizen could send, a chat step without options, or a database error."""
    with pytest.raises(ValidationError, match=named) as raised:
        make(**values)
    assert "secret" not in str([item["msg"] for item in raised.value.errors()])  # what `tiepdan` prints


def test_log_level_in_any_case() -> None:
    assert make(log_level="debug").log_level == "DEBUG"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite+aiosqlite:///{tmp}/fresh.db",  # no schema yet: `tiepdan db upgrade` was not run
        "postgresql+asyncpg://nobody@127.0.0.1:1/tiepdan",  # nothing listens there
    ],
)
def test_the_command_explains_a_database_it_cannot_use(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url.format(tmp=tmp_path))
    (tmp_path / "endpoints.csv").write_text("code,name\nP-1,Phường Một\n", encoding="utf-8")
    assert cli.main(["endpoints", "import", str(tmp_path / "endpoints.csv")]) == 1
    told = capsys.readouterr().err
    assert told.startswith("tiepdan: the database of DATABASE_URL cannot be used: ")
    assert "tiepdan db upgrade" in told and "Traceback" not in told


def test_production_without_a_messenger_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not the console chat on the server (a console citizen in the production database, exit 0):
    the settings to give are named, nothing touches the database (nothing listens there)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/tiepdan")
    monkeypatch.setattr("sys.stdin", io.StringIO("/start\n"))
    assert cli.main(["run"]) == 2
    told = capsys.readouterr()
    for setting in ("ENVIRONMENT=production", "TELEGRAM_BOT_TOKEN", "ZALO_OA_APP_ID", "ZALO_BOT_TOKEN"):
        assert setting in told.err
    assert "Traceback" not in told.err and told.out == ""


def test_run_explains_a_database_it_cannot_migrate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """`tiepdan run` migrates in a child process (bot/schema_upgrade.py): what stops it is told
    as every command tells it, without a traceback from either process."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:1/tiepdan")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["run"]) == 1
    told = capfd.readouterr()
    assert told.err.startswith("tiepdan: the database of DATABASE_URL cannot be used: ")
    assert "127.0.0.1" in told.err and "tiepdan db upgrade" in told.err
    assert "Traceback" not in told.err + told.out


async def test_a_postgresql_process_keeps_database_pool_size_connections_open() -> None:
    """With SQLAlchemy's 5, 200 citizens at once made the bot open and close connections."""
    settings = Settings(_env_file=None, database_url="postgresql+asyncpg://tiepdan@db/tiepdan")  # type: ignore[call-arg]
    assert settings.database_pool_size == 20
    settings.database_pool_size = 7
    app = build_app(settings)
    try:
        assert app.engine.sync_engine.pool.size() == 7  # type: ignore[attr-defined]
    finally:
        await app.close()
