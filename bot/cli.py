"""The `tiepdan` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from bot import demo, logs, retention
from bot.app import App, build_app
from bot.channels.console import ConsoleChannel
from bot.dialog.types import Channel
from bot.scheduler import Ticker
from bot.schema_upgrade import SchemaUpgradeFailed, upgrade_in_child
from bot.serve import WebPortUnavailable, bind_web_port, serve
from bot.settings import Settings
from bot.workers import AnotherWorkerOnSqlite
from storage import backup as backups
from storage.db import is_sqlite, start_lock
from storage.endpoints import EndpointFileError, read_endpoint_file, upsert_endpoints
from storage.session_plan import SessionFileError, import_sessions, read_session_plan

log = logging.getLogger("tiepdan")


async def _with_app(settings: Settings, work: Callable[[App], Awaitable[int]]) -> int:
    app = build_app(settings)
    try:
        return await work(app)
    finally:
        await app.close()


async def cmd_db_upgrade(settings: Settings) -> int:
    # storage.migrate (alembic) is imported by the commands that use it: `tiepdan run` migrates
    # in a child process (bot/schema_upgrade.py) and never loads it.
    from storage import migrate

    await migrate.upgrade(settings.database_url)
    print("database is at the latest schema")
    return 0


def _revisions_list() -> str:
    from storage import migrate

    lines = [f"  {revision}  {doc}" for revision, doc in migrate.revisions()]
    return "\n".join(["  base  no tables at all", *lines])


async def cmd_db_downgrade(settings: Settings, revision: str, yes: bool) -> int:
    """Reverting drops tables and columns with their data: the revision is named and confirmed."""
    from storage import migrate

    try:
        migrate.check_revision(revision)
        at = await migrate.current(settings.database_url)
        if migrate.already_at(at, revision):
            print(f"the database is already at revision {at or 'base'}; nothing to downgrade")
            return 0
        if not yes:
            lost = "every table" if revision == "base" else f"the tables and columns added after {revision}"
            print(
                f"tiepdan: `db downgrade {revision}` drops {lost}, with their data.\n"
                f"Back the database up first, then run `tiepdan db downgrade {revision} --yes`.",
                file=sys.stderr,
            )
            return 2
        await migrate.downgrade(settings.database_url, revision)
    except migrate.MigrationError as error:
        print(
            f"tiepdan: cannot downgrade: {error}.\nThe revisions are:\n{_revisions_list()}", file=sys.stderr
        )
        return 2
    print(f"database downgraded to {revision}")
    return 0


async def cmd_endpoints_import(settings: Settings, path: Path) -> int:
    try:
        rows = read_endpoint_file(path)
    except (OSError, EndpointFileError) as error:
        print(f"cannot import: {error}", file=sys.stderr)
        return 2

    async def work(app: App) -> int:
        async with app.sessions() as db, db.begin():
            added, updated = await upsert_endpoints(db, rows)
        print(f"endpoints: {added} added, {updated} updated")
        return 0

    return await _with_app(settings, work)


async def cmd_sessions_import(
    settings: Settings, path: Path, *, force: bool = False, noun: str = "sessions"
) -> int:
    from storage import migrate

    await migrate.upgrade(settings.database_url)
    try:
        # A row the file gets wrong is reported with those the database finds wrong, at once.
        planned = read_session_plan(path, settings.tz, settings.default_capacity)
    except (OSError, SessionFileError) as error:
        print(f"cannot import: {error}", file=sys.stderr)
        return 2

    async def work(app: App) -> int:
        try:
            async with app.sessions() as db, db.begin():
                result = await import_sessions(
                    db,
                    planned,
                    now=app.clock.now(),
                    lead_days=settings.summary_lead_days,
                    force=force,
                    timing=settings.timing,
                )
        except SessionFileError as error:
            print(f"cannot import: {error}", file=sys.stderr)
            return 2
        print(f"{noun}: {result.added} added, {result.skipped} skipped")
        return 0

    return await _with_app(settings, work)


async def cmd_demo_seed(settings: Settings) -> int:
    async def work(app: App) -> int:
        async with app.sessions() as db, db.begin():
            seeded = await demo.seed(db, settings, app.clock.now())
        print("demo data loaded" if seeded else "the database already has sessions; nothing loaded")
        return 0

    return await _with_app(settings, work)


def start_background(app: App, channels: Mapping[str, Channel]) -> Ticker:
    """The clock's work in this process: the outbox sender and the retention sweep."""
    ticker = Ticker(app, channels)
    ticker.start()
    return ticker


async def cmd_chat(settings: Settings) -> int:
    from storage import migrate

    await migrate.upgrade(settings.database_url)
    return await _with_app(settings, console_chat)


async def console_chat(app: App) -> int:
    channel = ConsoleChannel(app.dialog)
    background = start_background(app, {channel.name: channel})
    try:
        await channel.run(greeting="tiepdan — console chat. Ctrl-D to quit.\n")
    finally:
        await background.stop()
    return 0


