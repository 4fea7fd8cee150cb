"""KPIs per store and Jalali month, and chain-wide, computed in SQL.

Per store and month: sales, revenue, buying members, average purchase and return rate
(the share of the month's buyers who had bought before that month). Chain-wide: members,
activation rate (members who ever bought), active members (bought in the last 90 days)
and the points liability (points members hold).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from cloud.analytics.months import month_case
from cloud.reports import totals
from cloud.tables import sales

ACTIVE_DAYS = 90


def _kept(as_of: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(sales.c.refunded_at.is_(None), sales.c.received_at <= as_of)


def _span(conn: sa.Connection, as_of: dt.datetime) -> tuple[dt.datetime, dt.datetime] | None:
    first, last = conn.execute(
        sa.select(sa.func.min(sales.c.received_at), sa.func.max(sales.c.received_at)).where(
            _kept(as_of)
        )
    ).one()
    if first is None:
        return None
    aware = (m if m.tzinfo else m.replace(tzinfo=dt.UTC) for m in (first, last))
    return next(aware), next(aware)


def monthly_kpis(
    conn: sa.Connection, as_of: dt.datetime, by_store: bool = True
) -> list[dict[str, Any]]:
    """Return KPIs per Jalali month (and per store unless ``by_store`` is false)."""
    span = _span(conn, as_of)
    if span is None:
        return []
    kept = with_first_purchase(as_of)
    month = month_case(kept.c.received_at, *span)
    first_month = month_case(kept.c.first_at, *span)
    store = kept.c.store_id if by_store else sa.literal("*")
    returning = sa.case((first_month < month, kept.c.member_id), else_=None)
    query = (
        sa.select(
            store.label("store_key"),
            month,
            sa.func.count().label("sales"),
            sa.func.sum(kept.c.amount_rial).label("revenue_rial"),
            sa.func.count(sa.distinct(kept.c.member_id)).label("buyers"),
            sa.func.count(sa.distinct(returning)).label("returners"),
        )
        # By output name: PostgreSQL would see two CASEs with distinct parameters as different.
        .group_by(sa.literal_column("store_key"), sa.literal_column("month"))
        .order_by(sa.literal_column("store_key"), sa.literal_column("month"))
    )
    return [_kpi_row(row) for row in conn.execute(query)]


def with_first_purchase(as_of: dt.datetime, store_id: str | None = None) -> sa.Subquery:
    """Select kept sales (at one store if given) with each member's first purchase time
    among them alongside (a window, no join)."""
    first_at = sa.func.min(sales.c.received_at).over(partition_by=sales.c.member_id)
    at_store = sa.true() if store_id is None else sales.c.store_id == store_id
    return (
        sa.select(
            sales.c.member_id,
            sales.c.store_id,
            sales.c.amount_rial,
            sales.c.received_at,
            first_at.label("first_at"),
        )
        .where(_kept(as_of), at_store)
        .subquery()
    )


def _kpi_row(row: sa.Row[Any]) -> dict[str, Any]:
    store_id, month, count, revenue, buyers, returning = tuple(row)
    return {
        "store_id": store_id,
        "month": month,
        "sales": int(count),
        "revenue_rial": int(revenue),
        "average_purchase_rial": int(revenue) // int(count),
        "buyers": int(buyers),
        "return_rate": round(int(returning) / int(buyers), 4),
    }


def chain_kpis(conn: sa.Connection, as_of: dt.datetime) -> dict[str, Any]:
    """Return chain-wide members, activation rate, active members and points liability."""
    figures = totals(conn)
    ever = conn.execute(
        sa.select(sa.func.count(sa.distinct(sales.c.member_id))).where(_kept(as_of))
    ).scalar_one()
    active = conn.execute(
        sa.select(sa.func.count(sa.distinct(sales.c.member_id))).where(
            _kept(as_of), sales.c.received_at > as_of - dt.timedelta(days=ACTIVE_DAYS)
        )
    ).scalar_one()
    members = int(figures["members"])
    return {
        "members": members,
        "buying_members": int(ever),
        "activation_rate": round(int(ever) / members, 4) if members else 0.0,
        f"active_members_{ACTIVE_DAYS}d": int(active),
        "points_liability": int(figures["points_total"]),
    }
