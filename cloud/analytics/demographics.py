"""Members by age group, gender, province and city: all members and those who bought.

Ages come from the Jalali birth year members give at enrolment (``members.birth_year``),
counted against the Jalali year of the analysis day in Tehran; without the day and month
an age is a year off for part of the year, which the groups' widths absorb. A member who
did not say is counted under "" so the parts add up to every member.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jdatetime
import sqlalchemy as sa

from cloud.tables import member_analytics, members
from common.persian import TEHRAN

# (key, youngest age in the group); the last group is open-ended. The keys and bounds are
# the scenarios' ``age_groups`` condition's (cloud/scenarios/model.py), so a page can offer
# "send to this group" from a bar of the chart.
AGE_GROUPS = (
    ("under_18", 0),
    ("18_24", 18),
    ("25_34", 25),
    ("35_44", 35),
    ("45_54", 45),
    ("55_64", 55),
    ("65_plus", 65),
)
UNKNOWN = ""


def age_group(birth_year: int | None, jalali_year: int) -> str:
    """Name the age group of a member born in Jalali ``birth_year`` ("" if not given)."""
    if birth_year is None:
        return UNKNOWN
    age = jalali_year - birth_year
    return next(label for label, low in reversed(AGE_GROUPS) if age >= low or low == 0)


def _counts(conn: sa.Connection, *columns: sa.ColumnElement[Any]) -> list[tuple[Any, ...]]:
    """Count members and buying members per value of ``columns``."""
    buying = sa.func.count(member_analytics.c.member_id)
    query = (
        sa.select(*columns, sa.func.count(), buying)
        .select_from(members.outerjoin(member_analytics))
        .group_by(*columns)
    )
    return [tuple(row) for row in conn.execute(query)]


def demographic_rows(conn: sa.Connection, as_of: dt.datetime) -> list[dict[str, Any]]:
    """Return (dimension, value, members, buying members) rows for the analysis day."""
    day = as_of.date()
    year = jdatetime.date.fromgregorian(date=as_of.astimezone(TEHRAN).date()).year
    totals: dict[tuple[str, str], list[int]] = {}

    def add(dimension: str, value: str, count: int, buying: int) -> None:
        entry = totals.setdefault((dimension, value), [0, 0])
        entry[0] += int(count)
        entry[1] += int(buying)

    for birth_year, count, buying in _counts(conn, members.c.birth_year):
        add("age", age_group(birth_year, year), count, buying)
    for gender, count, buying in _counts(conn, members.c.gender):
        add("gender", gender or UNKNOWN, count, buying)
    for province, count, buying in _counts(conn, members.c.province):
        add("province", province or UNKNOWN, count, buying)
    for province, city, count, buying in _counts(conn, members.c.province, members.c.city):
        # A city's name may repeat in two provinces: the value names both.
        add("city", f"{province}/{city}" if city else UNKNOWN, count, buying)
    return [
        {"computed_on": day, "dimension": d, "value": v, "members": n, "buying_members": b}
        for (d, v), (n, b) in sorted(totals.items())
    ]
