"""Member demographics both sides check the same way: gender, province and city, birth year.

The places come from ``iran_places.toml`` (Iran's 31 provinces and their main cities),
loaded once and checked on load, so the terminal's select lists and the cloud's checks can
never disagree. Every field is optional: ``None`` means the member did not say.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jdatetime

from common.errors import VafaError
from common.persian import (
    is_plain_number,
    normalize_text,
    now_tehran,
    parse_birthday,
    to_ascii_digits,
)

PLACES_FILE = Path(__file__).with_name("iran_places.toml")
PROVINCE_COUNT = 31
MAX_PROVINCE, MAX_CITY = 40, 60  # the cloud's members.province / members.city widths
GENDERS = {"f": "زن", "m": "مرد"}
OLDEST_BIRTH_YEAR = 1300  # Jalali; 1921 in the Gregorian calendar
BIRTH_DATE_FA = "تاریخ تولد را به شکل سال/ماه/روز شمسی وارد کنید (سال اختیاری)"


class InvalidDemographic(VafaError):
    """A gender, place or birth year that is not one of the allowed values."""

    fa = "اطلاعات عضو درست نیست"

    def __init__(self, message: str, field: str, fa: str | None = None) -> None:
        super().__init__(message, fa)
        self.field = field


@dataclass(frozen=True)
class Demographics:
    """What a member told about themselves at enrolment (each part optional)."""

    gender: str | None = None
    province: str | None = None
    city: str | None = None
    birth_year: int | None = None

    def as_payload(self) -> dict[str, Any]:
        """Return the fields as the enrolment event and member snapshots carry them."""
        return {
            "gender": self.gender,
            "province": self.province,
            "city": self.city,
            "birth_year": self.birth_year,
        }


@functools.cache
def provinces() -> dict[str, tuple[str, ...]]:
    """Return each province with its cities, in the data file's order (loaded once)."""
    return load_places(PLACES_FILE)


def load_places(path: Path) -> dict[str, tuple[str, ...]]:
    """Read and check a places file: 31 provinces, each with cities, no name twice."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    places: dict[str, tuple[str, ...]] = {}
    for entry in data.get("province", []):
        name, cities = entry.get("name"), entry.get("cities")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_PROVINCE:
            raise ValueError(f"{path}: bad province name {name!r}")
        if name in places:
            raise ValueError(f"{path}: province {name} listed twice")
        if not isinstance(cities, list) or not cities:
            raise ValueError(f"{path}: province {name} has no cities")
        if len(set(cities)) != len(cities):
            raise ValueError(f"{path}: a city of {name} is listed twice")
        for city in cities:
            if not isinstance(city, str) or not 0 < len(city) <= MAX_CITY:
                raise ValueError(f"{path}: bad city {city!r} in {name}")
            if normalize_text(city) != city:
                raise ValueError(f"{path}: city {city!r} is not written in normal form")
        if normalize_text(name) != name:
            raise ValueError(f"{path}: province {name!r} is not written in normal form")
        places[name] = tuple(cities)
    if len(places) != PROVINCE_COUNT:
        raise ValueError(f"{path}: {len(places)} provinces, expected {PROVINCE_COUNT}")
    return places


def check_gender(raw: str | None) -> str | None:
    """Return "f", "m" or None (not said); refuse anything else."""
    if raw is None or raw == "":
        return None
    if raw not in GENDERS:
        raise InvalidDemographic(
            f"gender must be 'f' or 'm', got {raw[:10]!r}", "gender", fa="جنسیت را درست انتخاب کنید"
        )
    return raw


def check_place(province: str | None, city: str | None) -> tuple[str | None, str | None]:
    """Return the province and city as the list writes them; a city needs its province."""
    province = normalize_text(province) if province else None
    city = normalize_text(city) if city else None
    if province is None:
        if city is not None:
            raise InvalidDemographic(
                "a city needs its province", "province", fa="اول استان را انتخاب کنید"
            )
        return None, None
    cities = provinces().get(province)
    if cities is None:
        raise InvalidDemographic(
            f"unknown province ({len(province)} characters)",
            "province",
            fa="استان در فهرست نیست",
        )
    if city is not None and city not in cities:
        raise InvalidDemographic(
            f"city ({len(city)} characters) is not in the list for its province",
            "city",
            fa="این شهر در فهرست شهرهای استان نیست",
        )
    return province, city


def current_jalali_year() -> int:
    """Return this year in the Jalali calendar (Tehran's date)."""
    return int(jdatetime.date.fromgregorian(date=now_tehran().date()).year)


def check_birth_year(raw: int | str | None) -> int | None:
    """Return a plausible Jalali birth year (1300 to this year), or None when not given."""
    if raw is None or raw == "":
        return None
    text = to_ascii_digits(str(raw)).strip()
    if isinstance(raw, bool) or not is_plain_number(text) or len(text) > 4:
        raise InvalidDemographic(
            "birth year must be a number", "birth_year", fa="سال تولد را با رقم وارد کنید"
        )
    year = int(text)
    if not OLDEST_BIRTH_YEAR <= year <= current_jalali_year():
        raise InvalidDemographic(
            f"birth year {year} out of range",
            "birth_year",
            fa="سال تولد باید سال شمسی باشد، مثل ۱۳۷۰",
        )
    return year


def check(
    gender: str | None = None,
    province: str | None = None,
    city: str | None = None,
    birth_year: int | str | None = None,
) -> Demographics:
    """Check every demographic field at once; raise on the first bad one."""
    place = check_place(province, city)
    return Demographics(check_gender(gender), place[0], place[1], check_birth_year(birth_year))


def split_birth_date(text: str) -> tuple[int | None, str]:
    """Split a Jalali birth date "YYYY-MM-DD" or "MM-DD" (any digits, / or -) into year and
    "MM-DD"; with a year, the day must exist in it (30 Esfand only in a leap year)."""
    parts = to_ascii_digits(text.strip()).replace("/", "-").split("-")
    year = check_birth_year(parts[0]) if len(parts) == 3 else None
    try:
        if len(parts) not in (2, 3):
            raise ValueError(f"birth date must be Jalali YYYY-MM-DD or MM-DD, got {text[:20]!r}")
        month, day = parse_birthday("-".join(parts[-2:]))
        if year is not None:
            jdatetime.date(year, month, day)  # 30 Esfand of a common year does not exist
    except ValueError as exc:
        raise InvalidDemographic(str(exc), "birthday", fa=BIRTH_DATE_FA) from exc
    return year, f"{month:02d}-{day:02d}"
