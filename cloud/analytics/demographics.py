"""Members by age group, gender, province and city: all members and those who bought,
per home store and chain-wide.

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

from cloud.analytics.grid import CHAIN
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


def demographic_rows(conn: sa.Connection, as_of: dt.datetime) -> list[dict[str, Any]]:
    """Return (store, dimension, value, members, buying members) rows for the analysis day:
    per home store, and chain-wide as ``CHAIN``, from one grouping of the members."""
    day = as_of.date()
    year = jdatetime.date.fromgregorian(date=as_of.astimezone(TEHRAN).date()).year
    m = members.c
    query = (
        sa.select(
            m.home_store_id,
            m.birth_year,
            m.gender,
            m.province,
            m.city,
            sa.func.count(),
            sa.func.count(member_analytics.c.member_id),
        )
        .select_from(members.outerjoin(member_analytics))
        .group_by(m.home_store_id, m.birth_year, m.gender, m.province, m.city)
    )
    totals: dict[tuple[str, str, str], list[int]] = {}
    for store, birth_year, gender, province, city, count, buying in conn.execute(query):
        values = (
            ("age", age_group(birth_year, year)),
            ("gender", gender or UNKNOWN),
            ("province", province or UNKNOWN),
            # A city's name may repeat in two provinces: the value names both.
            ("city", f"{province}/{city}" if city else UNKNOWN),
        )
        for where in (store, CHAIN):
            for dimension, value in values:
                entry = totals.setdefault((where, dimension, value), [0, 0])
                entry[0] += int(count)
                entry[1] += int(buying)
    return [
        {
            "computed_on": day,
            "store_id": store,
            "dimension": d,
            "value": v,
            "members": n,
            "buying_members": b,
        }
        for (store, d, v), (n, b) in sorted(totals.items())
    ]