async def cmd_privacy_sweep(settings: Settings) -> int:
    async def work(app: App) -> int:
        print(f"citizens anonymised: {await retention.sweep(app)}")
        return 0

    return await _with_app(settings, work)


def _postgres_backup_commands(database_url: str, path: Path) -> str:
    url = make_url(database_url)
    where = f"-h {url.host or 'localhost'} -p {url.port or 5432} -U {url.username or 'postgres'}"
    return (
        "tiepdan: on PostgreSQL, back up and restore with its own tools (they ask for the password):\n"
        f"  pg_dump --format=custom {where} --file={path} {url.database}\n"
        "and, with every tiepdan process stopped:\n"
        f"  pg_restore --clean --if-exists --no-owner {where} --dbname={url.database} {path}"
    )


def cmd_backup(settings: Settings, where: str) -> int:
    """SQLite: a consistent copy, taken while the bot runs (storage/backup.py). A name that
    ends in a slash is a folder, made if it is not there (`tiepdan backup /var/backups/tiepdan/`)."""
    path = Path(where)
    if not is_sqlite(settings.database_url):
        print(_postgres_backup_commands(settings.database_url, path), file=sys.stderr)
        return 2
    try:
        if where.endswith(("/", os.sep)):
            path.mkdir(parents=True, exist_ok=True)
        made = backups.backup(backups.sqlite_file(settings.database_url), path, datetime.now())
    except (backups.BackupError, sqlite3.Error, OSError) as error:
        print(f"tiepdan: no backup made: {error}", file=sys.stderr)
        return 1
    print(f"backup written to {made.path} ({made.size} bytes, schema revision {made.revision or 'none'})")
    return 0


def cmd_restore(settings: Settings, path: Path, yes: bool) -> int:
    """SQLite only, with the bot stopped; the database replaced is kept beside it."""
    if not is_sqlite(settings.database_url):
        print(_postgres_backup_commands(settings.database_url, path), file=sys.stderr)
        return 2
    try:
        target = backups.sqlite_file(settings.database_url)
        revision = backups.check_backup(path)
        if not yes:
            print(
                f"tiepdan: `restore` replaces the database {target} with the backup {path} "
                f"(schema revision {revision or 'none'}); what was written since that backup is lost "
                "(a copy of the database replaced is kept beside it)."
            )
            try:
                answer = input("Replace it? Type yes to go on: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                print(f"nothing restored; to skip this question, run `tiepdan restore {path} --yes`")
                return 2
        kept = backups.restore(path, target, datetime.now())
    except backups.DatabaseInUse as error:
        print(
            f"tiepdan: cannot restore while the bot runs: {error}.\n"
            "Stop `tiepdan run` (and any `tiepdan chat`) first, then restore.",
            file=sys.stderr,
        )
        return 2
    except (backups.BackupError, sqlite3.Error, OSError) as error:
        print(f"tiepdan: nothing restored: {error}", file=sys.stderr)
        return 1
    print(f"database {target} restored from {path}")
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    print("start the bot again: `tiepdan run` upgrades an older schema first")
    return 0


NO_MESSENGER_IN_PRODUCTION = (
    "tiepdan: ENVIRONMENT=production serves citizens through a messenger, and none is configured.\n"
    "Set TELEGRAM_BOT_TOKEN, or the Zalo OA (ZALO_OA_APP_ID, ZALO_OA_SECRET_KEY, ZALO_APP_SECRET, "
    "ZALO_OA_REFRESH_TOKEN), or ZALO_BOT_TOKEN.\n"
    "To chat with the bot in this terminal, run `tiepdan chat`."
)


async def cmd_run(settings: Settings) -> int:
    if settings.environment == "production" and not settings.messengers:
        # Not the console chat: under systemd it would read nothing, write a console citizen
        # into the production database and exit 0, in silence.
        print(NO_MESSENGER_IN_PRODUCTION, file=sys.stderr)
        return 2
    # The port first: a busy one is told before the database is migrated or demo data loaded.
    listening = bind_web_port(settings.web_host, settings.web_port) if settings.messengers else []
    try:
        await upgrade_in_child(settings.database_url, settings.log_format)
        async with start_lock(settings.database_url):  # workers starting together: one loads
            if settings.endpoints_file:
                status = await cmd_endpoints_import(settings, Path(settings.endpoints_file))
                if status:
                    return status
            if settings.environment != "production":
                await cmd_demo_seed(settings)
        if settings.messengers:
            return await _with_app(settings, lambda app: serve(app, listening=listening))
        return await _with_app(settings, console_chat)
    finally:
        for listener in listening:
            listener.close()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="tiepdan", description="Citizen-reception chatbot")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="migrate, load demo data if empty, and serve the bot")
    commands.add_parser("chat", help="chat with the bot in this terminal (console channel)")
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply all migrations")
    down = db.add_parser("downgrade", help="revert migrations, dropping what they added (with its data)")
    down.add_argument("revision", help="the revision to go back to (base: no tables at all)")
    down.add_argument("--yes", action="store_true", help="confirm: the data dropped is lost")
    endpoints = commands.add_parser("endpoints", help="endpoints (điểm cầu)").add_subparsers(
        dest="endpoints_command", required=True
    )
    load = endpoints.add_parser("import", help="load endpoints from a CSV or YAML file")
    load.add_argument("file", type=Path)
    for name, about in (
        ("events", "events of every kind: reception, voter contact (tiếp xúc cử tri), hearing"),
        ("sessions", "sessions (buổi tiếp công dân); the same as `events`"),
    ):
        plans = commands.add_parser(name, help=about).add_subparsers(dest=f"{name}_command", required=True)
        plan = plans.add_parser("import", help="create events from a CSV or YAML plan")
        plan.add_argument("file", type=Path)
        plan.add_argument(
            "--force", action="store_true", help="also create events whose sign-up deadline has passed"
        )
    demo_parser = commands.add_parser("demo", help="demo data").add_subparsers(
        dest="demo_command", required=True
    )
    demo_parser.add_parser("seed", help="load demo endpoints and sessions into an empty database")
    privacy = commands.add_parser("privacy", help="personal data").add_subparsers(
        dest="privacy_command", required=True
    )
    privacy.add_parser("sweep", help="anonymise citizens inactive for longer than RETENTION_DAYS")
    commands.add_parser("doctor", help="check the settings, database, tokens, webhook and outbox (read only)")
    backup = commands.add_parser("backup", help="copy the SQLite database, safely while the bot runs")
    backup.add_argument("path", help="a new file, or a folder to write it in (a name ending in / is one)")
    restore = commands.add_parser("restore", help="replace the SQLite database with a backup (bot stopped)")
    restore.add_argument("path", type=Path, help="the backup file")
    restore.add_argument("--yes", action="store_true", help="do not ask first")
    return root


