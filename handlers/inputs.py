"""Parsing what citizens type: names, phone numbers, CCCD numbers, counts.

Each parser returns the clean value or raises `Invalid` with the message that
tells the user what is wrong.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

import phonenumbers

from bot.dialog.flow import Invalid, TooLong
from bot.dialog.types import Attachment
from handlers import words
from storage.text import fold

NAME_MIN, NAME_MAX = 2, 100
ADDRESS_MIN, ADDRESS_MAX = 5, 300
AGENCY_MAX = 300
MAX_GROUP_SIZE = 500
MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL

# The 63 province codes printed on CCCD cards (Decree 137/2015, Circular 07/2016);
# cards issued before the 2025 province mergers keep them.
PROVINCE_CODES = frozenset(
    [
        "001",
        "002",
        "004",
        "006",
        "008",
        "010",
        "011",
        "012",
        "014",
        "015",
        "017",
        "019",
        "020",
        "022",
        "024",
        "025",
        "026",
        "027",
        "030",
        "031",
        "033",
        "034",
        "035",
        "036",
        "037",
        "038",
        "040",
        "042",
        "044",
        "045",
        "046",
        "048",
        "049",
        "051",
        "052",
        "054",
        "056",
        "058",
        "060",
        "062",
        "064",
        "066",
        "067",
        "068",
        "070",
        "072",
        "074",
        "075",
        "077",
        "079",
        "080",
        "082",
        "083",
        "084",
        "086",
        "087",
        "089",
        "091",
        "092",
        "093",
        "094",
        "095",
        "096",
    ]
)
NAME_PUNCTUATION = frozenset(" .'-")
# Longer than the longest names in use ("Công Tằng Tôn Nữ Thị Minh Châu" has seven words):
# more is a sentence about the case typed at the wrong step.
NAME_MAX_WORDS = 7


def has_emoji_or_symbols(text: str) -> bool:
    return any(unicodedata.category(ch).startswith(("S", "C")) for ch in text)


def parse_name(text: str) -> str:
    """A full name: family name and given name, so at least two words."""
    name = " ".join(text.split())
    if not name:
        raise Invalid("input.name.empty")
    if len(name) > NAME_MAX:
        raise TooLong("input.name.too_long", max=NAME_MAX)
    if words.is_filler(name):  # "ok", "có ai không?", "xin chào": said to the bot, not a name
        raise Invalid("input.name.not_a_name")
    if len(name) < NAME_MIN or not all(ch.isalpha() or ch in NAME_PUNCTUATION for ch in name):
        raise Invalid("input.name.invalid")
    parts = name.split()
    if len(parts) < 2:
        raise Invalid("input.name.one_word")
    # A sentence, not a name: too many words, or a full stop after a word (not an initial).
    if len(parts) > NAME_MAX_WORDS or (name.endswith(".") and len(parts[-1].rstrip(".")) > 1):
        raise Invalid("input.name.sentence", most=NAME_MAX_WORDS)
    return name.title() if name.islower() or name.isupper() else name


# Numbers that call a switchboard, not a person (1900…, 1800…): nobody could call back.
HOTLINE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.PREMIUM_RATE,
        phonenumbers.PhoneNumberType.SHARED_COST,
        phonenumbers.PhoneNumberType.UAN,
    }
)


def show_phone(e164: str) -> str:
    """A stored number as Vietnamese people write it ("+84912345678" -> "0912 345 678");
    for display only, storage stays E.164. Anything unparsable is shown as stored."""
    try:
        number = phonenumbers.parse(e164, "VN")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def parse_phone(text: str) -> str:
    """A Vietnamese number as `0…`, `84…` or `+84…` (spaces, dots, dashes allowed) -> E.164."""
    raw = re.sub(r"[\s.\-()]", "", text)
    if not re.fullmatch(r"\+?[0-9]+", raw):  # phonenumbers would read letters as keypad digits
        raise Invalid("input.phone.invalid")
    if raw.startswith("84") and len(raw) >= 11:
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        raise Invalid("input.phone.invalid") from None
    if number.country_code != 84 or not phonenumbers.is_valid_number(number):
        raise Invalid("input.phone.invalid")
    if phonenumbers.number_type(number) in HOTLINE_TYPES:
        raise Invalid("input.phone.hotline")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_id_number(text: str, now: datetime) -> str:
    """A CCCD: 12 digits = province (3), century and sex (1), birth year (2), serial (6)."""
    digits = re.sub(r"[\s.\-]", "", text)
    if re.fullmatch(r"[0-9]{9}", digits):  # the old CMND, no longer valid since 2025
        raise Invalid("input.id_number.cmnd")
    if not re.fullmatch(r"[0-9]{12}", digits):  # isdigit() also takes "²", which int() refuses
        raise Invalid("input.id_number.length")
    if digits[:3] not in PROVINCE_CODES:
        raise Invalid("input.id_number.province")
    century_digit = int(digits[3])
    if century_digit > 3:  # 0/1: born 1900s, 2/3: born 2000s
        raise Invalid("input.id_number.invalid")
    birth_year = 1900 + 100 * (century_digit // 2) + int(digits[4:6])
    if birth_year > now.year:
        raise Invalid("input.id_number.invalid")
    return digits


def parse_address(text: str) -> str:
    address = " ".join(text.split())
    if len(address) < ADDRESS_MIN:
        raise Invalid("input.address.too_short", min=ADDRESS_MIN)
    if len(address) > ADDRESS_MAX:
        raise TooLong("input.address.too_long", max=ADDRESS_MAX, length=len(address))
    if has_emoji_or_symbols(address.replace("/", "").replace("+", "")):
        raise Invalid("input.address.invalid")
    return address


def clean_summary(text: str) -> str:
    """A summary, or a part of one, with its lines trimmed (already clean: the engine
    normalizes every text)."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines()).strip()


