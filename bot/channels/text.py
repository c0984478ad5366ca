"""Replies as text: numbered options for channels without buttons (console, Zalo Bot API),
splitting to a platform's length limit, and joining plain texts into fewer messages."""

from __future__ import annotations

from dataclasses import replace

from bot.dialog.types import Reply


def render_numbered(reply: Reply) -> str:
    """The text, then each option as a numbered line; the user answers with the number."""
    lines = [reply.text] if reply.text else []
    lines += [f"  [{attachment.name or attachment.kind}]" for attachment in reply.files]
    for number, option in enumerate(reply.options, start=1):
        lines.append(f"  {number}. {option.label}")
    return "\n".join(lines)


def split_text(text: str, limit: int) -> list[str]:
    """Chunks of at most `limit` characters, cut at line ends where possible."""
    text = text or "…"
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single line too long for one message
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current or "…")
    return chunks


def merge_texts(replies: list[Reply], limit: int) -> list[Reply]:
    """Join a plain text into the reply after it: fewer messages, fewer notifications."""
    merged: list[Reply] = []
    for reply in replies:
        previous = merged[-1] if merged else None
        plain = previous is not None and not (
            previous.options or previous.ask_phone or previous.document or previous.files
        )
        if previous is not None and plain and len(previous.text) + 2 + len(reply.text) <= limit:
            merged[-1] = replace(
                reply,
                text=f"{previous.text}\n\n{reply.text}",
                close_keyboard=previous.close_keyboard or reply.close_keyboard,
            )
        else:
            merged.append(reply)
    return merged
