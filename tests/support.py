"""A test channel that records every reply (errbot's testbot is the model)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.app import App
from bot.dialog.engine import Dialog
from bot.dialog.types import ANY_DOCUMENT, Capabilities, Incoming, Option, Reply
from storage.text import fold

BUTTONS = Capabilities(
    buttons=True,
    phone_request=True,
    document_types=ANY_DOCUMENT,
    max_document_bytes=50 * 1024 * 1024,
    file_uploads=True,
    max_text_length=4096,
)
TEXT_ONLY = Capabilities(buttons=False, phone_request=False, max_text_length=2000)


@dataclass
class ChatUser:
    """One person talking to the bot through the engine, as a channel would."""

    dialog: Dialog
    user_id: str = "1001"
    channel: str = "test"
    capabilities: Capabilities = BUTTONS
    language: str | None = None
    history: list[Reply] = field(default_factory=list)
    last: list[Reply] = field(default_factory=list)
    _events: int = 0

    async def _send(self, **kwargs: object) -> list[Reply]:
        self._events += 1
        incoming = Incoming(
            channel=self.channel,
            user_id=self.user_id,
            event_id=f"{self.user_id}-{self._events}",
            language=self.language,
            **kwargs,  # type: ignore[arg-type]
        )
        self.last = await self.dialog.handle(incoming, self.capabilities)
        self.history.extend(self.last)
        return self.last

    async def say(self, text: str) -> list[Reply]:
        return await self._send(text=text)

    async def share_phone(self, phone: str) -> list[Reply]:
        return await self._send(phone=phone)

    async def press(self, wanted: str) -> list[Reply]:
        """Press the first option whose label contains `wanted`, or whose payload is (`ep:` starts) it."""
        option = self.find_option(wanted)
        return await self._send(option=option.payload)

    async def press_wire(self, wire_payload: str) -> list[Reply]:
        return await self._send(option=wire_payload)

    def find_option(self, wanted: str) -> Option:
        options = self.options_of_prompt
        folded = fold(wanted)
        for option in options:
            bare = option.payload.partition(":")[2]
            prefix = wanted.endswith(":") and bare.startswith(wanted)
            if bare == wanted or prefix or folded in fold(option.label):
                return option
        raise AssertionError(f"no option {wanted!r} in {[o.label for o in options]}")

    @property
    def prompt(self) -> Reply:
        assert self.last, "the bot has not answered yet"
        return self.last[-1]

    @property
    def options_of_prompt(self) -> tuple[Option, ...]:
        return self.prompt.options

    @property
    def labels(self) -> list[str]:
        return [option.label for option in self.prompt.options]

    @property
    def text(self) -> str:
        """Everything the bot said in answer to the last event."""
        return "\n".join(reply.text for reply in self.last)


def counted(app: App, name: str, **labels: str) -> float:
    """A sample of the app's own metrics registry (/metrics), 0 when never counted."""
    return app.metrics.registry.get_sample_value(name, labels) or 0.0
