"""KPIs for every store ("*" = chain-wide) and every Jalali month, grouped in SQL.

The HQ pages draw series, so each store gets a row for every month from the first
enrolment, sale or points move to the analysis day, zeros included. Per month: sales,
revenue, average purchase, buyers and the returning share; members enrolled (home store)
and how many had bought by the month's end (activation); members buying in the 30 and 90
days to the month's end (or to the analysis moment in the current month); points earned
and redeemed at the store's tills and their ratio; and the points liability, the net
points the store's terminals had booked to members by the month's end (grants included).
Chain-wide rows count a member once however many stores they bought at. Sales figures,
active members, activation and the cohorts' retention are counted from one read of the
kept sales and one of the members (``salesgrid.py``); points are grouped in SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from cloud.analytics.lines import read_setting, write_setting
from cloud.analytics.months import month_case, month_key, month_start, months_between, next_month
from cloud.analytics.salesgrid import (
    Enrolled,
    KeptSales,
    active_members,
    cohort_retention,
    enrolment,
    sale_figures,
    store_cohort_retention,
)
from cloud.tables import (
    events,
    ledger_entries,
    ledger_postings,
    members,
    points_closed_months,
    sales,
    stores,
    terminals,
)

CHAIN = "*"
CLOSED_POINTS = "analytics.points_closed_before"  # "<boundary> <events received before it>"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
WINDOWS = (30, 90)
Key = tuple[str, str]  # (store, month)
# The KPI grid's rows, and each store's cohorts (the chain's under CHAIN).
Aggregates = tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def month_ends(keys: Sequence[str], as_of: dt.datetime) -> list[dt.datetime]:
    """Return when each month ends for the KPIs: its last moment, or ``as_of`` if sooner."""
    return [min(month_start(next_month(k)), as_of) for k in keys]


def _first_moment(conn: sa.Connection, as_of: dt.datetime) -> dt.datetime | None:
    firsts = [
        conn.execute(sa.select(sa.func.min(col))).scalar()
        for col in (members.c.enrolled_at, sales.c.received_at, events.c.received_at)
    ]
    known = [_aware(m) for m in firsts if m is not None]
    return min([*known, as_of]) if known else None


def _points(conn: sa.Connection, as_of: dt.datetime, since: dt.datetime) -> dict[Key, int]:
    """Return the net points booked to members per store and month (earned, redeemed,
    grants) by the events received from ``since`` to ``as_of``."""
    month = month_case(events.c.received_at, since, as_of)
    query = (
        sa.select(terminals.c.store_id, month, sa.func.sum(ledger_postings.c.amount))
        .select_from(
            ledger_postings.join(ledger_entries, ledger_entries.c.id == ledger_postings.c.entry_id)
            .join(events, events.c.id == ledger_entries.c.event_id)
            .join(terminals, terminals.c.id == events.c.terminal_id)
        )
        .where(
            sa.or_(
                ledger_postings.c.account.like("member:%:points"),
                ledger_postings.c.account.like("member:%:drawn"),
            ),
            events.c.received_at >= since,
            events.c.received_at <= as_of,
        )
        .group_by(terminals.c.store_id, sa.literal_column("month"))
    )
    return {(store_id, key): int(total) for store_id, key, total in conn.execute(query)}


def _events_before(conn: sa.Connection, moment: dt.datetime) -> int:
    query = sa.select(sa.func.count()).select_from(events).where(events.c.received_at < moment)
    return int(conn.execute(query).scalar_one())


def _closed_points(conn: sa.Connection, before: dt.datetime) -> tuple[dt.datetime, dict[Key, int]]:
    """Return the boundary of the kept closed months' points and the points, if they are
    still true and end no later than ``before`` (else: no boundary, no points).

    They are true while as many events were received before the boundary as when they
    were kept: ingest stamps events with the cloud's clock, so none lands in a closed
    month; one that did (a batch stamped before a month's end, committed after it;
    demo data; a test) changes the count, and the months are read again.
    """
    kept = read_setting(conn, CLOSED_POINTS)
    if kept:
        moment, count = kept.split(" ")
        boundary = dt.datetime.fromisoformat(moment)
        if boundary <= before and _events_before(conn, boundary) == int(count):
            rows = conn.execute(sa.select(points_closed_months))
            return boundary, {(r.store_id, r.month): int(r.net_points) for r in rows}
    return EPOCH, {}


def _keep_closed(conn: sa.Connection, boundary: dt.datetime, points: Mapping[Key, int]) -> None:
    """Keep the points of the months before ``boundary`` (a month's start) for later passes."""
    closed = month_key(boundary)
    conn.execute(sa.delete(points_closed_months))
    rows = [
        {"store_id": store_id, "month": key, "net_points": net}
        for (store_id, key), net in sorted(points.items())
        if key < closed
    ]
    if rows:
        conn.execute(sa.insert(points_closed_months), rows)
    write_setting(conn, CLOSED_POINTS, f"{boundary.isoformat()} {_events_before(conn, boundary)}")


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def kpi_grid(conn: sa.Connection, as_of: dt.datetime) -> list[dict[str, Any]]:
    """Return a KPI row for every store and the chain ("*") in every month up to ``as_of``."""
    return kpis_and_cohorts(conn, as_of)[0]


def kpis_and_cohorts(
    conn: sa.Connection, as_of: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the KPI grid and the chain's cohort retention."""
    grid, cohorts = sales_aggregates(conn, as_of)
    return grid, cohorts.get(CHAIN, [])


def points_by_month(conn: sa.Connection, as_of: dt.datetime, keep: bool = False) -> dict[Key, int]:
    """Return the net points booked to members per store and Jalali month up to ``as_of``.

    The closed months' points kept by an earlier pass are used while they are true, and
    only the events received since read; with ``keep`` the months closed by ``as_of`` are
    kept in turn (the pass does, in its transaction)."""
    first = _first_moment(conn, as_of)
    if first is None:
        return {}
    open_start = month_start(month_key(as_of))
    boundary, points = _closed_points(conn, open_start)
    for key, net in _points(conn, as_of, max(boundary, first)).items():
        points[key] = points.get(key, 0) + net
    if keep and boundary != open_start:
        _keep_closed(conn, open_start, points)
    return points


def add_liability(rows: Sequence[dict[str, Any]], points: Mapping[Key, int]) -> None:
    """Set each grid row's points liability: its store's net points (every store's for the
    chain) booked up to the end of its month. The rows come store by store, months in
    order, as ``sales_aggregates`` makes them."""
    chain: dict[str, int] = {}
    for (_, key), net in points.items():
        chain[key] = chain.get(key, 0) + net
    running: dict[str, int] = {}
    for row in rows:
        store, key = row["store_id"], row["month"]
        booked = chain.get(key, 0) if store == CHAIN else points.get((store, key), 0)
        running[store] = running.get(store, 0) + booked
        row["points_liability"] = running[store]


def sales_aggregates(
    conn: sa.Connection, as_of: dt.datetime, with_liability: bool = True
) -> Aggregates:
    """Return the KPI grid and the cohorts of the chain ("*") and of each store (the members
    by their first purchase at that store), from one read of the kept sales.

    Without ``with_liability`` the rows' points liability is left at 0 for the caller to
    set (``add_liability``): the pass reads the ledger itself meanwhile."""
    first = _first_moment(conn, as_of)
    if first is None:
        return [], {}
    keys = months_between(month_key(first), month_key(as_of))
    ends = month_ends(keys, as_of)
    starts = [month_start(k) for k in keys]
    store_ids = sorted(conn.execute(sa.select(stores.c.id)).scalars())
    kept = KeptSales(conn, as_of)
    figures = sale_figures(kept, keys, starts, CHAIN)
    active = active_members(kept, keys, ends, WINDOWS, CHAIN)
    enrolled = enrolment(Enrolled(conn, as_of), kept, keys, starts)
    rows = []
    for store_id in [*store_ids, CHAIN]:
        scope = store_ids if store_id == CHAIN else [store_id]
        members_total = activated = 0
        for key in keys:
            new, became_active = _summed(enrolled, scope, key, 2)
            members_total += new
            activated += became_active
            count, revenue, buyers, returning, earned, redeemed = figures.get(
                (store_id, key), [0] * 6
            )
            active_30, active_90 = active.get((store_id, key), [0, 0])
            rows.append(
                {
                    "store_id": store_id,
                    "month": key,
                    "computed_on": as_of.date(),
                    "sales": count,
                    "revenue_rial": revenue,
                    "average_purchase_rial": revenue // count if count else 0,
                    "buyers": buyers,
                    "returning_buyers": returning,
                    "return_rate": _ratio(returning, buyers),
                    "new_members": new,
                    "members": members_total,
                    "activated_members": activated,
                    "activation_rate": _ratio(activated, members_total),
                    "active_30d": active_30,
                    "active_90d": active_90,
                    "points_earned": earned,
                    "points_redeemed": redeemed,
                    "redemption_rate": _ratio(redeemed, earned),
                    "points_liability": 0,  # below
                }
            )
    if with_liability:
        add_liability(rows, points_by_month(conn, as_of))
    cohorts = store_cohort_retention(kept, keys, starts)
    if chain := cohort_retention(kept, keys, starts):
        cohorts[CHAIN] = chain
    return rows, cohorts


def _summed(table: dict[Key, list[int]], scope: Iterable[str], key: str, width: int) -> list[int]:
    total = [0] * width
    for store_id in scope:
        for i, value in enumerate(table.get((store_id, key), ())):
            total[i] += value
    return total
