"""Text helpers shared by storage and handlers."""

from __future__ import annotations

import unicodedata


def normalize(text: str) -> str:
    """NFC form with outer whitespace removed (Zalo and some keyboards send NFD)."""
    return unicodedata.normalize("NFC", text).strip()


def fold(text: str) -> str:
    """Lower-case, without diacritics and with single spaces: "Tân  Bình" -> "tan binh"."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.split())


def mask_name(name: str) -> str:
    """Keep each word's first letter: "Nguyễn Văn An" -> "N***** V** A*"."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def plain(text: str) -> str:
    """`fold` without punctuation and symbols, for comparing what people type with words and
    button labels: "✅ Đồng ý!" -> "dong y"."""
    return " ".join("".join(ch if ch.isalnum() else " " for ch in fold(text)).split())
