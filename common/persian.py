"""Persian locale helpers: digits, letters, Jalali dates, Tehran time and money."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jdatetime

TEHRAN = ZoneInfo("Asia/Tehran")

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
_TO_PERSIAN = str.maketrans("0123456789", PERSIAN_DIGITS)
_TO_ASCII = str.maketrans(PERSIAN_DIGITS + ARABIC_INDIC_DIGITS, "0123456789" * 2)
# Arabic yeh/kaf (and their presentation variants) become the Persian letters people search by.
_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ۀ": "ه", "ة": "ه"})
PERSIAN_THOUSANDS = "٬"

MoneyUnit = Literal["toman", "rial"]


def to_persian_digits(text: str) -> str:
    """Replace ASCII digits with Persian digits."""
    return text.translate(_TO_PERSIAN)


def to_ascii_digits(text: str) -> str:
    """Replace Persian and Arabic-Indic digits with ASCII digits."""
    return text.translate(_TO_ASCII)


def is_plain_number(text: str) -> bool:
    """Tell whether ``text`` is only the digits 0-9 (call it after ``to_ascii_digits``, so
    Persian and Arabic-Indic digits count). ``str.isdigit`` alone also passes superscripts
    and circled digits, on which ``int`` fails."""
    return text.isascii() and text.isdigit()


def normalize_text(text: str) -> str:
    """Normalise a name or search term: Persian letters and digits, single spaces."""
    return " ".join(to_ascii_digits(text).translate(_LETTERS).split())


def now_tehran() -> dt.datetime:
    """Return the current time in Asia/Tehran."""
    return dt.datetime.now(TEHRAN)


def jalali_date(moment: dt.datetime | dt.date) -> str:
    """Format a date as a Jalali date with Persian digits, e.g. ۱۴۰۵/۰۹/۰۱."""
    if isinstance(moment, dt.datetime):
        moment = _in_tehran(moment).date()
    return to_persian_digits(jdatetime.date.fromgregorian(date=moment).strftime("%Y/%m/%d"))


def jalali_datetime(moment: dt.datetime) -> str:
    """Format a moment in Tehran time as a Jalali date and time, e.g. ۱۴۰۵/۰۹/۰۱ ۱۲:۳۰."""
    local = _in_tehran(moment)
    return f"{jalali_date(local)} {to_persian_digits(local.strftime('%H:%M'))}"


def _in_tehran(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone before formatting")
    return moment.astimezone(TEHRAN)


def group_thousands(number: int) -> str:
    """Write an integer with Persian digits and the Persian thousands separator."""
    return to_persian_digits(f"{number:,}".replace(",", PERSIAN_THOUSANDS))


def format_money(rials: int, unit: MoneyUnit = "toman") -> str:
    """Show an amount stored in Rials as Toman (Rials / 10) or Rials, Persian digits."""
    sign = "-" if rials < 0 else ""
    if unit == "toman":
        # Toman shown whole; a remainder under 10 Rials is not a coin anyone holds. Truncate
        # the magnitude so a refund shows the mirror of its sale (-15 Rials is -1 Toman).
        return f"{sign}{group_thousands(abs(rials) // 10)} تومان"
    return f"{sign}{group_thousands(abs(rials))} ریال"


def parse_birthday(text: str) -> tuple[int, int]:
    """Parse a Jalali birthday "MM-DD" or "MM/DD" (any digits) into (month, day), or raise."""
    parts = to_ascii_digits(text.strip()).replace("/", "-").split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"birthday must be Jalali MM-DD, got {text!r}")
    month, day = int(parts[0]), int(parts[1])
    longest = 31 if month <= 6 else 30
    if not 1 <= month <= 12 or not 1 <= day <= longest:
        raise ValueError(f"no such Jalali day: month {month}, day {day}")
    return month, day


def birthday_in_year(month: int, day: int, jalali_year: int) -> jdatetime.date:
    """Return a Jalali birthday's date in a given year.

    The 30 Esfand rule: in a year where Esfand has 29 days, a 30 Esfand birthday falls on
    29 Esfand, so the member is greeted in the same year rather than on 1 Farvardin.
    """
    if month == 12 and day == 30 and not jdatetime.date(jalali_year, 1, 1).isleap():
        day = 29
    return jdatetime.date(jalali_year, month, day)


def in_birthday_week(month: int, day: int, moment: dt.datetime, spread_days: int = 3) -> bool:
    """Tell whether a Tehran moment is within ``spread_days`` of the member's birthday."""
    today = jdatetime.date.fromgregorian(date=_in_tehran(moment).date())
    for year in (today.year - 1, today.year, today.year + 1):
        gap = (birthday_in_year(month, day, year).togregorian() - today.togregorian()).days
        if abs(gap) <= spread_days:
            return True
    return False


def birthday_lookup(vault: Any, birthday: str) -> bytes:
    """Return the keyed hash that finds members by Jalali birthday ("MM-DD") unopened."""
    month, day = parse_birthday(birthday)
    digest: bytes = vault.lookup_hash(f"birthday:{month:02d}-{day:02d}")
    return digest
