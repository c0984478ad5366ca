"""Which offered option a typed text names.

People type a button's words rather than press it, often without diacritics or only its
start: "xac nhan gui" is "✅ Xác nhận gửi", "khac" is "Lĩnh vực khác", "dat" is "Đất đai".
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.dialog.types import Option
from storage.text import plain

MIN_PART = 2  # one letter names too many options to mean any


def typed_option(text: str, offered: Sequence[Option], *, partial: bool) -> str | None:
    """The payload of the option `text` names, or None.

    The whole label always names it (case, diacritics, punctuation and emoji aside). With
    `partial` (a step whose answer is one of its options), so do the start of the label or
    of one of its words, and what follows, when exactly one option reads so. A step that
    takes typed text as its answer (a name, an address) is not `partial`: "An" there is a
    name, not the start of a "Keep: Nguyễn Văn An" button.
    """
    typed = plain(text)
    if not typed:
        return None
    labels = [(option.payload, plain(option.label)) for option in offered]
    whole = [payload for payload, label in labels if label == typed]
    if whole or not partial or len(typed) < MIN_PART or not any(ch.isalpha() for ch in typed):
        return whole[0] if whole else None
    starts = [payload for payload, label in labels if f" {label}".find(f" {typed}") >= 0]
    return starts[0] if len(starts) == 1 else None
