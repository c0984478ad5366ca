"""A chat in the terminal: everything a citizen can do on Telegram, as numbered text."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.channels.text import render_numbered as render
from bot.dialog.engine import Dialog
from bot.dialog.types import ANY_DOCUMENT, Capabilities, Incoming, Option, Reply

CONSOLE_USER = "local"


class ConsoleChannel:
    """Options are numbered lines; the user answers with a number or the option's text."""

    name = "console"
    # Files are saved under data/files and their path shown: the console does take documents.
    capabilities = Capabilities(
        buttons=False,
        phone_request=False,
        document_types=ANY_DOCUMENT,
        max_document_bytes=2**31,
        max_text_length=100_000,
    )

    def __init__(
        self,
        dialog: Dialog,
        out: TextIO = sys.stdout,
        user_id: str = CONSOLE_USER,
        files_dir: Path = Path("data/files"),
    ) -> None:
        self.dialog = dialog
        self.out = out
        self.user_id = user_id
        self.files_dir = files_dir
        self._options: list[Option] = []

    async def send(self, user_id: str, replies: list[Reply]) -> None:
        for reply in replies:
            text = render(reply)
            if reply.document is not None:  # a terminal cannot show a file: save it
                self.files_dir.mkdir(parents=True, exist_ok=True)
                path = self.files_dir / reply.document.filename
                path.write_bytes(reply.document.content)
                text = f"{text}\n  → {path}".lstrip("\n")
            print(text + "\n", file=self.out, flush=True)

    async def handle_line(self, line: str) -> list[Reply]:
        incoming = Incoming(channel=self.name, user_id=self.user_id, text=line)
        replies = await self.dialog.handle(incoming, self.capabilities)
        await self.send(self.user_id, replies)
        return replies

    async def run(self, read_line: Callable[[], str] = input, greeting: str = "") -> None:
        """Talk until end of input (Ctrl-D) or Ctrl-C."""
        if greeting:
            print(greeting, file=self.out, flush=True)
        await self.handle_line("/tieptuc")  # where they left off; the start for someone new
        while True:
            try:
                line = await asyncio.to_thread(read_line, "› ")  # type: ignore[call-arg]
            except (EOFError, KeyboardInterrupt):
                return
            if line.strip():
                await self.handle_line(line)
