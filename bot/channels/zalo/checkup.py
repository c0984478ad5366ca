"""`tiepdan doctor` on Zalo: the OA's token pair (how long it has left, whether Zalo accepts
it), the ZNS templates, and the Zalo Bot token (getMe). Read only: the single-use refresh
token is never spent here."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiohttp

from bot.channels.zalo.bot_api import ZaloBotApi, ZaloBotError, ZaloBotUnauthorized
from bot.channels.zalo.oa_client import AuthError, ZaloError, oa_info
from bot.findings import Finding, fail, mask, ok, span, warn
from bot.settings import Settings
from storage.checkup import OATokenState
from storage.zalo_oa import TokenSeed

OA = "ZALO_OA_REFRESH_TOKEN"
OA_ACCESS = "ZALO_OA_ACCESS_TOKEN"
ZNS = "ZALO_ZNS_TEMPLATES"
BOT = "ZALO_BOT_TOKEN"
# Zalo accepts a refresh token for 3 months after it was issued.
REFRESH_TOKEN_LIFE = timedelta(days=90)
REFRESH_TOKEN_WARNING = timedelta(days=14)
TIMEOUT = aiohttp.ClientTimeout(total=15)


async def check_oa(
    settings: Settings, now: datetime, stored: OATokenState | None, refused_at: datetime | None
) -> list[Finding]:
    if "zalo" not in settings.messengers:
        return [ok("ZALO_OA_APP_ID", "not set: the Zalo OA is off")]
    seed = TokenSeed(settings.zalo_oa_access_token, settings.zalo_oa_refresh_token)
    if stored is None or stored.seed_hash != seed.hash:
        # Not used yet: `tiepdan run` stores the settings' pair at its first call to Zalo.
        which = "the settings' token" if stored is None else "the settings' new token"
        if not settings.zalo_oa_access_token:
            return [
                warn(
                    OA, f"{mask(seed.refresh_token)}, not stored yet: the bot refreshes it at its first call"
                )
            ]
        return [await _try_access_token(settings, seed.access_token, f"{which}, not stored yet")]
    if refused_at is not None and (stored.refreshed_at is None or refused_at > stored.refreshed_at):
        return [
            fail(
                OA,
                f"Zalo refused to refresh the token pair {span(now - refused_at)} ago: an OA admin "
                "must grant the app access again, and the new pair go into ZALO_OA_ACCESS_TOKEN "
                "and ZALO_OA_REFRESH_TOKEN",
            )
        ]
    found = []
    if stored.refreshed_at is not None:
        left = stored.refreshed_at + REFRESH_TOKEN_LIFE - now
        if left <= timedelta(0):
            found.append(
                fail(
                    OA,
                    f"refresh token issued {span(now - stored.refreshed_at)} ago: Zalo accepts "
                    "it for 3 months; an OA admin must grant the app access again",
                )
            )
        elif left < REFRESH_TOKEN_WARNING:
            found.append(
                warn(
                    OA,
                    f"the refresh token has {span(left)} left; the bot renews it "
                    "each time it refreshes the access token",
                )
            )
    if stored.expires_at <= now:
        found.append(
            warn(
                OA_ACCESS,
                f"the stored access token expired {span(now - stored.expires_at)} ago: "
                "the bot refreshes it at its next call to Zalo (is tiepdan running?)",
            )
        )
    else:
        which = f"stored access token, {span(stored.expires_at - now)} left"
        found.append(await _try_access_token(settings, stored.access_token, which))
    return found


async def _try_access_token(settings: Settings, token: str, which: str) -> Finding:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        try:
            profile = await oa_info(http, settings.zalo_oa_api_base, token)
        except AuthError as error:
            return warn(
                OA_ACCESS, f"{which}: refused by Zalo ({error.code}); the bot refreshes it at its next call"
            )
        except ZaloError as error:
            return fail(
                OA_ACCESS, f"{which}: ZALO_OA_API_BASE {settings.zalo_oa_api_base} did not answer ({error})"
            )
    return ok(
        OA_ACCESS,
        f"{which}; Zalo accepts it (OA {profile.get('name', '?')!r}, id {profile.get('oa_id', '?')})",
    )


def check_zns(settings: Settings) -> Finding:
    templates = settings.zns_templates
    listed = ", ".join(f"{kind}={template}" for kind, template in sorted(templates.items()))
    if "zalo" not in settings.messengers:
        if templates:
            return warn(ZNS, f"{listed}, but the Zalo OA is off: they are not used")
        return ok(ZNS, "none (the Zalo OA is off)")
    if not templates:
        return warn(ZNS, "none: a citizen silent for more than 7 days gets no notice on Zalo")
    return ok(ZNS, f"{len(templates)} configured: {listed}")


async def check_bot(settings: Settings) -> Finding:
    token = settings.zalo_bot_token
    if not token:
        return ok(BOT, "not set: the Zalo Bot is off")
    api = ZaloBotApi(token, settings.zalo_bot_api_base, max_retries=0)
    try:
        me = await api.get_me()
    except ZaloBotUnauthorized:
        return fail(BOT, f"{mask(token)} refused by Zalo (Unauthorized): copy it again from Zalo Bot Manager")
    except ZaloBotError as error:
        return fail(
            BOT, f"{mask(token)}: getMe failed ({error}; ZALO_BOT_API_BASE {settings.zalo_bot_api_base})"
        )
    finally:
        await api.close()
    return ok(BOT, f"{mask(token)}; getMe answered {me.get('account_name', '?')} (id {me.get('id', '?')})")
