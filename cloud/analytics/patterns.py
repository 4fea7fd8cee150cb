"""Each member's order pattern, aggregated in SQL (SQLite and PostgreSQL alike).

Value, number of purchases, average payment, mean interval between purchases, the current
gap and the channel mix; then where the member is in their own buying cycle (the gap
measured in their usual intervals). Refunded sales do not count.

One scan of the kept sales grouped by member and channel gives everything; the per-member
figures are summed from it with numpy and kept as columns (arrays aligned with the
member ids), not an object per member: a million members fit in a few arrays.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from cloud.analytics.arrays import contiguous_codes, distinct_rows, ints, micros_of, time_column
from cloud.analytics.bulk import driver_chunks
from cloud.tables import sales

# Gap / mean interval → cycle position; the last bound is open.
CYCLE = (("in_cycle", 1.0), ("due", 2.0), ("late", 4.0), ("lapsed", float("inf")))
SINGLE = "single"
DAY = 86400.0
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
MICROSECOND = dt.timedelta(microseconds=1)
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Patterns:
    """Every buying member's order pattern on the analysis day, as aligned columns."""

    member_ids: list[str]
    purchases: Ints
    value_rial: Ints
    first_us: Ints  # first kept purchase, microseconds since the epoch (UTC)
    last_us: Ints
    mean_interval_days: Floats  # NaN with a single purchase
    gap_days: Floats
    cycle: list[str]  # in_cycle | due | late | lapsed | single
    channels: list[str]  # JSON {"in_store": 3, "instagram": 1}, keys sorted

    def __len__(self) -> int:
        return len(self.member_ids)

    @property
    def avg_payment_rial(self) -> Ints:
        """Return each member's average payment in whole Rials, rounded down."""
        return self.value_rial // np.maximum(self.purchases, 1)


def _kept(as_of: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(sales.c.refunded_at.is_(None), sales.c.received_at <= as_of)


def micros(moment: dt.datetime) -> int:
    """Return a moment as whole microseconds since the epoch (a naive one is UTC)."""
    # SQLite drops the zone: a naive moment is UTC, measured from the naive epoch.
    return (moment - (EPOCH if moment.tzinfo else NAIVE_EPOCH)) // MICROSECOND


def moment_of(us: int) -> dt.datetime:
    """Return the UTC moment ``us`` microseconds after the epoch."""
    return EPOCH + dt.timedelta(microseconds=us)


def cycle_position(gap_days: float, mean_interval_days: float | None) -> str:
    """Name where a member is in their own buying cycle."""
    if mean_interval_days is None:
        return SINGLE
    ratio = gap_days / max(mean_interval_days, 1.0)  # same-week buyers: a day at least
    return next(name for name, bound in CYCLE if ratio <= bound)


def cycle_positions(gap_days: Floats, mean_interval_days: Floats) -> list[str]:
    """Name every member's cycle position at once (NaN interval: a single purchase)."""
    with np.errstate(invalid="ignore"):
        ratio = gap_days / np.maximum(mean_interval_days, 1.0)
    names = np.array([name for name, _ in CYCLE] + [SINGLE])
    # The first bound at or above the ratio; a NaN ratio (single purchase) falls past the end.
    index = np.searchsorted(np.array([bound for _, bound in CYCLE]), ratio, side="left")
    index[np.isnan(mean_interval_days)] = len(CYCLE)
    return list(names[index].tolist())


def member_patterns(conn: sa.Connection, as_of: dt.datetime) -> Patterns:
    """Return every buying member's order pattern as of ``as_of``."""
    # Grouped member first, the order of the sales_member_pattern index, which holds every
    # column read here: SQLite groups straight off it (no sort, no table read; 1.1 s
    # against 3.2 s CPU grouping channel first at 100,000 members). Members are coded here.
    query = (
        sa.select(
            sales.c.member_id,
            sales.c.channel,
            sa.func.count(),
            sa.func.sum(sales.c.amount_rial),
            time_column(conn, sa.func.min(sales.c.received_at)),
            time_column(conn, sa.func.max(sales.c.received_at)),
        )
        .where(_kept(as_of), sales.c.member_id.is_not(None))
        .group_by(sales.c.member_id, sales.c.channel)
        .order_by(sales.c.member_id, sales.c.channel)  # a member's rows together
    )
    rows = [row for chunk in driver_chunks(conn, query) for row in chunk]
    if not rows:
        empty, nothing = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return Patterns([], empty, empty, empty, empty, nothing, nothing, [], [])
    member_col, channel_col, count_col, value_col, first_col, last_col = zip(*rows, strict=True)
    del rows
    member_ids, member = contiguous_codes(list(member_col))
    n = len(member_ids)
    counts = ints(count_col)
    purchases = np.bincount(member, weights=counts, minlength=n).astype(np.int64)
    value_rial = np.zeros(n, dtype=np.int64)
    np.add.at(value_rial, member, ints(value_col))
    first_us = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_us, member, micros_of(first_col, conn))
    last_us = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_us, member, micros_of(last_col, conn))
    as_of_us = micros(as_of)
    with np.errstate(invalid="ignore", divide="ignore"):
        interval = np.where(
            purchases > 1, (last_us - first_us) / 1e6 / DAY / (purchases - 1), np.nan
        )
    gap = (as_of_us - last_us) / 1e6 / DAY
    return Patterns(
        member_ids=member_ids,
        purchases=purchases,
        value_rial=value_rial,
        first_us=first_us,
        last_us=last_us,
        mean_interval_days=interval,
        gap_days=gap,
        cycle=cycle_positions(gap, interval),
        channels=_channel_json(n, member, channel_col, counts),
    )


def _channel_json(n: int, member: Ints, channels: tuple[str, ...], counts: Ints) -> list[str]:
    """Return each member's channel mix as JSON; equal mixes share one encoding."""
    names = sorted(set(channels))
    column = {name: j for j, name in enumerate(names)}
    mix = np.zeros((n, len(names)), dtype=np.int64)
    mix[member, np.fromiter((column[c] for c in channels), dtype=np.int64)] = counts
    distinct, which = distinct_rows(mix)
    texts = [
        json.dumps({names[j]: int(k) for j, k in enumerate(row) if k}, sort_keys=True)
        for row in distinct.tolist()
    ]
    return [texts[i] for i in which.ravel().tolist()]
