"""Text helpers shared by storage and handlers.

`normalize` is the one cleaner of free text: the dialog engine runs every incoming text
(and shared phone, and file name) through it before any step sees it, and the data-file
importers run every cell through it, so what reaches the database is clean.
"""

from __future__ import annotations

import unicodedata

# Bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
# marks U+200E, U+200F, U+061C: they reorder how the text around them is shown, so
# "Thanh tra\u202eacn" reads differently on screen than in the file ("Trojan Source").
# Zero-width characters (U+200B, U+2060, U+FEFF, soft hyphen …) hide content: a name or an
# agency that looks the same but never matches, or words smuggled invisibly (tag characters).
# Every other format character (category Cf) goes the same way, except the joiners that
# emoji are built with (below).
ZERO_WIDTH_JOINER = "\u200d"
EMOJI_TAG_BASE = "\U0001f3f4"  # 🏴: regional flags are 🏴 + tag letters + cancel tag
TAGS = range(0xE0020, 0xE0080)  # tag letters and the cancel tag U+E007F
VARIATION_SELECTOR_16 = "\ufe0f"
LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n\n", "\x85": "\n"}
KEPT_CONTROLS = frozenset("\n\t")  # a multi-line summary needs them; single-line fields fold them


def _is_pictographic(ch: str) -> bool:
    """Emoji and symbols that ZWJ sequences join (👨‍👩‍👧, 🏳️‍🌈): category So, or a skin tone."""
    return unicodedata.category(ch) == "So" or 0x1F3FB <= ord(ch) <= 0x1F3FF


def _keeps_joiner(text: str, index: int) -> bool:
    """A ZWJ between two emoji is part of one picture and hides nothing; elsewhere it goes."""
    before = text[index - 1] if index else ""
    if before == VARIATION_SELECTOR_16 and index >= 2:
        before = text[index - 2]
    after = text[index + 1] if index + 1 < len(text) else ""
    return bool(before and after) and _is_pictographic(before) and _is_pictographic(after)


def _keeps_tag(text: str, index: int) -> bool:
    """Tag characters only right after 🏴 or another tag (a flag such as Scotland's)."""
    start = index
    while start and ord(text[start - 1]) in TAGS:
        start -= 1
    return start > 0 and text[start - 1] == EMOJI_TAG_BASE


def strip_unsafe(text: str) -> str:
    """Without control characters (but line breaks and tabs), lone surrogates, non-characters,
    bidirectional controls and zero-width characters; line breaks as "\\n". No NFC, no strip."""
    for old, new in LINE_BREAKS.items():
        text = text.replace(old, new)
    kept: list[str] = []
    for index, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in KEPT_CONTROLS:
            continue  # NUL breaks PostgreSQL text; \x01, \x08 break XLSX and DOCX
        if category == "Cs":
            continue  # a lone surrogate cannot be encoded as UTF-8: the database refuses it
        if category == "Cn" and (ord(ch) & 0xFFFE == 0xFFFE or 0xFDD0 <= ord(ch) <= 0xFDEF):
            continue  # non-characters (U+FFFE, U+FFFF …) are not allowed in XML documents
        if category == "Cf" and not (
            (ch == ZERO_WIDTH_JOINER and _keeps_joiner(text, index))
            or (ord(ch) in TAGS and _keeps_tag(text, index))
        ):
            continue
        kept.append(ch)
    return "".join(kept)


def normalize(text: str) -> str:
    """Clean free text: NFC (Zalo and some keyboards send NFD), unsafe characters removed
    (see `strip_unsafe`), outer whitespace removed."""
    return unicodedata.normalize("NFC", strip_unsafe(text)).strip()


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
