"""Iranian mobile numbers in every form people type them normalise to E.164; others are refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import InvalidMobile
from common.mobile import looks_like_mobile, mask_mobile, national_form, normalize_mobile
from common.persian import to_persian_digits

E164 = "+989123456789"
PERSIAN_TO_ARABIC_INDIC = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    "typed",
    [
        "09123456789",
        "9123456789",
        "+989123456789",
        "00989123456789",
        "۰۹۱۲۳۴۵۶۷۸۹",
        "٠٩١٢٣٤٥٦٧٨٩",
        "+۹۸۹۱۲۳۴۵۶۷۸۹",
        "0912 345 6789",
        "0912-345-6789",
        "(0912) 345-67-89",
        "+98 (912) 345 67 89",
        "0098-912-345-6789",
        " 0912 345 6789 ",
        "۰۹۱۲-۳۴۵-۶۷۸۹",
        "+98 0912 345 6789",
    ],
)
def test_every_common_spelling_normalises_to_e164(typed: str) -> None:
    assert normalize_mobile(typed) == E164


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("09351234567", "+989351234567"),  # Irancell
        ("09901234567", "+989901234567"),  # MCI's 099x range
        ("09211234567", "+989211234567"),  # RighTel
    ],
)
def test_every_operator_range_is_a_mobile(typed: str, e164: str) -> None:
    assert normalize_mobile(typed) == e164


@pytest.mark.parametrize(
    "typed",
    [
        "02112345678",  # Tehran landline
        "+982112345678",
        "0912345678",  # one digit short
        "091234567890",  # one digit long
        "912345678",
        "+14155552671",  # a US number
        "+447911123456",  # a UK mobile
        "00447911123456",
        "0912abc6789",
        "mobile",
        "",
        "   ",
        "+",
        "09123456789; DROP TABLE members",
        "0" * 10_000,
        "09123456789" * 1000,
    ],
)
def test_non_mobiles_are_refused_with_a_persian_message(typed: str) -> None:
    with pytest.raises(InvalidMobile) as refused:
        normalize_mobile(typed)
    assert any("\u0600" <= ch <= "\u06ff" for ch in refused.value.fa)
    assert str(refused.value)  # an English message for the log


def test_a_landline_is_told_apart_from_garbage() -> None:
    with pytest.raises(InvalidMobile) as refused:
        normalize_mobile("021 1234 5678")
    assert refused.value.fa == "این شماره موبایل نیست"


def test_mask_shows_only_the_ends_in_persian_digits() -> None:
    assert mask_mobile(E164) == "۰۹۱۲***۶۷۸۹"
    assert national_form(E164) == "09123456789"


def test_looks_like_mobile_tells_a_mobile_from_a_card_code() -> None:
    assert looks_like_mobile("۰۹۱۲ ۳۴۵ ۶۷۸۹")
    assert looks_like_mobile("+989123456789")
    assert not looks_like_mobile("VAFA-12345678")
    assert not looks_like_mobile("0212345678")


def _spellings(local: str) -> list[str]:
    """Return the ways a cashier may type the mobile 09XXXXXXXXX."""
    rest = local[1:]
    persian = to_persian_digits(local)
    return [
        local,
        rest,
        "+98" + rest,
        "0098" + rest,
        persian,
        persian.translate(PERSIAN_TO_ARABIC_INDIC),
        f"{local[:4]} {local[4:7]} {local[7:]}",
        f"{local[:4]}-{local[4:7]}-{local[7:]}",
        f"({local[:4]}) {local[4:]}",
        f"+98 ({rest[:3]}) {rest[3:6]}-{rest[6:]}",
    ]


VALID_PREFIXES = ["0910", "0911", "0912", "0913", "0919", "0930", "0935", "0936", "0939", "0990"]


@given(
    prefix=st.sampled_from(VALID_PREFIXES),
    tail=st.text(alphabet="0123456789", min_size=7, max_size=7),
)
def test_any_mobile_in_any_spelling_round_trips_to_the_same_e164(prefix: str, tail: str) -> None:
    local = prefix + tail
    expected = "+98" + local[1:]
    assert {normalize_mobile(form) for form in _spellings(local)} == {expected}
    assert national_form(expected) == local
    assert normalize_mobile(national_form(expected)) == expected


@given(st.text(max_size=40))
def test_arbitrary_text_is_either_a_mobile_or_invalid_mobile(text: str) -> None:
    try:
        e164 = normalize_mobile(text)
    except InvalidMobile:
        return
    assert e164.startswith("+989") and len(e164) == 13
