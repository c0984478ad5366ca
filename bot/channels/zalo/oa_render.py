"""A Reply as Zalo OA consultation messages: text of at most 2,000 characters, options as
`oa.query.hide` buttons (at most 5 a message) and also as numbered lines the user may
type, the phone step as a `request_user_info` template.

A pressed `oa.query.hide` button comes back as a text message from the user holding the
button's payload; BUTTON_PREFIX tells it apart from anything a person would type.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.channels.text import split_text
from bot.dialog.types import Option, Reply

MAX_TEXT = 2000
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
MAX_BUTTON_PAYLOAD = 1000
MAX_INFO_TITLE = 100
MAX_INFO_SUBTITLE = 500
BUTTON_PREFIX = "#chon:"

Message = dict[str, Any]


def button_payload(option: Option) -> str:
    payload = BUTTON_PREFIX + option.payload
    if len(payload) > MAX_BUTTON_PAYLOAD:
        raise ValueError(f"button payload over {MAX_BUTTON_PAYLOAD} characters: {option.payload!r}")
    return payload


def option_of(text: str) -> str | None:
    """The option payload of a pressed button, or None for typed text."""
    return text[len(BUTTON_PREFIX) :] if text.startswith(BUTTON_PREFIX) else None


def buttons(options: list[tuple[int, Option]]) -> dict[str, Any]:
    return {
        "type": "template",
        "payload": {
            "buttons": [
                {
                    "title": f"{number}. {option.label}"[:MAX_BUTTON_TITLE],
                    "type": "oa.query.hide",
                    "payload": button_payload(option),
                }
                for number, option in options
            ]
        },
    }


def text_messages(text: str, attachment: dict[str, Any] | None = None) -> list[Message]:
    """`text` cut at line ends into messages; the attachment rides on the last one."""
    messages: list[Message] = [{"text": chunk} for chunk in split_text(text, MAX_TEXT)]
    if attachment is not None:
        messages[-1]["attachment"] = attachment
    return messages


def request_phone(reply: Reply) -> Message:
    """Zalo's form for the user's name and phone; the answer comes as `user_submit_info`.
    Assumed: `image_url` may be left out (sources disagree on whether it is required)."""
    subtitle = (reply.text.strip().split("\n")[0] or reply.ask_phone)[:MAX_INFO_SUBTITLE]
    element = {"title": reply.ask_phone[:MAX_INFO_TITLE], "subtitle": subtitle}
    return {
        "attachment": {
            "type": "template",
            "payload": {"template_type": "request_user_info", "elements": [element]},
        }
    }


def is_phone_form(message: Message) -> bool:
    attachment = message.get("attachment") or {}
    return bool((attachment.get("payload") or {}).get("template_type") == "request_user_info")


def file_lines(reply: Reply) -> str:
    """Files held elsewhere, as lines: a file sent to the OA is kept as its Zalo link (valid
    for a while), which staff can open; a file from another platform can only be named."""
    return "\n".join(
        f"📎 {item.name or item.kind}: {item.file_id}"
        if item.file_id.startswith("https://")
        else f"📎 {item.name or item.kind}"
        for item in reply.files
    )


def messages_for(reply: Reply) -> list[Message]:
    """The messages of one reply, in order. The request for the phone number comes last."""
    if reply.files:
        reply = replace(reply, text="\n".join(filter(None, (reply.text, file_lines(reply)))), files=())
    numbered = list(enumerate(reply.options, start=1))
    groups = [numbered[start : start + MAX_BUTTONS] for start in range(0, len(numbered), MAX_BUTTONS)]
    messages: list[Message] = []
    text = reply.text
    for group in groups:  # each message lists the numbers of its own buttons
        lines = "\n".join(f"  {number}. {option.label}" for number, option in group)
        messages += text_messages(f"{text}\n\n{lines}" if text else lines, buttons(group))
        text = ""
    if not groups and (reply.text or not reply.ask_phone):
        messages += text_messages(reply.text)
    if reply.ask_phone:
        messages.append(request_phone(reply))
    return messages  # a document goes on its own, uploaded first: see ZaloOAChannel


def file_message(token: str) -> Message:
    """A file uploaded to Zalo, sent by the token the upload gave."""
    return {"attachment": {"type": "file", "payload": {"token": token}}}
