"""What citizens type, parsed: phone, CCCD, names, address, summary, group and representatives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.dialog.flow import Invalid
from handlers import inputs
from storage.registrations import max_representatives
from storage.text import normalize
from tests.conftest import NOW


def invalid(call: Any, *args: Any) -> Invalid:
    """The Invalid a parser raises (fails the test if it returns instead)."""
    with pytest.raises(Invalid) as raised:
        call(*args)
    return raised.value


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "text",
    [
        "0912345678",
        "84912345678",
        "+84912345678",
        "+84 912 345 678",
        "0912.345.678",
        "0912-345-678",
        "(091) 234 5678",
        " 0912 345 678 \n",
    ],
)
def test_phone_forms_give_e164(text: str) -> None:
    assert inputs.parse_phone(text) == "+84912345678"


def test_landline_is_a_phone_too() -> None:
    assert inputs.parse_phone("028 3812 3456") == "+842838123456"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "12345",  # too short
        "091234567",  # one digit short
        "09123456789",  # one digit too many
        "số của tôi",
        "abc",
        "0912345ABC",  # keypad letters would give another number
        "O912345678",  # letter O for zero
        "0912345678 ext 12",
        "+1 415 555 2671",  # a US number
        "+44 20 7946 0958",
        "📞",
        "0912📞345678",
        "++84912345678",
    ],
)
def test_bad_phones(text: str) -> None:
    assert invalid(inputs.parse_phone, text).message_id == "input.phone.invalid"


# ---------------------------------------------------------------- CCCD


def test_cccd_accepted() -> None:
    assert inputs.parse_id_number("079203001234", NOW) == "079203001234"
    assert inputs.parse_id_number("079 203 001 234", NOW) == "079203001234"
    assert inputs.parse_id_number("001-085.000001", NOW) == "001085000001"  # born 1985
    assert inputs.parse_id_number("096199123456", NOW) == "096199123456"  # born 1999


@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("999203001234", "input.id_number.province"),
        ("000203001234", "input.id_number.province"),
        ("003203001234", "input.id_number.province"),  # no province 003
        ("07920300123", "input.id_number.length"),  # 11 digits
        ("0792030012345", "input.id_number.length"),  # 13 digits
        ("", "input.id_number.length"),
        ("07920300123A", "input.id_number.length"),
        ("CCCD 079203001234", "input.id_number.length"),
        ("079²03001234", "input.id_number.length"),  # a "digit" int() cannot read
        ("０７９２０３００１２３４", "input.id_number.length"),  # full-width
        ("079403001234", "input.id_number.invalid"),  # century digit 4: born 2100s
        ("079903001234", "input.id_number.invalid"),
        ("079227001234", "input.id_number.invalid"),  # born 2027, after now (2026)
        ("079299001234", "input.id_number.invalid"),
    ],
)
def test_bad_cccd(text: str, message_id: str) -> None:
    assert invalid(inputs.parse_id_number, text, NOW).message_id == message_id


def test_cccd_birth_year_is_judged_against_now() -> None:
    born_2026 = "079226001234"
    assert inputs.parse_id_number(born_2026, NOW) == born_2026
    earlier = datetime(2025, 12, 31, 16, 0, tzinfo=UTC)
    assert invalid(inputs.parse_id_number, born_2026, earlier).message_id == "input.id_number.invalid"
    # Century digit 3 (a woman born in the 2000s) follows the same rule.
    assert inputs.parse_id_number("079326001234", NOW) == "079326001234"
    assert invalid(inputs.parse_id_number, "079327001234", NOW).message_id == ("input.id_number.invalid")


def test_every_province_code_has_three_digits() -> None:
    assert len(inputs.PROVINCE_CODES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in inputs.PROVINCE_CODES)
    for code in ("001", "079", "096"):  # Hà Nội, Hồ Chí Minh, Cà Mau
        assert inputs.parse_id_number(f"{code}203001234", NOW).startswith(code)


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("nguyễn văn an", "Nguyễn Văn An"),  # all lower-case: title-cased
        ("NGUYỄN VĂN AN", "Nguyễn Văn An"),  # all upper-case: too
        ("đặng thị ánh tuyết", "Đặng Thị Ánh Tuyết"),
        ("  Trần   Thị\tBình  ", "Trần Thị Bình"),  # spaces collapsed
        ("Nguyễn văn An", "Nguyễn văn An"),  # mixed case is the citizen's choice
        ("H'Hen Niê", "H'Hen Niê"),
        ("Lê-Phạm Minh Thư", "Lê-Phạm Minh Thư"),
        ("Đỗ Văn A.", "Đỗ Văn A."),
        ("Ưng Ỷ", "Ưng Ỷ"),
    ],
)
def test_names(text: str, expected: str) -> None:
    assert inputs.parse_name(text) == expected


@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("", "input.name.empty"),
        ("   ", "input.name.empty"),
        ("Nguyễn Văn 😀", "input.name.invalid"),
        ("Nguyễn Văn 2", "input.name.invalid"),
        ("Nguyen123", "input.name.invalid"),
        ("A", "input.name.not_a_name"),  # too short, and "a" is said to the bot (ạ)
        ("Nguyễn_Văn", "input.name.invalid"),
        ("Nguyễn, Văn", "input.name.invalid"),
        ("Nguyễn Văn An @home", "input.name.invalid"),
    ],
)
def test_bad_names(text: str, message_id: str) -> None:
    assert invalid(inputs.parse_name, text).message_id == message_id


def test_name_length_limit() -> None:
    longest = "A" * 49 + " " + "B" * (inputs.NAME_MAX - 50)
    assert inputs.parse_name(longest) == longest.title()
    too_long = invalid(inputs.parse_name, "A" * (inputs.NAME_MAX + 1))
    assert (too_long.message_id, too_long.fields) == ("input.name.too_long", {"max": 100})


# ---------------------------------------------------------------- address


def test_addresses() -> None:
    assert inputs.parse_address("12 Lý Thường Kiệt, phường Tân Bình") == (
        "12 Lý Thường Kiệt, phường Tân Bình"
    )
    assert inputs.parse_address("  12/3  Lê Lợi,\nXã Bình Chánh ") == "12/3 Lê Lợi, Xã Bình Chánh"
    assert inputs.parse_address("Tổ 5, ấp 2+3") == "Tổ 5, ấp 2+3"
    assert inputs.parse_address("A" * 300) == "A" * 300


def test_bad_addresses() -> None:
    short = invalid(inputs.parse_address, "  Số 1 ")  # four characters once trimmed
    assert (short.message_id, short.fields) == ("input.address.too_short", {"min": 5})
    long = invalid(inputs.parse_address, "A" * 301)
    assert (long.message_id, long.fields) == ("input.address.too_long", {"max": 300, "length": 301})
    assert invalid(inputs.parse_address, "12 Lê Lợi 🏠").message_id == "input.address.invalid"
    assert invalid(inputs.parse_address, "12 Lê Lợi ©").message_id == "input.address.invalid"
    assert invalid(inputs.parse_address, "12 Lê Lợi\x07").message_id == "input.address.invalid"


# ---------------------------------------------------------------- summary


def test_summary_is_trimmed() -> None:
    text = "\n\n  Gia đình tôi bị thu hồi đất.   \n  Chưa được bồi thường.  \n\n"
    assert inputs.parse_summary(text, 10, 3000) == ("Gia đình tôi bị thu hồi đất.\n  Chưa được bồi thường.")


def test_summary_bounds() -> None:
    assert inputs.parse_summary("x" * 30, 30, 3000) == "x" * 30
    assert inputs.parse_summary("x" * 3000, 30, 3000) == "x" * 3000

    short = invalid(inputs.parse_summary, "   " + "x" * 29 + "   ", 30, 3000)
    assert (short.message_id, short.fields) == (
        "input.summary.too_short",
        {"min": 30, "length": 29},
    )
    long = invalid(inputs.parse_summary, "x" * 3001, 30, 3000)
    assert (long.message_id, long.fields) == (
        "input.summary.too_long",
        {"max": 3000, "length": 3001},
    )
    empty = invalid(inputs.parse_summary, " \n\t ", 30, 3000)
    assert empty.fields == {"min": 30, "length": 0}


def test_summary_of_ten_thousand_characters_is_rejected() -> None:
    text = "Đất đai. " * 1111 + "x"
    assert len(text) == 10_000
    rejected = invalid(inputs.parse_summary, text, 30, 3000)
    assert (rejected.message_id, rejected.fields) == (
        "input.summary.too_long",
        {"max": 3000, "length": 10_000},
    )


# ---------------------------------------------------------------- groups


@pytest.mark.parametrize(("text", "size"), [("1", 1), ("7", 7), (" 12 ", 12), ("500", 500), ("１２", 12)])
def test_group_size(text: str, size: int) -> None:
    assert inputs.parse_group_size(text) == size


@pytest.mark.parametrize("text", ["0", "501", "-3", "7.0", "bảy", "", "²", "1e2", "+5"])
def test_bad_group_size(text: str) -> None:
    refused = invalid(inputs.parse_group_size, text)
    assert (refused.message_id, refused.fields) == ("input.group_size.invalid", {"max": 500})


@pytest.mark.parametrize(
    ("group_size", "most"),
    [(1, 0), (4, 0), (5, 2), (7, 2), (10, 2), (11, 5), (50, 5), (500, 5)],
)
def test_max_representatives(group_size: int, most: int) -> None:
    assert max_representatives(group_size) == most


def test_representatives_within_the_limit() -> None:
    most = max_representatives(7)
    assert inputs.parse_representatives("nguyễn văn an\nTRẦN THỊ BÌNH", most) == [
        "Nguyễn Văn An",
        "Trần Thị Bình",
    ]
    assert inputs.parse_representatives("Nguyễn Văn An", most) == ["Nguyễn Văn An"]
    five = "Lê An; Lê Bình, Lê Cường\nLê Dung;;Lê Em\n\n"
    assert inputs.parse_representatives(five, max_representatives(11)) == [
        "Lê An",
        "Lê Bình",
        "Lê Cường",
        "Lê Dung",
        "Lê Em",
    ]


def test_representatives_over_the_limit() -> None:
    three = "Lê An, Lê Bình, Lê Cường"
    refused = invalid(inputs.parse_representatives, three, max_representatives(10))
    assert (refused.message_id, refused.fields) == (
        "input.representatives.too_many",
        {"most": 2, "count": 3},
    )
    six = "A An, B Bình, C Cường, D Dung, E Em, G Giang"
    refused = invalid(inputs.parse_representatives, six, max_representatives(11))
    assert refused.fields == {"most": 5, "count": 6}
    # Under five people there is no group rule: nobody may be named.
    refused = invalid(inputs.parse_representatives, "Lê An", max_representatives(4))
    assert refused.fields == {"most": 0, "count": 1}


def test_representatives_empty_or_bad() -> None:
    empty = invalid(inputs.parse_representatives, " ,\n; ", 2)
    assert (empty.message_id, empty.fields) == ("input.representatives.empty", {"most": 2})
    assert invalid(inputs.parse_representatives, "Lê An, 😀", 2).message_id == ("input.name.invalid")


def test_control_characters_leave_the_summary() -> None:
    """The engine cleans every text (storage.text.normalize) before a step parses it."""
    text = "Nội dung\x00 vụ việc\x07 có ký tự lạ\tvà xuống dòng\nở đây, đủ dài để được nhận."
    assert inputs.parse_summary(normalize(text), 10, 3000) == (
        "Nội dung vụ việc có ký tự lạ\tvà xuống dòng\nở đây, đủ dài để được nhận."
    )
