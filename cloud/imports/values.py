"""One imported cell at a time: amounts in Rials, dates, mobiles, short texts.

Each parser takes what a CSV (text) or a spreadsheet (numbers, dates) or a JSON body
holds and returns the stored value, or raises ``BadValue`` with a stable code, an English
reason for logs and a Persian one for people. Reasons never repeat a mobile number.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

import jdatetime

from cloud.fleet import readable
from common.errors import InvalidMobile, VafaError
from common.mobile import looks_like_mobile, normalize_mobile
from common.persian import (
    TEHRAN,
    group_thousands,
    is_plain_number,
    normalize_text,
    to_ascii_digits,
    to_persian_digits,
)

MIN_TOTAL_RIAL = 1_000  # 100 Toman: below it a "total" is a Toman figure or a slip
MAX_TOTAL_RIAL = 10**11
OLDEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
CLOCK_SLACK = dt.timedelta(minutes=10)  # a channel's clock a little ahead of ours is fine
JALALI_BEFORE = 1700  # a year below it is Jalali (1403), above it Gregorian (2024)
TOMAN_WORDS = ("تومان", "تومن", "toman", "tmn")
RIAL_WORDS = ("ریال", "rials", "rial", "irr")
SEPARATORS = str.maketrans("", "", ",٬'_ \u00a0\u202f\u066c")
DECIMAL_MARKS = (".", "٫", "/")
_DATE = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


MAX_MOBILE_INPUT = 32  # as common.mobile
MOBILE_PREFIX = 5
_mobile_prefixes: set[str] = set()  # national prefixes seen to make valid mobiles
_NOT_DIGITS = re.compile(r"\D")


class BadValue(VafaError):
    """A cell that cannot be stored; ``code`` names the kind of fault."""

    def __init__(self, code: str, message: str, fa: str) -> None:
        super().__init__(message, fa)
        self.code = code


def cell_text(value: Any) -> str:
    """Return a cell as text: spreadsheet integers without ".0", ``""`` for an empty cell."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def rials(value: Any, least: int = MIN_TOTAL_RIAL) -> int:
    """Return an amount in whole Rials; refuse Toman, decimals, signs and absurd figures."""
    if isinstance(value, bool) or value is None or value == "":
        raise BadValue("bad_amount", "amount missing", "مبلغ خالی است")
    if isinstance(value, float):
        if not value.is_integer():
            raise _decimal()
        value = int(value)
    text = to_ascii_digits(str(value)).strip().lower()
    if any(word in text for word in TOMAN_WORDS):
        raise BadValue(
            "toman_amount",
            "amount given in Toman; Rials are required",
            "مبلغ به تومان نوشته شده؛ مبلغ را به ریال بنویسید",
        )
    for word in RIAL_WORDS:
        text = text.replace(word, "")
    text = text.translate(SEPARATORS)
    if any(mark in text for mark in DECIMAL_MARKS):
        raise _decimal()
    if not is_plain_number(text) or len(text) > 15:
        raise BadValue(
            "bad_amount",
            "amount is not a whole number of Rials",
            "مبلغ را با رقم و به ریال بنویسید",
        )
    amount = int(text)
    if amount < least:
        raise BadValue(
            "toman_amount" if amount else "bad_amount",
            f"amount {amount} is below {least} Rials (a Toman figure?)",
            f"مبلغ کمتر از {group_thousands(least)} ریال است؛ اگر به تومان است، به ریال بنویسید",
        )
    if amount > MAX_TOTAL_RIAL:
        raise BadValue("bad_amount", f"amount {amount} is implausibly large", "مبلغ بیش از حد است")
    return amount


def _decimal() -> BadValue:
    return BadValue(
        "decimal_amount",
        "amount has a decimal part; whole Rials are required",
        "مبلغ اعشار دارد؛ مبلغ را به ریال و بدون اعشار بنویسید",
    )


