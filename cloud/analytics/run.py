"""One analytics pass: patterns, RFM segments and CLV stored per member; KPIs and cohorts."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import resource
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import sqlalchemy as sa

from cloud.analytics import clv
from cloud.analytics.aggregates import (
    Homes,
    previous_segments,
    store_aggregates,
    store_preference_sums,
)
from cloud.analytics.aside import Reads, worth_it
from cloud.analytics.bulk import Columns, insert_columns, insert_rows
from cloud.analytics.grid import CHAIN
from cloud.analytics.keptspend import bring_up_to_date
from cloud.analytics.kpis import ACTIVE_DAYS
from cloud.analytics.lines import copy_sale_lines
from cloud.analytics.patterns import Patterns, member_patterns, micros, moment_of
from cloud.analytics.preferences import store_preferences
from cloud.analytics.rfm import Scores, Segment, load_segments, rfm_scores, segment_keys
from cloud.analytics.satisfaction import score_unscored
from cloud.tables import member_analytics, segment_history
from common.pii import PiiVault

CLV_HORIZON_WEEKS = 52
ANNUAL_DISCOUNT = 0.30  # Iranian money loses value fast: a high yearly discount rate
FIT_MEMBERS = 200_000  # the CLV models are fitted on at most this many members, at random


def _weekly_rate(annual: float) -> float:
    return float((1 + annual) ** (1 / 52) - 1)


def summary_of(patterns: Patterns, as_of: dt.datetime) -> clv.Summary:
    """Build the CLV models' input (weeks) from order patterns."""
    purchases = patterns.purchases.astype(np.float64)
    # Whole days, as the models are usually fed (and ``clv-fit`` does): members with the
    # same history share one likelihood term and one CLV sum, which makes a million
    # members' fit and CLV several times cheaper; a day is 1/7 of the time unit.
    day_us = 86_400_000_000
    first_day = patterns.first_us // day_us
    first = (micros(as_of) // day_us - first_day).astype(np.float64)
    last = (patterns.last_us // day_us - first_day).astype(np.float64)
    week = 7.0
    value = patterns.value_rial.astype(np.float64)
    # Mean spend over all purchases (the SQL totals do not keep the first apart), and
    # purchases, not distinct days: a member buying twice a day counts two.
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(purchases > 1, value / purchases, 0.0)
    return clv.Summary(
        tuple(patterns.member_ids), purchases - 1, last / week, first / week, monetary
    )


def _clv_columns(s: clv.Summary) -> dict[str, Any]:
    fitted_on = clv.sample_of(s, FIT_MEMBERS)
    try:
        bg, gg = clv.fit_bgnbd(fitted_on), clv.fit_gamma_gamma(fitted_on)
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
    """Seconds per step of a pass, for the bench and the log (where a slow pass goes), and
    the process's peak memory by the end of each step (where it grows)."""

    def __init__(self) -> None:
        self.last, self.last_cpu = time.monotonic(), time.process_time()
        self.steps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}  # CPU seconds: on a loaded machine wall time lies
        self.peak_mb: dict[str, int] = {}

    def lap(self, name: str) -> None:
        now, cpu = time.monotonic(), time.process_time()
        self.steps[name] = round(now - self.last, 3)
        self.cpu[name] = round(cpu - self.last_cpu, 3)
        self.peak_mb[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        self.last, self.last_cpu = now, cpu


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the pass, then collect once.

    The pass holds millions of tuples and lists at once (rows read, columns built), and
    each full collection walks all of them: reading a million members' kept spend beside
    6 million such tuples took 37 s of CPU, 14.5 s without (collections that found
    nothing to free). Its objects form no cycles worth waiting for; reference counting
    frees them as usual. The collector is paused for the whole process: a web server
    running the scheduled pass keeps its request garbage until the pass ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def run_analytics(
    engine: sa.Engine,
    as_of: dt.datetime,
    vault: PiiVault | None = None,
    *,
    aside: bool | None = None,
) -> dict[str, Any]:
    """Compute and store every buying member's analytics as of ``as_of``; return counts.

    With the PII ``vault``, sale lines are first copied out of the sealed sale events
    received since the last run (category preferences need them), and feedback comments
    stored without a sentiment are scored, and the kept category spend is brought up to
    date (``keptspend.py``; all committed first). With ``aside`` the members' spend and
    incentive answers, then the KPI grid and the cohorts, are read by a second process
    meanwhile (``aside.py``); by default when the chain is large enough for it to pay.
    """
    started = time.monotonic()
    clock = _Clock()
    segments = load_segments()
    # Lines, sentiments and the kept spend first, committed: the other process reads them.
    with engine.begin() as conn:
        lines = copy_sale_lines(conn, vault) if vault is not None else 0
        scored = score_unscored(conn, vault) if vault is not None else 0
        bring_up_to_date(conn, as_of)
    clock.lap("open_events_and_comments")
    if aside is None:
        aside = worth_it(engine)
    reads = Reads.start(engine, as_of) if aside else Reads()
    try:
        with engine.begin() as conn, _collector_paused():
            result = _members_and_aggregates(conn, as_of, reads, segments, clock, started)
    finally:
        reads.close()
    return {**result, "sale_lines_copied": lines, "comments_scored": scored}


def _members_and_aggregates(
    conn: sa.Connection,
    as_of: dt.datetime,
    reads: Reads,
    segments: tuple[Segment, ...],
    clock: _Clock,
    started: float,
) -> dict[str, Any]:
    """Compute and store members' analytics and every HQ aggregate in one transaction."""
    patterns = member_patterns(conn, as_of)
    clock.lap("patterns")
    r, f, m = rfm_scores(patterns.gap_days, patterns.purchases, patterns.value_rial)
    extra = _clv_columns(summary_of(patterns, as_of)) if len(patterns) else {}
    clock.lap("rfm_and_clv")
    rows = member_rows(patterns, as_of.date(), (r, f, m), segments, extra)
    before = store_member_rows(conn, rows, as_of.date())
    clock.lap("store_members")
    reads.meanwhile(conn, as_of)
    clock.lap("points")
    spend, incentives = reads.spend(conn, as_of), reads.incentives(conn, as_of)
    clock.lap("spend_wait" if reads.aside else "spend")
    member_segments = dict(zip(rows.column("member_id"), rows.column("segment"), strict=True))
    preferences, chosen = store_preferences(conn, as_of, member_segments, spend, incentives)
    homes = Homes.read(conn)
    store_preference_sums(
        conn, as_of.date(), chosen.affinities, chosen.suggestions, chosen.incentives, homes
    )
    clock.lap("preferences")
    counted = reads.grid(conn, as_of)
    clock.lap("kpi_grid_wait" if reads.aside else "kpi_grid")
    aside_figures = reads.figures()
    stored = store_aggregates(conn, as_of, rows, bool(extra), started, before, homes, counted)
    clock.lap("hq_aggregates")
    return {
        "computed_on": as_of.date().isoformat(),
        "members": len(rows),
        "segments": dict(sorted(Counter(rows.column("segment")).items())),
        "clv_fitted": bool(extra),
        "run": stored["run"],
        "preferences": preferences,
        "steps": clock.steps,
        "steps_cpu": clock.cpu,
        "steps_peak_mb": clock.peak_mb,
        "read_aside": reads.aside,
        "aside_figures": aside_figures,
        "chain": _chain(stored["run"]),
        "chain_months": [k for k in stored["kpis"] if k["store_id"] == CHAIN],
        "store_months": [k for k in stored["kpis"] if k["store_id"] != CHAIN],
        "cohorts": stored["cohorts"],
    }


def _chain(run: dict[str, Any]) -> dict[str, Any]:
    """Return the chain-wide figures of the run's row (``kpis.chain_kpis``'s, from SQL)."""
    return {
        "members": run["members"],
        "buying_members": run["buying_members"],
        "activation_rate": run["activation_rate"],
        f"active_members_{ACTIVE_DAYS}d": run[f"active_{ACTIVE_DAYS}d"],
        "points_liability": run["points_liability"],
    }


def member_rows(
    patterns: Patterns,
    day: dt.date,
    scores: tuple[Scores, Scores, Scores],
    segments: tuple[Segment, ...],
    extra: dict[str, Any],
) -> Columns:
    """Return the pass's ``member_analytics`` rows, column by column."""
    n = len(patterns)
    r, f, m = scores
    interval = patterns.mean_interval_days
    none: list[Any] = [None] * n
    return Columns(
        {
            "member_id": patterns.member_ids,
            "computed_on": [day] * n,
            "purchases": patterns.purchases.tolist(),
            "value_rial": patterns.value_rial.tolist(),
            "avg_payment_rial": patterns.avg_payment_rial.tolist(),
            "first_purchase_at": [moment_of(us) for us in patterns.first_us.tolist()],
            "last_purchase_at": [moment_of(us) for us in patterns.last_us.tolist()],
            "mean_interval_days": [
                None if isnan else v
                for v, isnan in zip(interval.tolist(), np.isnan(interval).tolist(), strict=True)
            ],
            "gap_days": patterns.gap_days.tolist(),
            "cycle": patterns.cycle,
            "channels": patterns.channels,
            "r": r.tolist(),
            "f": f.tolist(),
            "m": m.tolist(),
            "segment": segment_keys(segments, r, f),
            "p_alive": extra["p_alive"].tolist() if extra else none,
            "expected_purchases_90d": extra["expected_purchases_90d"].tolist() if extra else none,
            "clv_rial": np.round(extra["clv_rial"]).astype(np.int64).tolist() if extra else none,
        }
    )


def store_member_rows(conn: sa.Connection, rows: Columns, day: dt.date) -> dict[str, str]:
    """Replace ``member_analytics`` with this pass's rows and record the segments that
    changed (or first appeared) on ``day``; return each member's segment before the day.

    A row per member per run would grow the history by every buying member every day;
    a member's segment on any day is their latest row on or before it.
    """
    conn.execute(sa.delete(member_analytics))
    conn.execute(sa.delete(segment_history).where(segment_history.c.computed_on == day))
    names = [c.name for c in member_analytics.columns]
    insert_columns(conn, member_analytics, {name: rows.column(name) for name in names})
    before = previous_segments(conn, day)
    moved = [
        (member_id, day, segment)
        for member_id, segment in zip(rows.column("member_id"), rows.column("segment"), strict=True)
        if before.get(member_id) != segment
    ]
    insert_rows(conn, segment_history, ("member_id", "computed_on", "segment"), moved)
    return before
