"""Store what the HQ pages read, so a page is one small query on precomputed rows.

Written inside the analytics run's transaction: the latest-run tables (KPIs per store and
month, cohort retention, feedback per store and month, suggestions, incentive answers and
top members) are replaced whole; the per-run tables (segment counts, segment transitions,
the CLV histogram, demographics, categories, the run's chain figures) replace that day's
rows and keep earlier days for trends. Members whose segment changed since the previous
run get a ``segment_changes`` row each (a member's first segment is not a change).
Members' preferences are written by ``preferences.py``; their sums here.

Everything counted over members is stored per home store and chain-wide (``CHAIN``), so
a store owner's page reads their store's rows as the admin's reads the chain's: each
member has exactly one home store, so a scope of several stores adds up its stores' rows.
The sums by home store are one numpy pass over the run's rows (``sums_by_store``), not a
query per store. Cohorts and top members do not add up that way: cohorts are stored per
store (members by their first purchase at that store) and top members as each store's
best ``TOP_MEMBERS``, of which a scope keeps the best.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from cloud.analytics.arrays import Coder, distinct
from cloud.analytics.demographics import demographic_rows
from cloud.analytics.grid import CHAIN, Aggregates, sales_aggregates
from cloud.analytics.satisfaction import feedback_rows
from cloud.tables import (
    analytics_categories,
    analytics_clv_buckets,
    analytics_cohorts,
    analytics_demographics,
    analytics_feedback,
    analytics_incentives,
    analytics_kpis,
    analytics_runs,
    analytics_segments,
    analytics_suggestions,
    analytics_top_members,
    analytics_transitions,
    members,
    segment_changes,
    segment_history,
)

# CLV histogram edges in Rials (1-2-5 steps): fixed, so runs compare; the top is open.
CLV_EDGES = tuple(
    [0] + [step * 10**power for power in range(6, 11) for step in (1, 2, 5)] + [10**11]
)
NEW = ""  # the "from" of a member analysed for the first time


TOP_MEMBERS = 20  # the CLV page's list
Ints = npt.NDArray[np.int64]
Sums = dict[tuple[str, Any], list[Any]]  # (store or CHAIN, key) -> [members, sums…]


class Homes:
    """Each member's home store, as small integer codes for numpy."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        names: dict[str, int] = {}
        self.code = {member: names.setdefault(store, len(names)) for member, store in pairs}
        self.names = list(names)
        self._last: tuple[Sequence[str], Ints] | None = None

    @classmethod
    def read(cls, conn: sa.Connection) -> Homes:
        """Read every member's home store (one scan of ``members``)."""
        return cls(conn.execute(sa.select(members.c.id, members.c.home_store_id)))

    def of(self, member_ids: Sequence[str]) -> Ints:
        """Return the members' store codes, -1 for an id ``members`` does not hold."""
        # The run's member column is looked up for several tables: once is enough.
        if self._last is not None and self._last[0] is member_ids:
            return self._last[1]
        looked_up = map(self.code.get, member_ids, itertools.repeat(-1))  # at C speed
        codes = np.fromiter(looked_up, dtype=np.int64, count=len(member_ids))
        self._last = (member_ids, codes)
        return codes


