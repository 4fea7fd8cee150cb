"""One analytics pass: patterns, RFM segments and CLV stored per member; KPIs and cohorts."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa

from cloud.analytics import clv
from cloud.analytics.aggregates import store_aggregates, store_preferences
from cloud.analytics.grid import CHAIN
from cloud.analytics.kpis import chain_kpis
from cloud.analytics.lines import copy_sale_lines
from cloud.analytics.patterns import Pattern, member_patterns
from cloud.analytics.rfm import Segment, load_segments, rfm_scores, segment_of
from cloud.analytics.satisfaction import score_unscored
from cloud.tables import member_analytics, segment_history
from common.pii import PiiVault

CLV_HORIZON_WEEKS = 52
ANNUAL_DISCOUNT = 0.30  # Iranian money loses value fast: a high yearly discount rate


def _weekly_rate(annual: float) -> float:
    return float((1 + annual) ** (1 / 52) - 1)


def summary_of(patterns: Sequence[Pattern], as_of: dt.datetime) -> clv.Summary:
    """Build the CLV models' input (weeks) from order patterns."""
    purchases = np.array([p.purchases for p in patterns], dtype=np.float64)
    first = np.array([(as_of - p.first_purchase).total_seconds() for p in patterns])
    last = np.array([(p.last_purchase - p.first_purchase).total_seconds() for p in patterns])
    week = 7 * 86400.0
    value = np.array([p.value_rial for p in patterns], dtype=np.float64)
    # Mean spend over all purchases (the SQL totals do not keep the first apart), and
    # purchases, not distinct days: a member buying twice a day counts two.
    monetary = np.where(purchases > 1, value / purchases, 0.0)
    return clv.Summary(
        tuple(p.member_id for p in patterns), purchases - 1, last / week, first / week, monetary
    )


def _clv_columns(s: clv.Summary) -> dict[str, Any]:
    try:
        bg, gg = clv.fit_bgnbd(s), clv.fit_gamma_gamma(s)
    except clv.AnalyticsError:
        return {}  # too few members or repeats to fit: the columns stay NULL
    columns = {
        "p_alive": clv.probability_alive(bg, s.frequency, s.recency, s.T),
        "expected_purchases_90d": clv.expected_purchases(bg, 90 / 7, s.frequency, s.recency, s.T),
        "clv_rial": clv.clv(bg, gg, s, CLV_HORIZON_WEEKS, _weekly_rate(ANNUAL_DISCOUNT)),
    }
    # A fit on a handful of members can end on degenerate parameters (NaN predictions):
    # no CLV is better than a wrong one.
    return columns if all(np.isfinite(v).all() for v in columns.values()) else {}


class _Clock:
    """Seconds per step of a pass, for the bench and the log (where a slow pass goes)."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.steps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.steps[name] = round(now - self.last, 3)
        self.last = now


def run_analytics(
    engine: sa.Engine, as_of: dt.datetime, vault: PiiVault | None = None
) -> dict[str, Any]:
    """Compute and store every buying member's analytics as of ``as_of``; return counts.

    With the PII ``vault``, sale lines are first copied out of the sealed sale events
    received since the last run (category preferences need them), and feedback comments
    stored without a sentiment are scored.
    """
    started = time.monotonic()
    clock = _Clock()
    segments = load_segments()
    with engine.begin() as conn:
        lines = copy_sale_lines(conn, vault) if vault is not None else 0
        scored = score_unscored(conn, vault) if vault is not None else 0
        clock.lap("open_events_and_comments")
        patterns = member_patterns(conn, as_of)
        clock.lap("patterns")
        r, f, m = rfm_scores(
            [p.gap_days for p in patterns],
            [p.purchases for p in patterns],
            [p.value_rial for p in patterns],
        )
        extra = _clv_columns(summary_of(patterns, as_of)) if patterns else {}
        clock.lap("rfm_and_clv")
        rows = [
            _row(p, i, as_of.date(), (int(r[i]), int(f[i]), int(m[i])), segments, extra)
            for i, p in enumerate(patterns)
        ]
        conn.execute(sa.delete(member_analytics))
        conn.execute(
            sa.delete(segment_history).where(segment_history.c.computed_on == as_of.date())
        )
        if rows:
            conn.execute(sa.insert(member_analytics), rows)
            conn.execute(
                sa.insert(segment_history),
                [
                    {
                        "member_id": row["member_id"],
                        "computed_on": row["computed_on"],
                        "segment": row["segment"],
                    }
                    for row in rows
                ],
            )
        clock.lap("store_members")
        preferences = store_preferences(conn, as_of, rows)
        clock.lap("preferences")
        stored = store_aggregates(conn, as_of, rows, bool(extra), started)
        clock.lap("hq_aggregates")
        figures = {
            "chain": chain_kpis(conn, as_of),
            "chain_months": [k for k in stored["kpis"] if k["store_id"] == CHAIN],
            "store_months": [k for k in stored["kpis"] if k["store_id"] != CHAIN],
            "cohorts": stored["cohorts"],
        }
    return {
        "computed_on": as_of.date().isoformat(),
        "members": len(rows),
        "segments": dict(sorted(Counter(row["segment"] for row in rows).items())),
        "clv_fitted": bool(extra),
        "run": stored["run"],
        "sale_lines_copied": lines,
        "comments_scored": scored,
        "preferences": preferences,
        "steps": clock.steps,
        **figures,
    }


def _row(
    p: Pattern,
    i: int,
    day: dt.date,
    scores: tuple[int, int, int],
    segments: tuple[Segment, ...],
    extra: dict[str, Any],
) -> dict[str, Any]:
    r, f, m = scores
    return {
        "member_id": p.member_id,
        "computed_on": day,
        "purchases": p.purchases,
        "value_rial": p.value_rial,
        "avg_payment_rial": p.avg_payment_rial,
        "first_purchase_at": p.first_purchase,
        "last_purchase_at": p.last_purchase,
        "mean_interval_days": p.mean_interval_days,
        "gap_days": p.gap_days,
        "cycle": p.cycle,
        "channels": json.dumps(p.channels, sort_keys=True),
        "r": r,
        "f": f,
        "m": m,
        "segment": segment_of(segments, r, f).key,
        "p_alive": float(extra["p_alive"][i]) if extra else None,
        "expected_purchases_90d": float(extra["expected_purchases_90d"][i]) if extra else None,
        "clv_rial": round(float(extra["clv_rial"][i])) if extra else None,
    }
