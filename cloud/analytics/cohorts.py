"""Cohort retention by Jalali month of first purchase, counted in SQL.

The analytics run counts it with numpy from its one read of the sales
(``salesgrid.cohort_retention``, three times faster); this version is the reference the
tests hold that one to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from cloud.analytics.kpis import with_first_purchase
from cloud.analytics.months import month_case, month_offset
from cloud.tables import sales


def retention_matrix(
    conn: sa.Connection, as_of: dt.datetime, store_id: str | None = None
) -> list[dict[str, Any]]:
    """Return each cohort's size and the members (and share) of it buying in month 0, 1, 2, …

    With ``store_id``, only that store's sales count: a cohort is the members whose first
    purchase there was in the month (``salesgrid.store_cohort_retention``'s reference)."""
    at_store = sa.true() if store_id is None else sales.c.store_id == store_id
    kept = sa.and_(sales.c.refunded_at.is_(None), sales.c.received_at <= as_of, at_store)
    first, last = conn.execute(
        sa.select(sa.func.min(sales.c.received_at), sa.func.max(sales.c.received_at)).where(kept)
    ).one()
    if first is None:
        return []
    span = tuple(m if m.tzinfo else m.replace(tzinfo=dt.UTC) for m in (first, last))
    kept_sales = with_first_purchase(as_of, store_id)
    cohort = month_case(kept_sales.c.first_at, *span).label("cohort")
    month = month_case(kept_sales.c.received_at, *span)
    query = sa.select(cohort, month, sa.func.count(sa.distinct(kept_sales.c.member_id))).group_by(
        # By output name: PostgreSQL would see two CASEs with distinct parameters as different.
        sa.literal_column("cohort"),
        sa.literal_column("month"),
    )
    active: dict[str, dict[int, int]] = {}
    for cohort_key, month_key, count in conn.execute(query):
        active.setdefault(cohort_key, {})[month_offset(cohort_key, month_key)] = int(count)
    return [_cohort_row(key, active[key]) for key in sorted(active)]


def _cohort_row(key: str, by_offset: dict[int, int]) -> dict[str, Any]:
    size = by_offset[0]  # every member buys in their own first month
    width = max(by_offset) + 1
    return {
        "cohort": key,
        "members": size,
        "active": [by_offset.get(k, 0) for k in range(width)],
        "retention": [round(by_offset.get(k, 0) / size, 4) for k in range(width)],
    }