def column_of(rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    """Return one column of the run's member rows (taken whole when they are kept as
    columns, as ``run.py`` may hand them)."""
    column = getattr(rows, "column", None)
    if column is not None:
        values: list[Any] = column(name)
        return values
    return [row[name] for row in rows]


def sums_by_store(
    homes: Homes,
    member_ids: Sequence[str],
    keys: Sequence[Hashable],
    values: Sequence[Sequence[int] | Sequence[float]] = (),
) -> Sums:
    """Count members per (home store, key) and add up their ``values``; chain-wide too.

    One pass whatever the number of stores: cells are store × key codes, counted with
    ``bincount``. Integer values are summed exactly (``np.add.at``); floats as floats.
    Only cells with members are returned.
    """
    if len(member_ids) == 0:
        return {}
    coder = Coder()
    coder.add(tuple(keys))
    key_list, key = coder.codes()
    n_keys, store = len(key_list), homes.of(member_ids)
    n_cells = (len(homes.names) + 1) * n_keys  # the last store row: ids without a member
    cell = np.where(store >= 0, store, len(homes.names)) * n_keys + key
    columns: list[npt.NDArray[Any]] = [np.bincount(cell, minlength=n_cells)]
    for column in values:
        array = np.asarray(column)
        if np.issubdtype(array.dtype, np.integer):
            summed = np.zeros(n_cells, dtype=np.int64)
            np.add.at(summed, cell, array.astype(np.int64))
        else:
            summed = np.bincount(cell, weights=array.astype(np.float64), minlength=n_cells)
        columns.append(summed)
    grids = [c.reshape(len(homes.names) + 1, n_keys) for c in columns]
    names = homes.names
    out: Sums = {}
    for s, k in zip(*np.nonzero(grids[0][:-1]), strict=True):
        out[(names[s], key_list[k])] = [g[s, k].item() for g in grids]
    chain = [g.sum(axis=0) for g in grids]
    for k in np.flatnonzero(chain[0]):
        out[(CHAIN, key_list[k])] = [c[k].item() for c in chain]
    return out


def clv_bucket_rows(
    homes: Homes, rows: Sequence[Mapping[str, Any]], day: dt.date
) -> list[dict[str, Any]]:
    """Count members per CLV bucket, per home store and chain-wide (every bucket, zeros
    included, for every store with a fitted member)."""
    clv = column_of(rows, "clv_rial")
    everyone = column_of(rows, "member_id")
    ids = [m for m, value in zip(everyone, clv, strict=True) if value is not None]
    values = np.array([value for value in clv if value is not None], dtype=np.int64)
    # The highest edge at or below the value; a negative CLV (not from the models) -> 0.
    bucket = np.maximum(np.searchsorted(CLV_EDGES, values, side="right") - 1, 0)
    sums = sums_by_store(homes, ids, bucket.tolist())
    scopes = sorted({store for store, _ in sums})
    return [
        {
            "computed_on": day,
            "store_id": store,
            "bucket": i,
            "low_rial": low,
            "high_rial": CLV_EDGES[i + 1] if i + 1 < len(CLV_EDGES) else None,
            "members": sums.get((store, i), [0])[0],
        }
        for store in scopes
        for i, low in enumerate(CLV_EDGES)
    ]


def top_member_rows(
    homes: Homes, rows: Sequence[Mapping[str, Any]], day: dt.date
) -> list[dict[str, Any]]:
    """Return each home store's and the chain's best members: highest CLV (else value),
    then member id, as the CLV page orders them."""
    if not rows:
        return []
    ids = column_of(rows, "member_id")
    clv, value = column_of(rows, "clv_rial"), column_of(rows, "value_rial")
    score = np.array(
        [v if c is None else c for v, c in zip(value, clv, strict=True)], dtype=np.int64
    )
    out: list[dict[str, Any]] = []
    stores = homes.of(ids)
    for name, index in [
        *((homes.names[s], np.flatnonzero(stores == s)) for s in distinct(stores) if s >= 0),
        (CHAIN, np.arange(len(ids))),
    ]:
        # The best TOP_MEMBERS scores and every tie with the last of them, ordered by id.
        if len(index) > TOP_MEMBERS:
            bar = np.partition(score[index], len(index) - TOP_MEMBERS)[len(index) - TOP_MEMBERS]
            index = index[score[index] >= bar]
        best = sorted(index.tolist(), key=lambda i: (-int(score[i]), ids[i]))[:TOP_MEMBERS]
        out.extend(
            {"store_id": name, "rank": rank, "computed_on": day, "member_id": ids[i]}
            for rank, i in enumerate(best, start=1)
        )
    return out


def previous_segments(conn: sa.Connection, day: dt.date) -> dict[str, str]:
    """Return each member's segment as last recorded before ``day``.

    The history keeps a row only when a member's segment changed (or first appeared), so a
    member's segment on a day is their latest row on or before it.
    """
    history = segment_history.c
    latest = (
        sa.select(history.member_id, sa.func.max(history.computed_on).label("on"))
        .where(history.computed_on < day)
        .group_by(history.member_id)
        .subquery()
    )
    query = sa.select(history.member_id, history.segment).join(
        latest,
        sa.and_(history.member_id == latest.c.member_id, history.computed_on == latest.c.on),
    )
    return {member_id: segment for member_id, segment in conn.execute(query)}


def _replace(conn: sa.Connection, table: sa.Table, where: Any, rows: list[dict[str, Any]]) -> None:
    conn.execute(sa.delete(table).where(where) if where is not None else sa.delete(table))
    if rows:
        conn.execute(sa.insert(table), rows)


def _segment_rows(
    homes: Homes, rows: Sequence[Mapping[str, Any]], day: dt.date, clv_fitted: bool
) -> list[dict[str, Any]]:
    sums = sums_by_store(
        homes,
        column_of(rows, "member_id"),
        column_of(rows, "segment"),
        [column_of(rows, "value_rial"), [clv or 0 for clv in column_of(rows, "clv_rial")]],
    )
    return [
        {
            "computed_on": day,
            "store_id": store,
            "segment": segment,
            "members": n,
            "value_rial": value,
            "clv_rial": clv if clv_fitted else None,
        }
        for (store, segment), (n, value, clv) in sorted(sums.items())
    ]


def store_aggregates(
    conn: sa.Connection,
    as_of: dt.datetime,
    rows: Sequence[Mapping[str, Any]],
    clv_fitted: bool,
    started: float,
    before: Mapping[str, str] | None = None,
    homes: Homes | None = None,
    counted: Aggregates | None = None,
) -> dict[str, Any]:
    """Write every HQ aggregate of this run (one transaction: the caller's); return figures.

    ``started`` is the run's ``time.monotonic()`` start, for the run's recorded duration;
    ``before`` each member's segment before this day, ``homes`` the members' home stores
    and ``counted`` the KPI grid and cohorts (``grid.sales_aggregates``), if the caller
    has them already.
    """
    day = as_of.date()
    if before is None:
        before = previous_segments(conn, day)
    homes = Homes.read(conn) if homes is None else homes
    ids, now = column_of(rows, "member_id"), column_of(rows, "segment")
    was = [before.get(member, NEW) for member in ids]
    moves = sums_by_store(homes, ids, list(zip(was, now, strict=True)))
    changes = [
        {"member_id": member, "changed_on": day, "from_segment": old, "to_segment": new}
        for member, old, new in zip(ids, was, now, strict=True)
        if old not in (NEW, new)
    ]
    grid, cohorts = sales_aggregates(conn, as_of) if counted is None else counted
    _replace(conn, analytics_kpis, None, grid)
    _replace(conn, analytics_cohorts, None, _cohort_rows(cohorts, day))
    _replace(conn, analytics_feedback, None, feedback_rows(conn, as_of))
    _replace(
        conn,
        analytics_segments,
        analytics_segments.c.computed_on == day,
        _segment_rows(homes, rows, day, clv_fitted),
    )
    _replace(
        conn,
        analytics_transitions,
        analytics_transitions.c.computed_on == day,
        [
            {
                "computed_on": day,
                "store_id": store,
                "from_segment": old,
                "to_segment": new,
                "members": n,
            }
            for (store, (old, new)), (n,) in sorted(moves.items())
        ],
    )
    _replace(conn, segment_changes, segment_changes.c.changed_on == day, changes)
    _replace(
        conn,
        analytics_clv_buckets,
        analytics_clv_buckets.c.computed_on == day,
        clv_bucket_rows(homes, rows, day) if clv_fitted else [],
    )
    _replace(
        conn,
        analytics_demographics,
        analytics_demographics.c.computed_on == day,
        demographic_rows(conn, as_of),
    )
    _replace(conn, analytics_top_members, None, top_member_rows(homes, rows, day))
    chain = _chain_row(conn, as_of, grid, len(rows), clv_fitted, time.monotonic() - started)
    _replace(conn, analytics_runs, analytics_runs.c.computed_on == day, [chain])
    return {
        "run": {k: v for k, v in chain.items() if k not in ("computed_on", "as_of", "finished_at")},
        "kpis": [{k: v for k, v in row.items() if k != "computed_on"} for row in grid],
        "cohorts": cohorts.get(CHAIN, []),
    }


def _cohort_rows(
    cohorts: Mapping[str, Sequence[Mapping[str, Any]]], day: dt.date
) -> list[dict[str, Any]]:
    return [
        {
            "store_id": store,
            "cohort": c["cohort"],
            "months_since": since,
            "computed_on": day,
            "cohort_members": c["members"],
            "active_members": active,
            "retention": c["retention"][since],
        }
        for store, scoped in cohorts.items()
        for c in scoped
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
    # As of the run's moment, as the liability and the active members are.
    enrolled = conn.execute(
        sa.select(sa.func.count()).select_from(members).where(members.c.enrolled_at <= as_of)
    ).scalar_one()
    return {
        "computed_on": as_of.date(),
        "as_of": as_of,
        "finished_at": dt.datetime.now(dt.UTC),
        "members": enrolled,
        "buying_members": buying,
        "activation_rate": round(buying / enrolled, 4) if enrolled else 0.0,
        "active_30d": latest.get("active_30d", 0),
        "active_90d": latest.get("active_90d", 0),
        "points_liability": latest.get("points_liability", 0),
        "clv_fitted": clv_fitted,
        "seconds": round(seconds, 3),
    }


def store_preference_sums(
    conn: sa.Connection,
    day: dt.date,
    affinities: Sequence[Mapping[str, Any]],
    suggestions: Sequence[Mapping[str, Any]],
    incentives: Sequence[Mapping[str, Any]],
    homes: Homes | None = None,
) -> None:
    """Store the HQ preferences page's figures from members' rows (``member_categories``,
    ``member_suggestions`` and ``member_incentives`` as rows or columns): categories, first
    suggestions and incentive answers, per home store and chain-wide."""
    homes = Homes.read(conn) if homes is None else homes
    bought = sums_by_store(
        homes,
        column_of(affinities, "member_id"),
        column_of(affinities, "category"),
        [column_of(affinities, "purchases"), column_of(affinities, "amount_rial")],
    )
    _replace(
        conn,
        analytics_categories,
        analytics_categories.c.computed_on == day,
        [
            {
                "computed_on": day,
                "store_id": store,
                "category": category,
                "members": n,
                "sales": sold,
                "amount_rial": spent,
            }
            for (store, category), (n, sold, spent) in sorted(bought.items())
        ],
    )
    first = [i for i, rank in enumerate(column_of(suggestions, "rank")) if rank == 1]
    ids, categories = column_of(suggestions, "member_id"), column_of(suggestions, "category")
    lifts = column_of(suggestions, "lift")
    likely = sums_by_store(
        homes,
        [ids[i] for i in first],
        [categories[i] for i in first],
        [[float(lifts[i]) for i in first]],
    )
    _replace(
        conn,
        analytics_suggestions,
        None,
        [
            {
                "store_id": store,
                "category": category,
                "computed_on": day,
                "members": n,
                "lift_sum": lift,
            }
            for (store, category), (n, lift) in sorted(likely.items())
        ],
    )
    answered = sums_by_store(
        homes,
        column_of(incentives, "member_id"),
        column_of(incentives, "incentive"),
        [column_of(incentives, "offers"), column_of(incentives, "responses")],
    )
    _replace(
        conn,
        analytics_incentives,
        None,
        [
            {
                "store_id": store,
                "incentive": incentive,
                "computed_on": day,
                "members": n,
                "offers": offers,
                "responses": responses,
            }
            for (store, incentive), (n, offers, responses) in sorted(answered.items())
        ],
    )
