"""`tiepdan doctor`: is this deployment ready to serve? One line per check, each naming the
setting it judges, OK / WARN / FAIL; non-zero exit when a FAIL blocks service.

Read only: nothing is written to the database or set at Telegram or Zalo, so it is safe to
run beside a bot that serves (a cron job, a health check after an upgrade).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot.clock import Clock, SystemClock
from bot.findings import Finding, Status, fail, ok, span, warn
from bot.settings import Settings
from storage import checkup
from storage.db import create_engine, is_sqlite, session_factory
from storage.gauges import Backlog
from storage.identity import UserKey

OUTBOX_LATE = timedelta(minutes=10)  # a notice due this long ago and unsent: the sender lags
OUTBOX_STUCK = timedelta(hours=1)  # …this long: nothing is sending (tiepdan stopped, a channel down)
CLOCK_DRIFT = timedelta(seconds=60)  # deadlines are minutes apart from each other, not seconds


def load_settings() -> tuple[Settings | None, list[Finding]]:
    """The settings as `tiepdan run` would load them, or what is wrong with them."""
    try:
        settings = Settings()
        settings.check_production_secrets()
    except ValidationError as error:
        return None, [
            fail(
                ".".join(str(part) for part in item["loc"]).upper() or "settings",
                item["msg"].removeprefix("Value error, "),
            )
            for item in error.errors()
        ]
    except (ValueError, KeyError) as error:  # a production check, an unknown time zone
        return None, [fail("settings", str(error))]
    return settings, [ok("settings", "valid (read from the environment and .env)")]


def environment(settings: Settings) -> Finding:
    served = ", ".join(settings.messengers)
    if settings.environment == "production":
        if not served:
            return fail(
                "ENVIRONMENT", "production, but no messenger is configured: `tiepdan run` refuses to start"
            )
        return ok("ENVIRONMENT", f"production; serving {served}")
    return warn(
        "ENVIRONMENT",
        f"development (serving {served or 'the console only'}): demo data is loaded into an empty "
        "database and SQLite is accepted; set ENVIRONMENT=production on the server",
    )


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


async def database(settings: Settings) -> tuple[bool, Finding]:
    """Whether the database is reachable and at the schema this code expects."""
    from storage import migrate  # alembic: only the commands that need it load it

    url = settings.database_url
    if is_sqlite(url):
        path = make_url(url).database or ""
        missing = path not in ("", ":memory:") and not await asyncio.to_thread(Path(path).exists)
        if missing:  # connecting would create an empty file
            return False, fail("DATABASE_URL", f"no database file at {path}: run `tiepdan db upgrade`")
    try:
        current = await migrate.current(url)
    except (DBAPIError, OSError) as error:
        reason = error.orig if isinstance(error, DBAPIError) else error
        return False, fail("DATABASE_URL", f"{shown_url(url)} cannot be used: {reason}")
    head = migrate.head()
    if current == head:
        return True, ok("DATABASE_URL", f"{shown_url(url)} reachable; schema at {head}, the latest")
    known = {revision for revision, _ in migrate.revisions()}
    if current is None:
        return False, fail("DATABASE_URL", f"{shown_url(url)} has no schema: run `tiepdan db upgrade`")
    if current not in known:
        return False, fail(
            "DATABASE_URL",
            f"{shown_url(url)} is at {current}, a revision this tiepdan does not know: "
            "a newer version ran on it; install that version again",
        )
    return False, fail(
        "DATABASE_URL",
        f"{shown_url(url)} is at {current}, this tiepdan needs {head}: run `tiepdan db upgrade`",
    )


def timezone(settings: Settings, now: datetime) -> Finding:
    local = now.astimezone(settings.tz)
    offset = local.strftime("%z")
    return ok(
        "TIMEZONE", f"{settings.timezone} (UTC{offset[:3]}:{offset[3:]}); local time {local:%d/%m/%Y %H:%M}"
    )


def clock_drift(machine: datetime, database_clock: datetime) -> Finding:
    drift = abs(machine - database_clock)
    said = f"this machine's clock and the database's differ by {drift.total_seconds():.1f} s"
    if drift > CLOCK_DRIFT:
        return warn("clock", f"{said}: deadlines and reminders follow this machine; set both to NTP time")
    return ok("clock", said)


def admins(settings: Settings, talked: dict[UserKey, datetime], now: datetime) -> list[Finding]:
    if not settings.admin_keys:
        return [warn("ADMINS", "empty: only staff added as admins in the chat can manage sessions")]
    served = {*settings.messengers, "console"}
    found = []
    for key in sorted(settings.admin_keys):
        subject = f"ADMINS {key.channel}:{key.user_id}"
        if key.channel not in served:
            found.append(warn(subject, f"{key.channel} is not served ({', '.join(sorted(served))})"))
        elif key in talked:
            found.append(ok(subject, f"last wrote to the bot {span(now - talked[key])} ago"))
        else:
            found.append(
                warn(
                    subject,
                    "has never written to the bot, which may write only to those who wrote first: "
                    "this admin gets no alerts until they open the bot and send a message",
                )
            )
    return found


def outbox(backlog: Backlog, now: datetime) -> Finding:
    if not backlog.due or backlog.oldest_due_at is None:
        return ok("outbox", "no notice waiting to be sent")
    age = now - backlog.oldest_due_at
    notices = "1 notice" if backlog.due == 1 else f"{backlog.due} notices"
    said = f"{notices} due and unsent, the oldest due {span(age)} ago"
    if age > OUTBOX_STUCK:
        return fail("outbox", f"{said}: nothing is sending them; check that tiepdan runs and its log")
    if age > OUTBOX_LATE:
        return warn("outbox", f"{said}: the sender is behind (a channel slow or limiting the rate)")
    return ok("outbox", said)


async def diagnose(settings: Settings, clock: Clock) -> list[Finding]:
    """Every check after the settings loaded."""
    from bot.channels.telegram import checkup as telegram
    from bot.channels.zalo import checkup as zalo

    now = clock.now()
    found = [environment(settings), timezone(settings, now)]
    usable, schema = await database(settings)
    found.append(schema)
    stored = refused_at = None
    if usable:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as db:
                database_clock = await checkup.database_now(db)
                backlog = await checkup.backlog(db, now)
                talked = await checkup.last_talked(db, settings.admin_keys)
                if "zalo" in settings.messengers:
                    stored = await checkup.oa_token(db, settings.zalo_oa_app_id)
                    refused_at = await checkup.last_token_failure(db)
        finally:
            await engine.dispose()
        found += [
            clock_drift(clock.now(), database_clock),
            *admins(settings, talked, now),
            outbox(backlog, now),
        ]
    else:
        found.append(warn("ADMINS, outbox, clock", "not checked: the database cannot be used"))
    found += await telegram.check(settings, now)
    found += await zalo.check_oa(settings, now, stored, refused_at)
    found += [zalo.check_zns(settings), await zalo.check_bot(settings)]
    return found


def report(findings: Sequence[Finding], out: TextIO) -> int:
    """Print the findings and a summary; the exit status (1 if anything FAILs)."""
    for finding in findings:
        print(finding.line(), file=out)
    count = {status: sum(f.status == status for f in findings) for status in Status}
    verdict = "fix the FAIL lines: they block service" if count[Status.FAIL] else "nothing blocks service"
    tally = ", ".join(f"{count[status]} {status.value}" for status in Status)
    print(f"tiepdan doctor: {tally}: {verdict}", file=out)
    return 1 if count[Status.FAIL] else 0


async def run(clock: Clock | None = None, out: TextIO | None = None) -> int:
    settings, found = load_settings()
    if settings is not None:
        found += await diagnose(settings, clock or SystemClock())
    return report(found, out or sys.stdout)
