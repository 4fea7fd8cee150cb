"""Persian digits, letters, Jalali dates in Tehran time, and money as people read it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.persian import (
    ARABIC_INDIC_DIGITS,
    PERSIAN_DIGITS,
    TEHRAN,
    format_money,
    group_thousands,
    jalali_date,
    jalali_datetime,
    normalize_text,
    to_ascii_digits,
    to_persian_digits,
)


def test_ascii_digits_become_persian() -> None:
    assert to_persian_digits("0123456789") == PERSIAN_DIGITS
    assert to_persian_digits("فاکتور 42-B") == "فاکتور ۴۲-B"


def test_persian_and_arabic_indic_digits_become_ascii() -> None:
    assert to_ascii_digits(PERSIAN_DIGITS) == "0123456789"
    assert to_ascii_digits(ARABIC_INDIC_DIGITS) == "0123456789"
    assert to_ascii_digits("۱٢3") == "123"


@given(st.integers(min_value=0))
def test_digits_round_trip(number: int) -> None:
    persian = to_persian_digits(str(number))
    assert not any(ch.isascii() for ch in persian)
    assert to_ascii_digits(persian) == str(number)


def test_normalize_text_uses_persian_letters_and_single_spaces() -> None:
    assert normalize_text("علي  كريمي") == "علی کریمی"
    assert normalize_text("  \tمريم\n رضايي ") == "مریم رضایی"
    assert normalize_text("ى ة") == "ی ه"


def test_normalize_text_makes_arabic_and_persian_spellings_equal() -> None:
    assert normalize_text("كيك ۱۲") == normalize_text("کیک ١٢") == "کیک 12"


def test_nowruz_1405_is_21_march_2026() -> None:
    assert jalali_date(dt.date(2026, 3, 21)) == "۱۴۰۵/۰۱/۰۱"
    assert jalali_date(dt.date(2026, 3, 20)) == "۱۴۰۴/۱۲/۲۹"


def test_yalda_and_a_leap_year_esfand() -> None:
    assert jalali_date(dt.date(2025, 12, 21)) == "۱۴۰۴/۰۹/۳۰"
    # 1403 is a leap year: 30 Esfand exists and falls on 20 March 2025.
    assert jalali_date(dt.date(2025, 3, 20)) == "۱۴۰۳/۱۲/۳۰"


def test_a_moment_is_dated_by_the_tehran_calendar_not_utc() -> None:
    before = dt.datetime(2026, 3, 20, 20, 29, tzinfo=dt.UTC)  # 23:59 in Tehran
    after = dt.datetime(2026, 3, 20, 20, 31, tzinfo=dt.UTC)  # 00:01 the next Tehran day
    assert jalali_date(before) == "۱۴۰۴/۱۲/۲۹"
    assert jalali_date(after) == "۱۴۰۵/۰۱/۰۱"
    assert jalali_datetime(before) == "۱۴۰۴/۱۲/۲۹ ۲۳:۵۹"
    assert jalali_datetime(after) == "۱۴۰۵/۰۱/۰۱ ۰۰:۰۱"


def test_tehran_has_no_summer_time_any_more() -> None:
    summer = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
    assert jalali_datetime(summer) == "۱۴۰۵/۰۴/۱۰ ۱۵:۳۰"
    assert summer.astimezone(TEHRAN).utcoffset() == dt.timedelta(hours=3, minutes=30)


def test_other_time_zones_are_converted_to_tehran() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert jalali_datetime(dt.datetime(2026, 3, 20, 21, 45, tzinfo=berlin)) == "۱۴۰۵/۰۱/۰۱ ۰۰:۱۵"


def test_naive_datetimes_are_refused() -> None:
    naive = dt.datetime(2026, 3, 21, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        jalali_datetime(naive)
    with pytest.raises(ValueError, match="naive"):
        jalali_date(naive)


def test_money_in_toman_and_rial_with_persian_separators() -> None:
    assert format_money(12_345_670) == "۱٬۲۳۴٬۵۶۷ تومان"
    assert format_money(12_345_670, "rial") == "۱۲٬۳۴۵٬۶۷۰ ریال"
    assert format_money(0) == "۰ تومان"
    assert format_money(999, "toman") == "۹۹ تومان"
    assert format_money(1_000, "rial") == "۱٬۰۰۰ ریال"


def test_negative_amounts_are_the_mirror_of_positive_ones() -> None:
    assert format_money(-12_345_670) == "-۱٬۲۳۴٬۵۶۷ تومان"
    assert format_money(-15) == "-" + format_money(15) == "-۱ تومان"
    assert format_money(-15, "rial") == "-۱۵ ریال"


@given(st.integers(min_value=0, max_value=10**15))
def test_grouped_numbers_read_back_to_the_same_integer(number: int) -> None:
    text = group_thousands(number)
    assert int(to_ascii_digits(text).replace("٬", "")) == number
    assert all(len(group) == 3 for group in text.split("٬")[1:])


def test_plain_numbers_are_0_to_9_only() -> None:
    from common.persian import is_plain_number

    assert is_plain_number("0123") and is_plain_number(to_ascii_digits("۱۲۳"))
    assert not any(is_plain_number(text) for text in ("", "²", "①", "١٢", "12a", " 1", "-1"))
