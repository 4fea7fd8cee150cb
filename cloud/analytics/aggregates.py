"""Store what the HQ pages read, so a page is one small query on precomputed rows.

Written inside the analytics run's transaction: the latest-run tables (KPIs per store and
month, cohort retention, feedback per store and month) are replaced whole; the per-run
tables (segment counts, segment transitions, the CLV histogram, demographics, the run's
chain figures) replace that day's rows and keep earlier days for trends. Members whose
segment changed since the previous run get a ``segment_changes`` row each (a member's
first segment is not a change). Members' preferences (``preferences.py``) are replaced
whole, with the chain's categories per day.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from cloud.analytics.demographics import demographic_rows
from cloud.analytics.grid import CHAIN, kpis_and_cohorts
from cloud.analytics.preferences import (
    affinity_rows,
    category_spend,
    incentive_rows,
    suggestion_rows,
)
from cloud.analytics.satisfaction import feedback_rows
from cloud.reports import totals
from cloud.tables import (
    analytics_categories,
    analytics_clv_buckets,
    analytics_cohorts,
    analytics_demographics,
    analytics_feedback,
    analytics_kpis,
    analytics_runs,
    analytics_segments,
    analytics_transitions,
    member_categories,
    member_incentives,
    member_suggestions,
    segment_changes,
    segment_history,
)

# CLV histogram edges in Rials (1-2-5 steps): fixed, so runs compare; the top is open.
CLV_EDGES = tuple(
    [0] + [step * 10**power for power in range(6, 11) for step in (1, 2, 5)] + [10**11]
)
NEW = ""  # the "from" of a member analysed for the first time


def clv_buckets(values: Sequence[int], day: dt.date) -> list[dict[str, Any]]:
    """Count members per CLV bucket (every bucket, zeros included)."""
    counts = [0] * len(CLV_EDGES)
    for value in values:
        counts[_bucket_of(value)] += 1
    return [
        {
            "computed_on": day,
            "bucket": i,
            "low_rial": low,
            "high_rial": CLV_EDGES[i + 1] if i + 1 < len(CLV_EDGES) else None,
            "members": counts[i],
        }
        for i, low in enumerate(CLV_EDGES)
    ]


def _bucket_of(value: int) -> int:
    for i in range(len(CLV_EDGES) - 1, -1, -1):
        if value >= CLV_EDGES[i]:
            return i
    return 0  # a negative CLV cannot come from the models; the lowest bucket holds it anyway


def previous_segments(conn: sa.Connection, day: dt.date) -> dict[str, str]:
    """Return each member's segment on the latest run before ``day``."""
    before = (
        sa.select(sa.func.max(segment_history.c.computed_on))
        .where(segment_history.c.computed_on < day)
        .scalar_subquery()
    )
    query = sa.select(segment_history.c.member_id, segment_history.c.segment).where(
        segment_history.c.computed_on == before
    )
    return {member_id: segment for member_id, segment in conn.execute(query)}


def _replace(conn: sa.Connection, table: sa.Table, where: Any, rows: list[dict[str, Any]]) -> None:
    conn.execute(sa.delete(table).where(where) if where is not None else sa.delete(table))
    if rows:
        conn.execute(sa.insert(table), rows)


def _segment_rows(rows: Sequence[Mapping[str, Any]], day: dt.date) -> list[dict[str, Any]]:
    sums: dict[str, list[Any]] = {}
    for row in rows:
        entry = sums.setdefault(row["segment"], [0, 0, None])
        entry[0] += 1
        entry[1] += row["value_rial"]
        if row["clv_rial"] is not None:
            entry[2] = (entry[2] or 0) + row["clv_rial"]
    return [
        {"computed_on": day, "segment": key, "members": n, "value_rial": value, "clv_rial": clv}
        for key, (n, value, clv) in sorted(sums.items())
    ]


