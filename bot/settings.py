"""Settings from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import logging
from datetime import time
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.i18n import SUPPORTED_LOCALES, Office, Translator, load_catalog
from bot.logs import LOG_FORMATS
from storage.event_kinds import Timing
from storage.identity import UserKey
from storage.outbox import NoticeKind
from storage.rules import MAX_CAPACITY

EXAMPLE_SECRET_MARKER = "change-me"
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
SPREADSHEET_CELL_MAX = 32767  # characters in one cell of Excel (openpyxl cuts the rest off)
OFFICE_FIELD_MAX = 100  # what a ZNS template field holds (bot/notify.py TEMPLATE_FIELD_MAX)
HOTLINE_CHARACTERS = set("0123456789 .+-()")


def parse_admins(value: str) -> frozenset[UserKey]:
    """`ADMINS=telegram:123,zalo:88` as a set of (channel, user id)."""
    keys = set()
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        channel, sep, user_id = item.partition(":")
        if not sep or not channel.strip() or not user_id.strip():
            raise ValueError(f"ADMINS entry {item!r} is not 'channel:user_id'")
        keys.add(UserKey(channel.strip(), user_id.strip()))
    return frozenset(keys)


def parse_zns_templates(setting: str) -> dict[str, str]:
    templates = {}
    for entry in filter(None, (part.strip() for part in setting.split(","))):
        kind, _, template_id = entry.partition(":")
        if not kind.strip() or not template_id.strip().isdecimal():
            raise ValueError(f"ZALO_ZNS_TEMPLATES entry {entry!r} is not kind:template_id")
        templates[kind.strip()] = template_id.strip()
    return templates


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: str = Field("development", description="development | production")
    database_url: str = "sqlite+aiosqlite:///./data/tiepdan.db"
    # PostgreSQL: connections each process keeps open (and up to POOL_OVERFLOW more at peaks).
    # Fewer made the bot open and close connections over and over under load.
    database_pool_size: int = Field(20, ge=1, le=500)
    default_locale: str = "vi"
    timezone: str = "Asia/Ho_Chi_Minh"
    summary_lead_days: int = Field(5, ge=0)
    change_notice_days: int = Field(5, ge=0)
    # Voter contact: petitions are compiled at most this many days after the meeting, the
    # materials reach the delegates this many days before it, and attendance sign-ups close
    # this many days before (the count goes to the organiser the day before).
    compile_days_after: int = Field(5, ge=0, le=60)
    materials_days_before: int = Field(5, ge=0, le=60)
    voter_signup_close_days: int = Field(1, ge=0, le=30)
    # Explanation hearings: the agencies' written reports are due, and citizens' questions taken,
    # until this many days before the hearing (unless the hearing sets its own deadlines).
    hearing_report_days_before: int = Field(7, ge=0, le=60)
    hearing_questions_days_before: int = Field(3, ge=0, le=60)
    default_capacity: int = Field(30, ge=1, le=MAX_CAPACITY)
    summary_min_chars: int = Field(30, ge=1)
    # A longer summary would be cut short, silently, in the XLSX of Form 03 (a cell holds 32767).
    summary_max_chars: int = Field(3000, ge=10, le=SPREADSHEET_CELL_MAX)
    retention_days: int = Field(1825, ge=365)
    # Handled incoming updates and sent notices are deleted after this many days: kept so
    # long only to recognise a late repeat (a webhook retried, a reminder not queued twice).
    handled_keep_days: int = Field(30, ge=1, le=365)
    consent_version: str = "2026-12"  # 2026-12: voter contact and hearings among the purposes
    case_fields: str = (
        "land,environment,social_insurance,health,education,transport,agriculture,urban,justice,other"
    )
    agencies: str = (
        "Thanh tra tỉnh;Công an tỉnh;Tòa án nhân dân tỉnh;Viện kiểm sát nhân dân tỉnh;"
        "Sở Nông nghiệp và Môi trường;Sở Nội vụ;Sở Y tế;Sở Giáo dục và Đào tạo;Sở Xây dựng;"
        "Ủy ban nhân dân cấp xã nơi cư trú"
    )
    admins: str = ""
    endpoints_file: str = ""
    telegram_bot_token: str = ""
    telegram_api_base: str = "https://api.telegram.org"
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    telegram_polling_timeout: int = Field(30, ge=1, le=50)
    telegram_max_retries: int = Field(5, ge=0)
    # All workers together; each of N live workers sends 1/N of it (bot/workers.py).
    telegram_rate_per_second: float = Field(25.0, gt=0)
    # --- Zalo Official Account (API v3) and ZNS. The hosts are settings so tests can use fakes.
    zalo_oa_app_id: str = ""  # the Zalo app linked to the OA
    zalo_oa_secret_key: str = ""  # the OA secret key: webhook events are signed with it
    zalo_app_secret: str = ""  # the app's secret key: sent when refreshing the access token
    zalo_oa_access_token: str = ""  # the first pair; later pairs live in the database
    zalo_oa_refresh_token: str = ""
    zalo_oa_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    zalo_zns_api_base: str = "https://business.openapi.zalo.me"
    zalo_zns_templates: str = ""  # kind:template_id,… for notices outside the 7-day window
    # --- end of Zalo Official Account
    # --- Zalo Bot API (pilot; Telegram-like, text only): ZALO_BOT_TOKEN empty = off ---
    zalo_bot_token: str = ""
    zalo_bot_api_base: str = "https://bot-api.zaloplatforms.com"
    zalo_bot_webhook_url: str = ""  # empty: long polling
    zalo_bot_webhook_secret: str = ""
    zalo_bot_polling_timeout: int = Field(30, ge=1, le=60)
    # --- end of Zalo Bot API ---
    # --- the office's own name: empty = the catalogs' wording ("Văn phòng Đoàn ĐBQH và HĐND tỉnh")
    office_name: str = ""  # Văn phòng Đoàn ĐBQH và HĐND tỉnh Quảng Ngãi
    office_province: str = ""  # tỉnh Quảng Ngãi (with its kind: tỉnh, thành phố)
    office_hotline: str = ""
    office_address: str = ""
    data_controller: str = ""  # named in the privacy notice; empty: the office
    # --- end of the office's own name
    web_host: str = "0.0.0.0"
    web_port: int = Field(8080, ge=1, le=65535)
    max_attachments: int = Field(5, ge=0, le=10)
    max_attachment_mb: float = Field(20.0, gt=0)
    # An agency's written report for a hearing (PDF or DOCX, sent by its liaison): largest file.
    report_max_mb: float = Field(20.0, gt=0)
    reminder_hours: str = "24,2"
    reminder_calendar: bool = True
    # The connection test at the endpoints, the day before an event (every kind), HH:MM local.
    connection_test_time: str = "14:00"
    outbox_rate_per_second: float = Field(25.0, gt=0)
    outbox_chat_interval_seconds: float = Field(1.0, ge=0)
    outbox_interval_seconds: float = Field(5.0, gt=0)
    worker_heartbeat_seconds: float = Field(10.0, gt=0, le=60)
    log_level: str = "INFO"
    # --- Logs for an operator (bot/logs.py) ---
    log_format: str = "text"  # text | json: one JSON object per line
    # --- end of logs

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        # Anything else ("prod") would silently skip the production checks.
        if value not in ("development", "production"):
            raise ValueError(f"ENVIRONMENT must be 'development' or 'production', not {value!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            driver = ""
        if driver not in DATABASE_DRIVERS:
            given = f"{value.split('://')[0]}://…" if "://" in value else "no '://'"  # no password shown
            raise ValueError(
                "DATABASE_URL must be sqlite+aiosqlite:///path/to/file.db or "
                f"postgresql+asyncpg://user:password@host:5432/db (given: {given})"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        if not isinstance(logging.getLevelName(value.upper()), int):
            raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {value!r}")
        return value.upper()

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value.lower() not in LOG_FORMATS:
            raise ValueError(f"LOG_FORMAT must be text or json, not {value!r}")
        return value.lower()

    @field_validator("case_fields")
    @classmethod
    def _case_fields_known(cls, value: str) -> str:
        codes = [code.strip() for code in value.split(",") if code.strip()]
        if not codes:
            raise ValueError("CASE_FIELDS must name at least one case field, e.g. land,other")
        for locale in SUPPORTED_LOCALES:
            missing = [code for code in codes if not load_catalog(locale).get(f"field.{code}")]
            if missing:
                raise ValueError(
                    f"CASE_FIELDS: no message field.<code> in locales/{locale} for {', '.join(missing)}"
                )
        return value

    @field_validator("office_name", "office_province", "office_hotline", "office_address", "data_controller")
    @classmethod
    def _office_field_fits(cls, value: str) -> str:
        value = " ".join(value.split())  # one line: it goes into sentences and a document's heading
        if len(value) > OFFICE_FIELD_MAX:
            raise ValueError(f"must be at most {OFFICE_FIELD_MAX} characters (a ZNS template field)")
        return value

    @field_validator("office_hotline")
    @classmethod
    def _hotline_is_a_number(cls, value: str) -> str:
        if value and not (set(value) <= HOTLINE_CHARACTERS and any(char.isdigit() for char in value)):
            raise ValueError(f"OFFICE_HOTLINE must be a phone number, e.g. 0255 3822 123, not {value!r}")
        return value

    @field_validator("agencies")
    @classmethod
    def _agencies_given(cls, value: str) -> str:
        if not any(name.strip() for name in value.split(";")):
            raise ValueError("AGENCIES must name at least one agency (separated by ';')")
        return value

    @model_validator(mode="after")
    def _summary_length_range(self) -> Settings:
        if self.summary_min_chars > self.summary_max_chars:
            raise ValueError(
                f"SUMMARY_MIN_CHARS ({self.summary_min_chars}) must not be above "
                f"SUMMARY_MAX_CHARS ({self.summary_max_chars})"
            )
        return self

    @model_validator(mode="after")
    def _handled_kept_past_reminders(self) -> Settings:
        # A sent reminder deleted before its session starts would be queued and sent again.
        longest = max(self.reminder_hours_before, default=0)
        if self.handled_keep_days * 24 <= longest:
            raise ValueError(
                f"HANDLED_KEEP_DAYS ({self.handled_keep_days}) must be longer than the longest "
                f"reminder in REMINDER_HOURS ({longest} hours)"
            )
        return self

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("vi", "en"):
            raise ValueError("DEFAULT_LOCALE must be 'vi' or 'en'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"TIMEZONE {value!r} is not a known time zone (e.g. Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator("zalo_zns_templates")
    @classmethod
    def _zns_templates_parse(cls, value: str) -> str:
        unknown = sorted(set(parse_zns_templates(value)) - set(NoticeKind))
        if unknown:  # a typo would mean that template is never used, without a word
            wrong, kinds = ", ".join(unknown), ", ".join(sorted(NoticeKind))
            raise ValueError(f"ZALO_ZNS_TEMPLATES: no notice is of kind {wrong}; the kinds are {kinds}")
        return value

    @model_validator(mode="after")
    def _zalo_oa_complete(self) -> Settings:
        """An OA half set up would refuse every webhook event (401) or every refresh."""
        oa = ("zalo_oa_app_id", "zalo_oa_secret_key", "zalo_app_secret", "zalo_oa_refresh_token")
        given = [name for name in oa if getattr(self, name)]
        if given and len(given) < len(oa):
            missing = ", ".join(name.upper() for name in oa if name not in given)
            raise ValueError(f"the Zalo OA needs {missing} as well")
        return self

    @property
    def messengers(self) -> list[str]:
        """The channels these settings turn on (none: the console chat)."""
        wanted = []
        if self.telegram_bot_token:
            wanted.append("telegram")
        if self.zalo_bot_token:
            wanted.append("zalo_bot")
        if self.zalo_oa_app_id and self.zalo_oa_refresh_token:
            wanted.append("zalo")
        return wanted

    @cached_property
    def zns_templates(self) -> dict[str, str]:
        """ZALO_ZNS_TEMPLATES=session_moved:412345,…: the ZNS template of each kind of notice."""
        return parse_zns_templates(self.zalo_zns_templates)

    @field_validator("admins")
    @classmethod
    def _admins_parse(cls, value: str) -> str:
        parse_admins(value)  # a typo in ADMINS stops the start, not a staff member later
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def office(self) -> Office:
        return Office(
            name=self.office_name,
            province=self.office_province,
            hotline=self.office_hotline,
            address=self.office_address,
            data_controller=self.data_controller,
        )

    @cached_property
    def timing(self) -> Timing:
        """The day counts of the events' deadlines (storage.event_kinds)."""
        return Timing(
            summary_lead_days=self.summary_lead_days,
            change_notice_days=self.change_notice_days,
            compile_days_after=self.compile_days_after,
            materials_days_before=self.materials_days_before,
            signup_close_days=self.voter_signup_close_days,
            report_days_before=self.hearing_report_days_before,
            questions_days_before=self.hearing_questions_days_before,
        )

    def translator(self, locale: str) -> Translator:
        """Messages in `locale`, in the office's time zone, naming the office as set here."""
        return Translator(locale, self.tz, self.office)

    @cached_property
    def case_field_codes(self) -> tuple[str, ...]:
        return tuple(code.strip() for code in self.case_fields.split(",") if code.strip())

    @cached_property
    def reminder_hours_before(self) -> tuple[int, ...]:
        """REMINDER_HOURS=24,2: remind a day and two hours before the session."""
        return tuple(int(part) for part in self.reminder_hours.split(",") if part.strip())

    @field_validator("reminder_hours")
    @classmethod
    def _reminder_hours_parse(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isdecimal() and int(part) > 0 for part in parts):
            raise ValueError("REMINDER_HOURS must be whole hours above 0 separated by commas, e.g. 24,2")
        return value

    @field_validator("connection_test_time")
    @classmethod
    def _connection_test_time_parse(cls, value: str) -> str:
        hours, _, minutes = value.strip().partition(":")
        if not (hours.isdecimal() and minutes.isdecimal() and len(minutes) == 2):
            raise ValueError(f"CONNECTION_TEST_TIME must be HH:MM, e.g. 14:00, not {value!r}")
        if not (int(hours) < 24 and int(minutes) < 60):
            raise ValueError(f"CONNECTION_TEST_TIME must be a time of day, e.g. 15:00, not {value!r}")
        return value.strip()

    @cached_property
    def connection_test_at(self) -> time:
        """CONNECTION_TEST_TIME=14:00: when the endpoints test the connection, the day before."""
        hours, minutes = self.connection_test_time.split(":")
        return time(int(hours), int(minutes))

    @cached_property
    def agency_names(self) -> tuple[str, ...]:
        """Competent agencies a case can be forwarded to (AGENCIES, separated by ';')."""
        return tuple(name.strip() for name in self.agencies.split(";") if name.strip())

    @cached_property
    def admin_keys(self) -> frozenset[UserKey]:
        return parse_admins(self.admins)

    @property
    def retention_years(self) -> int:
        return max(1, round(self.retention_days / 365))

    def check_production_secrets(self) -> None:
        """Refuse to start in production with a secret copied from `.env.example`."""
        if self.environment != "production":
            return
        secrets = (
            "telegram_bot_token",
            "telegram_webhook_secret",
            "zalo_oa_secret_key",
            "zalo_app_secret",
            "zalo_oa_refresh_token",
            "zalo_bot_token",
            "zalo_bot_webhook_secret",
        )
        for name in secrets:
            if EXAMPLE_SECRET_MARKER in getattr(self, name):
                raise ValueError(f"{name.upper()} still holds the example value")
        if self.telegram_webhook_url and len(self.telegram_webhook_secret) < 16:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET must be set (16+ characters) for a webhook")
        if self.zalo_bot_webhook_url and len(self.zalo_bot_webhook_secret) < 16:
            raise ValueError("ZALO_BOT_WEBHOOK_SECRET must be set (16-256 characters) for a webhook")
        if self.database_url.startswith("sqlite"):
            raise ValueError("production needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://...)")
        served = {*self.messengers, "console"}  # `tiepdan chat` on the server is the console
        for key in sorted(self.admin_keys):
            if key.channel not in served:  # a typo would leave the office without that admin
                names = ", ".join(sorted(served))
                raise ValueError(f"ADMINS entry {key}: {key.channel} is not a messenger served ({names})")