def moment(value: Any, now: dt.datetime) -> dt.datetime:
    """Return a date/time as UTC: Jalali ``1403/05/12 [14:30]``, Gregorian ISO 8601
    ``2024-08-02[T14:30[+03:30]]``, or a spreadsheet date. Without a zone it is Tehran
    time; without a time, noon (the day cannot slip into a neighbour Jalali month)."""
    if isinstance(value, dt.datetime):
        found = value if value.tzinfo else value.replace(tzinfo=TEHRAN)
    elif isinstance(value, dt.date):
        found = dt.datetime.combine(value, dt.time(12), TEHRAN)
    else:
        found = _parse_date(to_ascii_digits(cell_text(value)))
    try:
        found = found.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31 with a zone west of UTC, year 1 east of it
        raise BadValue("bad_date", "date out of range", "تاریخ درست نیست") from None
    if found < OLDEST:
        raise BadValue("bad_date", "date before 2000", "تاریخ خیلی قدیمی است")
    if found > now + CLOCK_SLACK:
        raise BadValue("future_date", "date in the future", "تاریخ در آینده است")
    return found


def _parse_date(text: str) -> dt.datetime:
    match = _DATE.fullmatch(text)
    bad = BadValue(
        "bad_date",
        "date must be Jalali 1403/05/12 or Gregorian 2024-08-02, optionally with a time",
        "تاریخ را شمسی مثل ۱۴۰۳/۰۵/۱۲ یا میلادی مثل 2024-08-02 بنویسید",
    )
    if match is None:
        try:  # ISO 8601 with seconds' fractions or a zone
            found = dt.datetime.fromisoformat(text)
        except ValueError:
            raise bad from None
        if found.year < JALALI_BEFORE:
            raise bad
        return found if found.tzinfo else found.replace(tzinfo=TEHRAN)
    year, month, day = (int(match.group(n)) for n in (1, 2, 3))
    hour, minute, second = (int(match.group(n) or d) for n, d in ((4, 12), (5, 0), (6, 0)))
    try:
        day_of = (
            _jalali_day(year, month, day) if year < JALALI_BEFORE else dt.date(year, month, day)
        )
        return dt.datetime.combine(day_of, dt.time(hour, minute, second), TEHRAN)
    except ValueError:
        raise bad from None


@functools.lru_cache(maxsize=8_192)
def _jalali_day(year: int, month: int, day: int) -> dt.date:
    """Return a Jalali day's Gregorian date (kept: a file's orders fall on few days)."""
    gregorian: dt.date = jdatetime.date(year, month, day).togregorian()
    return gregorian


def mobile(value: Any) -> str:
    """Return the E.164 form of an Iranian mobile in any spelling.

    ``phonenumbers`` takes about 0.2 ms a number, most of a large import's time. Iran's
    mobile pattern decides on the first five national digits (the other five are free, see
    the test), so a number whose first five digits already made a valid mobile is one too.
    """
    text = cell_text(value)
    if len(text) <= MAX_MOBILE_INPUT and looks_like_mobile(text):
        national = _NOT_DIGITS.sub("", to_ascii_digits(text))[-10:]
        if national[:MOBILE_PREFIX] in _mobile_prefixes:
            return "+98" + national
    try:
        found = normalize_mobile(text)
    except InvalidMobile as exc:
        raise BadValue("bad_mobile", str(exc), exc.fa) from exc
    _mobile_prefixes.add(found[3 : 3 + MOBILE_PREFIX])
    return found


def short_text(value: Any, limit: int, code: str, what_fa: str) -> str:
    """Return normalised text of 1..limit characters without control characters."""
    text = normalize_text(cell_text(value))
    if not text or len(text) > limit or not readable(text):
        raise BadValue(
            code,
            f"{code.removeprefix('bad_')} must be 1-{limit} characters, no control ones",
            f"{what_fa} را درست بنویسید (حداکثر {to_persian_digits(str(limit))} نویسه)",
        )
    return text
