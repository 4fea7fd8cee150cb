"""Each member's order pattern, aggregated in SQL (SQLite and PostgreSQL alike).

Value, number of purchases, average payment, mean interval between purchases, the current
gap and the channel mix; then where the member is in their own buying cycle (the gap
measured in their usual intervals). Refunded sales do not count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloud.tables import sales

# Gap / mean interval → cycle position; the last bound is open.
CYCLE = (("in_cycle", 1.0), ("due", 2.0), ("late", 4.0), ("lapsed", float("inf")))


@dataclass(frozen=True)
class Pattern:
    """One member's order pattern on the analysis day."""

    member_id: str
    purchases: int
    value_rial: int
    avg_payment_rial: int
    first_purchase: dt.datetime
    last_purchase: dt.datetime
    mean_interval_days: float | None  # None with a single purchase
    gap_days: float
    cycle: str  # in_cycle | due | late | lapsed | single
    channels: dict[str, int]


def _kept(as_of: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(sales.c.refunded_at.is_(None), sales.c.received_at <= as_of)


def order_totals(conn: sa.Connection, as_of: dt.datetime) -> list[sa.Row[Any]]:
    """Select per-member count, value, first and last purchase up to ``as_of``."""
    query = (
        sa.select(
            sales.c.member_id,
            sa.func.count().label("purchases"),
            sa.func.sum(sales.c.amount_rial).label("value_rial"),
            sa.func.min(sales.c.received_at).label("first_at"),
            sa.func.max(sales.c.received_at).label("last_at"),
        )
        .where(_kept(as_of))
        .group_by(sales.c.member_id)
        .order_by(sales.c.member_id)
    )
    return list(conn.execute(query))


def channel_mix(conn: sa.Connection, as_of: dt.datetime) -> dict[str, dict[str, int]]:
    """Return each member's purchases per channel up to ``as_of``."""
    query = (
        sa.select(sales.c.member_id, sales.c.channel, sa.func.count())
        .where(_kept(as_of))
        .group_by(sales.c.member_id, sales.c.channel)
    )
    mix: dict[str, dict[str, int]] = {}
    for member_id, channel, count in conn.execute(query):
        mix.setdefault(member_id, {})[channel] = int(count)
    return mix


def cycle_position(gap_days: float, mean_interval_days: float | None) -> str:
    """Name where a member is in their own buying cycle."""
    if mean_interval_days is None:
        return "single"
    ratio = gap_days / max(mean_interval_days, 1.0)  # same-week buyers: a day at least
    return next(name for name, bound in CYCLE if ratio <= bound)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def member_patterns(conn: sa.Connection, as_of: dt.datetime) -> list[Pattern]:
    """Return every buying member's order pattern as of ``as_of`` (timezone-aware)."""
    mix = channel_mix(conn, as_of)
    patterns = []
    for row in order_totals(conn, as_of):
        member_id, purchases, value, first_at, last_at = tuple(row)
        first, last = _aware(first_at), _aware(last_at)
        day = 86400.0
        interval = (last - first).total_seconds() / day / (purchases - 1) if purchases > 1 else None
        gap = (as_of - last).total_seconds() / day
        patterns.append(
            Pattern(
                member_id,
                int(purchases),
                int(value),
                int(value) // int(purchases),  # whole Rials, rounded down
                first,
                last,
                interval,
                gap,
                cycle_position(gap, interval),
                mix.get(member_id, {}),
            )
        )
    return patterns
