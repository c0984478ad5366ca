"""The replies of a user's last event, kept with their conversation state until the next one.

Written in the same statement as the state (no extra round trip), so after a crash between
the commit and the send the prompt of the step the database says the user is at can be sent
again exactly as it was (same buttons, same turn). Files made for the reply (an export) are
not kept: they can be large, and asking again makes them again.
"""

from __future__ import annotations

from typing import Any

from bot.dialog.types import Attachment, Option, Reply


def encode(replies: list[Reply]) -> list[dict[str, Any]]:
    kept = []
    for reply in replies:
        if not (reply.text or reply.files):
            continue  # a file alone: not kept (see above)
        item: dict[str, Any] = {"text": reply.text}
        if reply.options:
            item["options"] = [[option.payload, option.label] for option in reply.options]
        if reply.ask_phone:
            item["ask_phone"] = reply.ask_phone
        if reply.files:
            item["files"] = [[f.kind, f.file_id, f.name, f.mime_type, f.size] for f in reply.files]
        if reply.close_keyboard:
            item["close_keyboard"] = True
        if reply.staff_menu:
            item["staff_menu"] = True
        kept.append(item)
    return kept


def decode(kept: object) -> list[Reply]:
    if not isinstance(kept, list):
        return []
    return [
        Reply(
            str(item.get("text", "")),
            options=tuple(Option(str(p), str(label)) for p, label in item.get("options", [])),
            ask_phone=str(item.get("ask_phone", "")),
            files=tuple(Attachment(*f) for f in item.get("files", [])),
            close_keyboard=bool(item.get("close_keyboard")),
            staff_menu=bool(item.get("staff_menu")),
        )
        for item in kept
        if isinstance(item, dict)
    ]
