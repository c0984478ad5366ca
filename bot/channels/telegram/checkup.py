"""`tiepdan doctor` on Telegram: the token (getMe) and the webhook as Telegram sees it
(getWebhookInfo). Read only: nothing is set or deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError

from bot.channels.telegram.runner import WEBHOOK_PATH, make_bot, webhook_target
from bot.findings import Finding, fail, mask, ok, span, warn
from bot.settings import Settings

TOKEN = "TELEGRAM_BOT_TOKEN"
WEBHOOK = "TELEGRAM_WEBHOOK_URL"
RECENT_ERROR = timedelta(hours=24)  # an older delivery error is history, not news
MANY_PENDING = 100  # updates waiting although Telegram reports no error: the bot is slow


async def check(settings: Settings, now: datetime) -> list[Finding]:
    token = settings.telegram_bot_token
    if not token:
        return [ok(TOKEN, "not set: Telegram is off")]
    bot = make_bot(token, settings.telegram_api_base, max_retries=0)
    try:
        try:
            me = await bot.get_me()
        except TelegramUnauthorizedError:
            return [
                fail(
                    TOKEN, f"{mask(token)} refused by Telegram (Unauthorized): copy it again from @BotFather"
                )
            ]
        except TelegramNetworkError as error:
            where = f"TELEGRAM_API_BASE {settings.telegram_api_base}"
            said = error.message.replace(token, "***")  # an aiohttp error may quote the URL
            return [fail(TOKEN, f"{mask(token)} not checked: {where} cannot be reached ({said})")]
        except TelegramAPIError as error:
            return [fail(TOKEN, f"{mask(token)}: getMe failed: {error.message}")]
        found = [ok(TOKEN, f"{mask(token)}; getMe answered @{me.username} (id {me.id})")]
        try:
            info = await bot.get_webhook_info()
        except TelegramAPIError as error:
            return [*found, fail(WEBHOOK, f"getWebhookInfo failed: {error.message}")]
        found.append(
            _judge_webhook(
                settings,
                now,
                info.url,
                info.pending_update_count,
                info.last_error_date,
                info.last_error_message,
            )
        )
        return found
    finally:
        await bot.session.close()


def _judge_webhook(
    settings: Settings,
    now: datetime,
    url: str,
    pending: int,
    error_at: datetime | int | None,
    error: str | None,
) -> Finding:
    if not settings.telegram_webhook_url:
        if url:
            return warn(
                WEBHOOK,
                f"empty (long polling), but Telegram posts to {url}: `tiepdan run` removes that webhook "
                "when it starts; if another program set it, two programs serve this bot",
            )
        return ok(WEBHOOK, f"empty: long polling; {pending} updates waiting at Telegram")
    expected = webhook_target(settings.telegram_webhook_url)
    if not url:
        return warn(WEBHOOK, f"Telegram has no webhook: `tiepdan run` sets {expected} when it starts")
    if url != expected:
        return fail(
            WEBHOOK,
            f"Telegram posts to {url}, not to {expected}: restart tiepdan (it sets its own), "
            f"or set TELEGRAM_WEBHOOK_URL to the public https address of {WEBHOOK_PATH}",
        )
    if isinstance(error_at, int):
        error_at = datetime.fromtimestamp(error_at, UTC)
    if error_at is not None and now - error_at < RECENT_ERROR:
        said = (
            f"Telegram's last delivery to {url} failed {span(now - error_at)} ago ({error or 'no message'})"
        )
        if pending:
            return fail(
                WEBHOOK,
                f"{said}; {pending} updates waiting: check that tiepdan runs and that the proxy "
                f"forwards {WEBHOOK_PATH}",
            )
        return warn(WEBHOOK, f"{said}; nothing waiting now")
    if pending > MANY_PENDING:
        return warn(WEBHOOK, f"Telegram posts to {url}; {pending} updates waiting: the bot is behind")
    return ok(WEBHOOK, f"Telegram posts to {url}; {pending} updates waiting, no recent delivery error")
