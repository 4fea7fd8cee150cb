"""Did a scenario work? Treated members against the control group, with a 95 % interval.

For the entries of a scenario in a period (per-event entries by their month, see
``in_period``), each member counts as returned if they bought
within ``days`` after their entry, and their revenue is what they spent in that time. The
report gives both arms' return rate and revenue per member, the differences (treated minus
control) and their 95 % confidence intervals (normal approximation: Wald for the
proportions, Welch's standard error for the means).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from statistics import fmean, variance
from typing import Any

import sqlalchemy as sa

from cloud.tables import sales, scenario_entries

Z95 = 1.959964


@dataclass(frozen=True)
class Arm:
    """One side of the comparison."""

    members: int
    returned: int
    return_rate: float
    revenue_per_member: float


@dataclass(frozen=True)
class Uplift:
    """Treated against control for one scenario and period."""

    scenario_id: str
    period: str
    days: int
    treated: Arm
    control: Arm
    return_rate_diff: float
    return_rate_ci: tuple[float, float]
    revenue_diff: float
    revenue_ci: tuple[float, float]


def report(conn: sa.Connection, scenario_id: str, period: str, days: int = 30) -> Uplift:
    """Compare the scenario's treated members with its control group."""
    entries = conn.execute(
        sa.select(
            scenario_entries.c.member_id, scenario_entries.c.arm, scenario_entries.c.created_at
        ).where(
            scenario_entries.c.scenario_id == scenario_id,
            in_period(period),
            scenario_entries.c.outcome.not_like("skipped%"),
        )
    ).all()
    bought = _purchases(conn, [e.member_id for e in entries])
    spend: dict[str, list[float]] = {"treated": [], "control": []}
    for member_id, arm, entered in entries:
        start = _aware(entered)
        end = start + dt.timedelta(days=days)
        revenue = sum(amount for at, amount in bought.get(member_id, []) if start < at <= end)
        spend["control" if arm == "control" else "treated"].append(float(revenue))
    treated, control = _arm(spend["treated"]), _arm(spend["control"])
    rate_diff = treated.return_rate - control.return_rate
    rate_se = math.sqrt(_pq(treated) + _pq(control))
    revenue_diff = treated.revenue_per_member - control.revenue_per_member
    revenue_se = math.sqrt(_var(spend["treated"]) + _var(spend["control"]))
    return Uplift(
        scenario_id,
        period,
        days,
        treated,
        control,
        rate_diff,
        (rate_diff - Z95 * rate_se, rate_diff + Z95 * rate_se),
        revenue_diff,
        (revenue_diff - Z95 * revenue_se, revenue_diff + Z95 * revenue_se),
    )


def in_period(period: str) -> sa.ColumnElement[bool]:
    """Match the entries of a period, with the per-event entries of its months.

    A per-event entry's period is ``YYYY-MM/<digest>``: ``1405-09`` takes that month's and
    ``1405`` the whole year's; other periods match exactly.
    """
    column = scenario_entries.c.period
    clauses = [column == period, column.startswith(f"{period}/", autoescape=True)]
    if period.isdigit():  # a year: the per-event entries of its months too
        clauses.append(sa.and_(column.startswith(f"{period}-"), column.contains("/")))
    return sa.or_(*clauses)


def _purchases(conn: sa.Connection, member_ids: list[str]) -> dict[str, list[tuple[Any, int]]]:
    """Return every purchase (time, Rials) of the given members, a chunk of ids at a time."""
    found: dict[str, list[tuple[Any, int]]] = {}
    for index in range(0, len(member_ids), 500):
        rows = conn.execute(
            sa.select(sales.c.member_id, sales.c.received_at, sales.c.amount_rial).where(
                sales.c.member_id.in_(member_ids[index : index + 500])
            )
        )
        for member_id, at, amount in rows:
            found.setdefault(member_id, []).append((_aware(at), int(amount)))
    return found


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def _arm(revenues: list[float]) -> Arm:
    returned = sum(1 for r in revenues if r > 0)
    count = len(revenues)
    return Arm(
        count, returned, returned / count if count else 0.0, fmean(revenues) if revenues else 0.0
    )


def _pq(arm: Arm) -> float:
    return arm.return_rate * (1 - arm.return_rate) / arm.members if arm.members else 0.0


def _var(values: list[float]) -> float:
    return variance(values) / len(values) if len(values) > 1 else 0.0  # Welch: s² / n


def as_dict(uplift: Uplift) -> dict[str, Any]:
    """Return the report as JSON-ready data."""
    from dataclasses import asdict

    return asdict(uplift)
