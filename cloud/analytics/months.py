"""Jalali months as SQL: a CASE expression mapping a timestamp to its Tehran Jalali month.

SQL engines know no Jalali calendar, so the month boundaries (Tehran midnight on the 1st,
converted to UTC, which is how timestamps are stored) are computed here and handed to the
database as literals; grouping then runs where the data is, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt

import jdatetime
import sqlalchemy as sa

from common.persian import TEHRAN


def month_key(moment: dt.datetime) -> str:
    """Return the Tehran Jalali month of a moment as ``YYYY-MM``, e.g. ``1405-09``."""
    local = moment.astimezone(TEHRAN).date()
    j = jdatetime.date.fromgregorian(date=local)
    return f"{j.year:04d}-{j.month:02d}"


def month_start(key: str) -> dt.datetime:
    """Return the UTC moment a Jalali month ``YYYY-MM`` begins in Tehran."""
    year, month = (int(part) for part in key.split("-"))
    day = jdatetime.date(year, month, 1).togregorian()
    return dt.datetime.combine(day, dt.time(), TEHRAN).astimezone(dt.UTC)


def next_month(key: str) -> str:
    """Return the Jalali month after ``key``."""
    year, month = (int(part) for part in key.split("-"))
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """Return the Jalali months from ``first`` to ``last`` inclusive."""
    keys = [first]
    while keys[-1] < last:
        keys.append(next_month(keys[-1]))
    return keys


def month_offset(start: str, later: str) -> int:
    """Return how many months ``later`` is after ``start``."""
    (y0, m0), (y1, m1) = ((int(p) for p in k.split("-")) for k in (start, later))
    return (y1 - y0) * 12 + (m1 - m0)


def month_case(
    column: sa.ColumnElement[dt.datetime], first: dt.datetime, last: dt.datetime
) -> sa.ColumnElement[str]:
    """Return SQL naming the Jalali month of ``column`` for moments in [first, last]."""
    keys = months_between(month_key(first), month_key(last))
    # Latest month first: the first boundary the moment is past names its month.
    whens = [(column >= month_start(k), sa.literal(k)) for k in keys[::-1]]
    return sa.case(*whens, else_=sa.literal("")).label("month")
