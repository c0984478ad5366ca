"""The deployment files (Dockerfile, compose.yaml, deploy/) against the code they deploy: the
paths the proxies forward are those the bot serves, the limits let the bot decide, and the
image and compose file agree with the settings' defaults. Docker itself is not needed
(tests/test_docker_image.py builds the image where a daemon runs)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import yaml
from aiohttp import web

from bot.app import App
from bot.channels.zalo import bot_runner, oa_webhook
from bot.serve import Health, bind_web_port, build_services, start_web_server
from bot.settings import Settings
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.zalo_bot_api import TOKEN as ZALO_BOT_TOKEN

ROOT = Path(__file__).resolve().parent.parent
NGINX = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
CADDY = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
INTERNAL_ONLY = "/metrics"  # Prometheus' scrape (issue 14): the office's own network only


def without_comments(config: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in config.splitlines())


def nginx_paths() -> set[str]:
    return set(re.findall(r"location\s+=\s+(/\S*)", without_comments(NGINX)))


def caddy_paths() -> set[str]:
    paths: set[str] = set()
    for matcher in re.findall(r"^\s*(?:@\w+\s+)?path\s+(.+)$", without_comments(CADDY), re.MULTILINE):
        paths.update(matcher.split())
    return paths


async def served_paths(app: App) -> set[str]:
    """The routes of the web server `tiepdan run` starts with every messenger by webhook."""
    settings = app.settings
    settings.telegram_bot_token, settings.telegram_webhook_url = TELEGRAM_TOKEN, "https://bot.example.gov.vn"
    settings.telegram_webhook_secret = "telegram-webhook-secret-0123456789"
    settings.zalo_bot_token, settings.zalo_bot_webhook_url = ZALO_BOT_TOKEN, "https://bot.example.gov.vn"
    settings.zalo_bot_webhook_secret = "zalo-bot-secret-0123"
    settings.zalo_oa_app_id, settings.zalo_oa_secret_key, settings.zalo_app_secret = "app", "oa-key", "secret"
    settings.zalo_oa_access_token, settings.zalo_oa_refresh_token = "access", "refresh"
    assert settings.messengers == ["telegram", "zalo_bot", "zalo"]
    services = build_services(app)
    runner = await start_web_server(app, services, Health(app), bind_web_port("127.0.0.1", 0))
    try:
        return {
            route.resource.canonical
            for route in runner.app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        }
    finally:
        await runner.cleanup()
        for stop in services.on_stop:
            await stop()


async def test_the_proxies_forward_exactly_the_paths_the_bot_serves(app: App) -> None:
    served = await served_paths(app)
    assert {"/telegram/webhook", "/zalo/oa/webhook", "/zalo/bot/webhook", "/healthz"} <= served
    # /metrics is proxied ahead of the metrics endpoint landing; every other path must be served.
    for name, proxied in (("deploy/nginx.conf", nginx_paths()), ("deploy/Caddyfile", caddy_paths())):
        assert proxied - {INTERNAL_ONLY} <= served, f"{name} forwards paths the bot does not serve"
        assert served <= proxied, f"{name} leaves out {sorted(served - proxied)}"
        assert INTERNAL_ONLY in proxied, name


def test_metrics_are_for_the_internal_network_and_other_paths_end_at_the_proxy() -> None:
    nginx = without_comments(NGINX)
    metrics = re.search(r"location = /metrics \{(.*?)\}", nginx, re.DOTALL)
    assert metrics is not None
    assert metrics.group(1).strip().splitlines()[-2].strip() == "deny all;"  # after the allows
    assert "allow 0.0.0.0/0" not in metrics.group(1) and "allow all" not in metrics.group(1)
    assert re.search(r"location / \{ return 404; \}", nginx)
    caddy = without_comments(CADDY)
    matcher = re.search(r"@metrics_internal \{(.*?)\}", caddy, re.DOTALL)
    assert matcher is not None and "remote_ip" in matcher.group(1) and "0.0.0.0/0" not in matcher.group(1)
    assert re.search(r"handle \{\s*respond 404\s*\}", caddy)


def size_in_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*([A-Za-z]*)", value.strip()).groups()  # type: ignore[union-attr]
    factor = {"": 1, "k": 1024, "m": 1024**2, "kib": 1024, "mib": 1024**2, "kb": 1000, "mb": 1000**2}
    return int(number) * factor[unit.lower()]


def test_the_proxies_let_the_bot_decide_how_large_a_body_may_be() -> None:
    aiohttp_limit = inspect.signature(web.Application).parameters["client_max_size"].default  # Telegram
    largest = max(aiohttp_limit, oa_webhook.MAX_BODY_BYTES, bot_runner.MAX_BODY_BYTES)
    nginx = re.search(r"client_max_body_size\s+(\w+);", without_comments(NGINX))
    caddy = re.search(r"max_size\s+(\w+)", without_comments(CADDY))
    assert nginx is not None and caddy is not None
    assert size_in_bytes(nginx.group(1)) >= largest
    assert size_in_bytes(caddy.group(1)) >= largest
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Real-IP"):
        assert f"proxy_set_header {header}" in NGINX


def dockerfile_instructions(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.+)$", DOCKERFILE, re.MULTILINE)


def test_the_image_runs_tiepdan_as_a_user_with_the_locked_runtime_dependencies() -> None:
    assert dockerfile_instructions("ARG")[0] == "PYTHON_IMAGE=python:3.11-slim-bookworm"
    assert dockerfile_instructions("USER") == ["tiepdan"]
    assert dockerfile_instructions("ENTRYPOINT") == ['["tiepdan"]'] and dockerfile_instructions("CMD") == [
        '["run"]'
    ]
    installs = [line for line in dockerfile_instructions("RUN") if "pip install" in line]
    assert installs[0].endswith("pip install --require-hashes -r /tmp/requirements.lock")
    assert "--no-deps" in installs[1]
    assert "requirements-dev.lock" not in DOCKERFILE
    assert dockerfile_instructions("EXPOSE") == [str(Settings.model_fields["web_port"].default)]
    # The default DATABASE_URL's ./data, under the working directory, is the volume.
    default_url = Settings.model_fields["database_url"].default
    assert default_url == "sqlite+aiosqlite:///./data/tiepdan.db"
    (workdir,) = dockerfile_instructions("WORKDIR")
    assert dockerfile_instructions("VOLUME") == [f'["{workdir}/data"]']


def test_compose_starts_tiepdan_once_postgresql_is_healthy_and_checks_healthz() -> None:
    db, bot = COMPOSE["services"]["db"], COMPOSE["services"]["tiepdan"]
    assert db["healthcheck"]["test"][0] == "CMD-SHELL" and "pg_isready" in db["healthcheck"]["test"][1]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    environment = bot["environment"]
    assert environment["ENVIRONMENT"] == "production"
    assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://tiepdan:")
    assert environment["DATABASE_URL"].endswith(f"@db:5432/{db['environment']['POSTGRES_DB']}")
    port = environment["WEB_PORT"]
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["ports"] == [f"127.0.0.1:{port}:{port}"]  # for the proxy on the host, not public
    # Named volumes: the database's, and tiepdan's data directory (the image's VOLUME).
    assert set(COMPOSE["volumes"]) == {"db-data", "tiepdan-data"}
    assert db["volumes"] == ["db-data:/var/lib/postgresql/data"]
    (workdir,) = dockerfile_instructions("WORKDIR")
    assert bot["volumes"] == [f"tiepdan-data:{workdir}/data"]