def parse_summary(text: str, min_chars: int, max_chars: int) -> str:
    summary = clean_summary(text)
    if len(summary) < min_chars:
        raise Invalid("input.summary.too_short", min=min_chars, length=len(summary))
    if len(summary) > max_chars:
        raise TooLong("input.summary.too_long", max=max_chars, length=len(summary))
    if not any(ch.isalpha() for ch in summary):  # a row of emoji says nothing about a case
        raise Invalid("input.summary.no_text")
    return summary


def parse_agency(text: str) -> str:
    """The agency that already handled the case; "" when none has ("không", "chưa")."""
    agency = " ".join(text.split())
    if words.means(agency, words.NONE_YET):
        return ""
    if not any(ch.isalpha() for ch in agency):  # nothing, or only emoji, digits or symbols
        raise Invalid("input.agency.empty")
    if words.is_filler(agency):  # "ok", "vâng", "có": which agency is still untold
        raise Invalid("input.agency.not_an_agency")
    if len(agency) > AGENCY_MAX:
        raise TooLong("input.agency.too_long", max=AGENCY_MAX, length=len(agency))
    return agency


def whole_number(text: str, most: int) -> int | None:
    """`text` as a whole number from 0 to `most` (digits of any script), else None.

    The length is checked before int(): Python refuses to convert more than 4,300 digits,
    and a number beyond a column's range fails the query instead of matching nothing.
    """
    digits = text.strip()
    significant = digits.lstrip("0") or "0"
    if not digits.isdecimal() or len(significant) > len(str(most)):
        return None
    number = int(significant)
    return number if number <= most else None


PEOPLE = frozenset({"nguoi", "people", "persons", "person"})


def parse_group_size(text: str) -> int:
    """A number of people, the word for people allowed after it: "2 người"."""
    number, _, unit = text.strip().rpartition(" ")
    if number and fold(unit) in PEOPLE:
        text = number
    size = whole_number(text, MAX_GROUP_SIZE)
    if not size:
        raise Invalid("input.group_size.invalid", max=MAX_GROUP_SIZE)
    return size


def parse_representatives(text: str, most: int) -> list[str]:
    """Names separated by new lines, commas or semicolons."""
    parts = [part for part in re.split(r"[\n,;]+", text) if part.strip()]
    if not parts:
        raise Invalid("input.representatives.empty", most=most)
    if len(parts) > most:
        raise Invalid("input.representatives.too_many", most=most, count=len(parts))
    return [parse_name(part) for part in parts]


ALLOWED_FILE_TYPES = {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def check_attachment(attachment: Attachment, max_bytes: int) -> None:
    """Photos, PDF and Word documents up to the size limit; anything else is refused."""
    name = attachment.name or attachment.kind
    if attachment.kind not in ("photo", "document"):
        raise Invalid("input.attachment.kind", name=name)
    if attachment.kind == "document":
        # The name's extension decides (a client sets the MIME type as it likes: "x.exe" sent
        # as application/pdf is still a program); a name without one goes by its MIME type.
        tail = attachment.name.rsplit(".", 1)[-1] if "." in attachment.name else ""
        extension = "." + tail.lower() if tail.isascii() and tail.isalnum() and len(tail) <= 5 else ""
        if extension:
            allowed = extension in ALLOWED_FILE_TYPES
        else:
            allowed = attachment.mime_type in ALLOWED_FILE_TYPES.values()
        if not allowed:
            raise Invalid("input.attachment.kind", name=name)
    if attachment.size > max_bytes:
        raise Invalid("input.attachment.too_big", name=name, max_mb=max_bytes // 1_000_000)