def load_settings() -> Settings | None:
    """The settings, or None after telling what is wrong with them (no traceback)."""
    try:
        settings = Settings()
        settings.check_production_secrets()
    except ValidationError as error:
        problems = "\n".join(
            f"  {'.'.join(str(part) for part in item['loc']).upper() or 'settings'}: {item['msg']}"
            for item in error.errors()
        )
        print(f"tiepdan: the settings are not valid:\n{problems}", file=sys.stderr)
        return None
    except (ValueError, KeyError) as error:  # a production check, an unknown time zone
        print(f"tiepdan: the settings are not valid: {error}", file=sys.stderr)
        return None
    return settings


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "doctor":  # before the settings load: judging them is its first check
        from bot import doctor

        return asyncio.run(doctor.run())
    settings = load_settings()
    if settings is None:
        return 2
    if args.command in ("backup", "restore"):  # no event loop: sqlite3 and files only
        return (
            cmd_backup(settings, args.path)
            if args.command == "backup"
            else cmd_restore(settings, args.path, args.yes)
        )
    interactive = args.command == "chat" or (args.command == "run" and not settings.messengers)
    logs.configure(logging.WARNING if interactive else settings.log_level, settings.log_format)
    if args.command == "run":
        work = cmd_run(settings)
    elif args.command == "chat":
        work = cmd_chat(settings)
    elif args.command == "db":
        work = (
            cmd_db_upgrade(settings)
            if args.db_command == "upgrade"
            else cmd_db_downgrade(settings, args.revision, args.yes)
        )
    elif args.command == "endpoints":
        work = cmd_endpoints_import(settings, args.file)
    elif args.command in ("events", "sessions"):
        work = cmd_sessions_import(settings, args.file, force=args.force, noun=args.command)
    elif args.command == "privacy":
        work = cmd_privacy_sweep(settings)
    else:
        work = cmd_demo_seed(settings)
    try:
        return asyncio.run(work)
    except AnotherWorkerOnSqlite as error:
        print(f"tiepdan: {error}.", file=sys.stderr)
        return 2
    except WebPortUnavailable as error:  # before the OSError below: not the database
        print(
            f"tiepdan: cannot serve the webhooks and /healthz: {error}.\n"
            "Stop the program that uses it, or set WEB_PORT (and WEB_HOST) to where tiepdan may listen.",
            file=sys.stderr,
        )
        return 1
    except (DBAPIError, OSError, SchemaUpgradeFailed) as error:  # unreachable, refused, no schema yet
        reason = error.orig if isinstance(error, DBAPIError) else error
        print(
            f"tiepdan: the database of DATABASE_URL cannot be used: {reason}\n"
            "Check that it is running and reachable, and run `tiepdan db upgrade` before other commands.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