def store_aggregates(
    conn: sa.Connection,
    as_of: dt.datetime,
    rows: Sequence[Mapping[str, Any]],
    clv_fitted: bool,
    started: float,
) -> dict[str, Any]:
    """Write every HQ aggregate of this run (one transaction: the caller's); return figures.

    ``started`` is the run's ``time.monotonic()`` start, for the run's recorded duration.
    """
    day = as_of.date()
    before = previous_segments(conn, day)
    moves = Counter((before.get(row["member_id"], NEW), row["segment"]) for row in rows)
    changes = [
        {
            "member_id": row["member_id"],
            "changed_on": day,
            "from_segment": before[row["member_id"]],
            "to_segment": row["segment"],
        }
        for row in rows
        if before.get(row["member_id"], row["segment"]) != row["segment"]
    ]
    grid, cohorts = kpis_and_cohorts(conn, as_of)
    _replace(conn, analytics_kpis, None, grid)
    _replace(conn, analytics_cohorts, None, _cohort_rows(cohorts, day))
    _replace(conn, analytics_feedback, None, feedback_rows(conn, as_of))
    _replace(
        conn, analytics_segments, analytics_segments.c.computed_on == day, _segment_rows(rows, day)
    )
    _replace(
        conn,
        analytics_transitions,
        analytics_transitions.c.computed_on == day,
        [
            {"computed_on": day, "from_segment": old, "to_segment": new, "members": n}
            for (old, new), n in sorted(moves.items())
        ],
    )
    _replace(conn, segment_changes, segment_changes.c.changed_on == day, changes)
    values = [row["clv_rial"] for row in rows if row["clv_rial"] is not None]
    _replace(
        conn,
        analytics_clv_buckets,
        analytics_clv_buckets.c.computed_on == day,
        clv_buckets(values, day) if clv_fitted else [],
    )
    _replace(
        conn,
        analytics_demographics,
        analytics_demographics.c.computed_on == day,
        demographic_rows(conn, as_of),
    )
    chain = _chain_row(conn, as_of, grid, len(rows), clv_fitted, time.monotonic() - started)
    _replace(conn, analytics_runs, analytics_runs.c.computed_on == day, [chain])
    return {
        "run": {k: v for k, v in chain.items() if k not in ("computed_on", "as_of", "finished_at")},
        "kpis": [{k: v for k, v in row.items() if k != "computed_on"} for row in grid],
        "cohorts": cohorts,
    }


def _cohort_rows(cohorts: Sequence[Mapping[str, Any]], day: dt.date) -> list[dict[str, Any]]:
    return [
        {
            "cohort": c["cohort"],
            "months_since": since,
            "computed_on": day,
            "cohort_members": c["members"],
            "active_members": active,
            "retention": c["retention"][since],
        }
        for c in cohorts
        for since, active in enumerate(c["active"])
    ]


def _chain_row(
    conn: sa.Connection,
    as_of: dt.datetime,
    grid: Sequence[Mapping[str, Any]],
    buying: int,
    clv_fitted: bool,
    seconds: float,
) -> dict[str, Any]:
    chain_rows = [row for row in grid if row["store_id"] == CHAIN]
    latest = chain_rows[-1] if chain_rows else {}
    figures = totals(conn)
    members = int(figures["members"])
    return {
        "computed_on": as_of.date(),
        "as_of": as_of,
        "finished_at": dt.datetime.now(dt.UTC),
        "members": members,
        "buying_members": buying,
        "activation_rate": round(buying / members, 4) if members else 0.0,
        "active_30d": latest.get("active_30d", 0),
        "active_90d": latest.get("active_90d", 0),
        "points_liability": int(figures["points_total"]),
        "clv_fitted": clv_fitted,
        "seconds": round(seconds, 3),
    }


def store_preferences(
    conn: sa.Connection, as_of: dt.datetime, rows: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Replace members' category affinities, suggestions and incentive answers; count them."""
    day = as_of.date()
    spend = category_spend(conn, as_of)
    affinities, categories = affinity_rows(spend, day)
    segment_of = {row["member_id"]: row["segment"] for row in rows}
    suggestions = suggestion_rows(spend, segment_of, day)
    incentives = incentive_rows(conn, as_of)
    _replace(conn, member_categories, None, affinities)
    _replace(conn, member_suggestions, None, suggestions)
    _replace(conn, member_incentives, None, incentives)
    _replace(conn, analytics_categories, analytics_categories.c.computed_on == day, categories)
    return {
        "member_categories": len(affinities),
        "suggestions": len(suggestions),
        "incentives": len(incentives),
        "categories": len(categories),
    }
