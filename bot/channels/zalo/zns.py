"""ZNS (Zalo Notification Service): the notices that cannot wait for a citizen to write again.

Outside the 7-day window a consultation message is refused; an approved ZNS template sent to
the citizen's phone number still goes. Each kind of notice needs its own template, approved
by Zalo with the fields it shows (see bot.notify.template_fields):
ZALO_ZNS_TEMPLATES=session_moved:412345,session_cancelled:412346,reminder:412347
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.channels.zalo.oa_client import OAClient, PermanentError
from bot.dialog.types import TemplateRefused


class ZnsTemplates:
    """The outbox's TemplateSender for Zalo OA citizens."""

    def __init__(self, client: OAClient, templates: Mapping[str, str]) -> None:
        self.client = client
        self.templates = dict(templates)

    async def send_template(
        self, phone: str, kind: str, fields: Mapping[str, str], tracking_id: str
    ) -> str | None:
        template_id = self.templates.get(kind)
        if template_id is None:
            return None
        try:
            return await self.client.send_zns(phone, template_id, dict(fields), tracking_id)
        except PermanentError as error:  # a bad phone number, a template not approved
            raise TemplateRefused(str(error)) from error
