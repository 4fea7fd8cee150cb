"""Member preferences: category affinity, likely next categories, the incentive they answer.

- Affinity: each member's share of their line spend per category over the chain's share
  (1 = like the average member, 2 = twice as drawn to it). Lines come from ``sale_lines``
  (``lines.py``); refunded sales do not count.
- Suggestions, "not bought yet, but likely": among members of the same RFM segment (or the
  whole chain when the segment has too few members to count pairs), the lift of buying
  category c given a (share of a's buyers also buying c, over c's share of all buyers).
  A member's score for a category they have not bought is the mean lift over the categories
  they have, counting pairs seen fewer than ``MIN_PAIR`` times as 0; scores above 1 are
  kept, best ``SUGGESTIONS`` first.
- Incentives: for each scenario entry that acted on the member (treated arm), each action
  type it carried (sms, points, credit, coupon, gift; an SMS the guardrails skipped does not
  count) is an offer, and a kept purchase within ``RESPONSE_DAYS`` after it a response.
  Entries whose window has not closed yet are left out. A scenario with two action types
  credits both: the data cannot tell them apart without a test of one against the other.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from scipy import sparse

from cloud.analytics.arrays import Coder, contiguous_codes, ints
from cloud.analytics.bulk import Columns, driver_chunks, insert_columns
from cloud.tables import (
    member_categories,
    member_incentives,
    member_suggestions,
    sale_lines,
    sales,
    scenario_entries,
    scenarios,
)

MIN_PAIR = 3  # co-purchases below this are noise
MIN_SEGMENT = 50  # smaller segments borrow the chain-wide lifts
SUGGESTIONS = 3
RESPONSE_DAYS = 14
CHUNK = 20_000  # members scored at a time (a dense chunk × categories matrix)
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite drops the zone


@dataclass(frozen=True)
class Spend:
    """Kept line spend per member and category, as aligned columns (one row per pair)."""

    members: list[str]  # distinct, in the order they first come
    categories: list[str]  # distinct, sorted ("" when the POS sent none)
    member: Ints  # each row's index into ``members``
    category: Ints  # each row's index into ``categories``
    purchases: Ints  # sales with the category
    rial: Ints

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, int, int]]) -> Spend:
        """Gather (member, category, sales, Rials) rows, one per member and category."""
        return _Gatherer().add(rows).spend()


class _Gatherer:
    """Turn chunks of (member, category, sales, Rials) rows into a ``Spend``."""

    def __init__(self) -> None:
        self.members: list[tuple[str, ...]] = []
        self.categories = Coder()
        self.parts: list[list[Ints]] = []

    def add(self, rows: Iterable[tuple[str, str, int, int]]) -> _Gatherer:
        rows = list(rows)
        if rows:
            members, categories, counts, rials = zip(*rows, strict=True)
            self.members.append(members)
            self.categories.add(categories)
            self.parts.append([ints(counts), ints(rials)])
        return self

    def spend(self) -> Spend:
        counts, rials = (
            np.concatenate([p[k] for p in self.parts]) if self.parts else np.zeros(0, np.int64)
            for k in range(2)
        )
        members, member = contiguous_codes(list(itertools.chain.from_iterable(self.members)))
        names, category = self.categories.codes()
        order = np.argsort(np.array(names, dtype=object)) if names else np.zeros(0, np.int64)
        remap = np.empty(len(names), dtype=np.int64)
        remap[order] = np.arange(len(names))  # codes of the sorted names
        return Spend(members, sorted(names), member, remap[category], counts, rials)


def gathered(conn: sa.Connection, query: sa.Select[Any]) -> Spend:
    """Return a ``Spend`` from a query's (member, category, sales, Rials) rows, a member's
    rows together, read as the driver gives them."""
    gatherer = _Gatherer()
    for chunk in driver_chunks(conn, query, CHUNK * 10):
        gatherer.add(chunk)
    return gatherer.spend()


def spend_columns(conn: sa.Connection, as_of: dt.datetime) -> Spend:
    """Return each member's sales and Rials per category for kept sales up to ``as_of``."""
    # Lines carry their sale's time; refunds are few, so leaving them out by a NOT IN is
    # cheaper than joining every line to its sale (1.5 s against 2.4 s for 470,000 lines).
    refunded = sa.select(sales.c.id).where(sales.c.refunded_at.is_not(None))
    query = (
        sa.select(
            sale_lines.c.member_id,
            sale_lines.c.category,
            sa.func.count(sa.distinct(sale_lines.c.sale_id)),
            sa.func.sum(sale_lines.c.amount_rial),
        )
        .where(sale_lines.c.received_at <= as_of, sale_lines.c.sale_id.not_in(refunded))
        # Member first, the order of the sale_lines_member_category index, which holds every
        # column read: SQLite groups off it without sorting (4.8 s against 8.9 s CPU for
        # 2.3 million lines grouped category first).
        .group_by(sale_lines.c.member_id, sale_lines.c.category)
        .order_by(sale_lines.c.member_id, sale_lines.c.category)  # a member's rows together
    )
    return gathered(conn, query)


def _round4(values: Floats) -> Floats:
    """Round to 4 decimals exactly as Python's round() does, a million at a time."""
    out = np.round(values, 4)
    # np.round scales by 10**4 first, which can tip a value sitting on a half the other
    # way: those few go through round() itself.
    scaled = values * 1e4
    near_half = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    for i in np.flatnonzero(near_half).tolist():
        out[i] = round(float(values[i]), 4)
    return out


@dataclass(frozen=True)
class Affinity:
    """Member-category affinity columns (aligned with a ``Spend``'s rows) and the chain's
    per-category rows."""

    share: Floats
    affinity: Floats
    chain: list[dict[str, Any]]


def affinities(spend: Spend, day: dt.date) -> Affinity:
    """Return each row's share and affinity and the chain's per-category figures."""
    member_total = np.bincount(spend.member, weights=spend.rial, minlength=len(spend.members))
    n_categories = len(spend.categories)
    buyers = np.bincount(spend.category, minlength=n_categories)
    sales_count = np.bincount(spend.category, weights=spend.purchases, minlength=n_categories)
    category_rial = np.zeros(n_categories, dtype=np.int64)
    np.add.at(category_rial, spend.category, spend.rial)
    grand = int(category_rial.sum())
    totals = member_total[spend.member]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(totals != 0, spend.rial / totals, 0.0)
        chain_share = category_rial / grand if grand else np.zeros(n_categories)
        row_chain = chain_share[spend.category]
        affinity = np.where(row_chain != 0, share / row_chain, 0.0)
    chain = [
        {
            "computed_on": day,
            "category": c,
            "members": int(buyers[j]),
            "sales": int(sales_count[j]),
            "amount_rial": int(category_rial[j]),
        }
        for j, c in enumerate(spend.categories)
    ]
    return Affinity(_round4(share), _round4(affinity), chain)


def affinity_rows(
    spend: Sequence[tuple[str, str, int, int]], day: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return member-category rows and the chain's per-category rows."""
    gathered = Spend.of(spend)
    found = affinities(gathered, day)
    rows = [
        {
            "member_id": gathered.members[m],
            "category": gathered.categories[c],
            "computed_on": day,
            "purchases": n,
            "amount_rial": rial,
            "share": share,
            "affinity": affinity,
        }
        for m, c, n, rial, share, affinity in zip(
            gathered.member.tolist(),
            gathered.category.tolist(),
            gathered.purchases.tolist(),
            gathered.rial.tolist(),
            found.share.tolist(),
            found.affinity.tolist(),
            strict=True,
        )
    ]
    return rows, found.chain


def lift_matrix(bought: sparse.csr_matrix) -> npt.NDArray[np.float64]:
    """Return lift(a → c) between categories from a members × categories 0/1 matrix."""
    co = np.asarray((bought.T @ bought).todense(), dtype=np.float64)
    buyers = np.diag(co).copy()
    n = bought.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        lift: npt.NDArray[np.float64] = co * n / np.outer(buyers, buyers)
    lift[(co < MIN_PAIR) | ~np.isfinite(lift)] = 0.0
    np.fill_diagonal(lift, 0.0)
    return lift


@dataclass(frozen=True)
class Suggestions:
    """Likely next categories as columns: member index, rank, category index, lift."""

    member: list[int]
    rank: list[int]
    category: list[int]
    lift: list[float]


def suggestions(spend: Spend, segment_of: Mapping[str, str]) -> Suggestions:
    """Return each member's likely next categories (rank 1 = most likely)."""
    named = [j for j, c in enumerate(spend.categories) if c]
    if not spend.members or len(named) < 2:
        return Suggestions([], [], [], [])
    column = np.full(len(spend.categories), -1, dtype=np.int64)
    column[named] = np.arange(len(named))
    keep = column[spend.category] >= 0
    bought = sparse.csr_matrix(
        (
            np.ones(int(np.count_nonzero(keep))),
            (spend.member[keep], column[spend.category[keep]]),
        ),
        shape=(len(spend.members), len(named)),
    )
    bought.data[:] = 1.0  # a duplicate pair would sum
    chain_lift = lift_matrix(bought)
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(spend.members):
        groups.setdefault(segment_of.get(m, ""), []).append(i)
    out = Suggestions([], [], [], [])
    for indices in groups.values():
        part = bought[np.array(indices)]
        lift = lift_matrix(part) if len(indices) >= MIN_SEGMENT else chain_lift
        for start in range(0, len(indices), CHUNK):
            chunk = part[start : start + CHUNK]
            _top(chunk, lift, np.array(indices[start : start + CHUNK]), out)
    return Suggestions(out.member, out.rank, [named[j] for j in out.category], out.lift)


def suggestion_rows(
    spend: Sequence[tuple[str, str, int, int]], segment_of: Mapping[str, str], day: dt.date
) -> list[dict[str, Any]]:
    """Return each member's likely next categories as rows (rank 1 = most likely)."""
    gathered = Spend.of(spend)
    found = suggestions(gathered, segment_of)
    return [
        {
            "member_id": gathered.members[m],
            "rank": rank,
            "computed_on": day,
            "category": gathered.categories[c],
            "lift": lift,
        }
        for m, rank, c, lift in zip(
            found.member, found.rank, found.category, found.lift, strict=True
        )
    ]


def _top(
    chunk: sparse.csr_matrix, lift: npt.NDArray[np.float64], members: Ints, out: Suggestions
) -> None:
    have = np.asarray(chunk.sum(axis=1)).ravel()
    scores = np.asarray(chunk @ lift) / np.maximum(have, 1.0)[:, None]
    scores[chunk.toarray() > 0] = -np.inf  # only what they have not bought
    best = np.argsort(-scores, axis=1, kind="stable")[:, :SUGGESTIONS]
    picked = np.take_along_axis(scores, best, axis=1)
    rows, ranks = np.nonzero(picked > 1.0)  # row-major: member by member, rank by rank
    out.member.extend(members[rows].tolist())
    out.rank.extend((ranks + 1).tolist())
    out.category.extend(best[rows, ranks].tolist())
    out.lift.extend(_round4(picked[rows, ranks]).tolist())


@dataclass(frozen=True)
class Chosen:
    """What ``store_preferences`` wrote, as columns, for the per-store sums."""

    affinities: Columns
    suggestions: Columns
    incentives: list[dict[str, Any]]


def store_preferences(
    conn: sa.Connection,
    as_of: dt.datetime,
    segments: Mapping[str, str],
    spend: Spend | None = None,
    incentives: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, int], Chosen]:
    """Replace members' category affinities, suggestions and incentive answers; count them.

    ``segments`` maps each analysed member to their segment (suggestions are per segment);
    ``spend`` is ``spend_columns``'s answer and ``incentives`` ``incentive_rows``', if the
    caller has them already.
    """
    day = as_of.date()
    spend = spend_columns(conn, as_of) if spend is None else spend
    found = affinities(spend, day)
    suggested = suggestions(spend, segments)
    incentives = incentive_rows(conn, as_of) if incentives is None else incentives
    members, categories = spend.members, spend.categories
    n_rows, n_suggested = len(spend.member), len(suggested.member)
    # Arrays, not lists: millions of rows, turned into Python values a chunk at a time
    # as they are written (``insert_columns``).
    affinity = Columns(
        {
            "member_id": np.array(members, dtype=object)[spend.member],
            "category": np.array(categories, dtype=object)[spend.category],
            "computed_on": [day] * n_rows,
            "purchases": spend.purchases,
            "amount_rial": spend.rial,
            "share": found.share,
            "affinity": found.affinity,
        }
    )
    likely = Columns(
        {
            "member_id": [members[m] for m in suggested.member],
            "rank": suggested.rank,
            "computed_on": [day] * n_suggested,
            "category": [categories[c] for c in suggested.category],
            "lift": suggested.lift,
        }
    )
    for table, rows in ((member_categories, affinity), (member_suggestions, likely)):
        conn.execute(sa.delete(table))
        insert_columns(conn, table, rows.columns)
    conn.execute(sa.delete(member_incentives))
    if incentives:
        conn.execute(sa.insert(member_incentives), incentives)
    counts = {
        "member_categories": n_rows,
        "suggestions": n_suggested,
        "incentives": len(incentives),
        "categories": len(found.chain),
    }
    return counts, Chosen(affinity, likely, incentives)


# Actions the member never sees: not an incentive they could answer.
NOT_OFFERS = frozenset({"owner_note"})


def _action_types(conn: sa.Connection) -> dict[str, set[str]]:
    types = {}
    for scenario_id, definition in conn.execute(sa.select(scenarios.c.id, scenarios.c.definition)):
        try:
            actions = json.loads(definition).get("actions", [])
        except (ValueError, AttributeError):
            actions = []
        types[scenario_id] = {
            a["type"]
            for a in actions
            if isinstance(a, dict) and "type" in a and a["type"] not in NOT_OFFERS
        }
    return types


def incentive_rows(conn: sa.Connection, as_of: dt.datetime) -> list[dict[str, Any]]:
    """Return offers, responses and response rate per member and incentive type."""
    window = dt.timedelta(days=RESPONSE_DAYS)
    acted = sa.and_(
        scenario_entries.c.outcome.like("acted%"),
        scenario_entries.c.arm != "control",
        scenario_entries.c.created_at <= as_of - window,
    )
    entries = list(
        conn.execute(
            sa.select(
                scenario_entries.c.member_id,
                scenario_entries.c.scenario_id,
                scenario_entries.c.outcome,
                scenario_entries.c.created_at,
            ).where(acted)
        )
    )
    if not entries:
        return []
    buying = (
        sa.select(sales.c.member_id, sales.c.received_at)
        .where(
            sales.c.refunded_at.is_(None),
            sales.c.received_at <= as_of,
            sales.c.member_id.in_(sa.select(scenario_entries.c.member_id).where(acted)),
        )
        .order_by(sales.c.member_id, sales.c.received_at)
    )
    times: dict[str, list[dt.datetime]] = {}
    for member, at in conn.execute(buying):
        times.setdefault(member, []).append(_aware(at))
    types = _action_types(conn)
    counts: dict[tuple[str, str], list[int]] = {}
    for member, scenario_id, outcome, created in entries:
        start = _aware(created)
        bought = times.get(member, [])
        k = bisect.bisect_right(bought, start)
        answered = k < len(bought) and bought[k] <= start + window
        for kind in types.get(scenario_id, set()):
            if kind == "sms" and outcome.endswith("sms_skipped"):
                continue
            entry = counts.setdefault((member, kind), [0, 0])
            entry[0] += 1
            entry[1] += int(answered)
    day = as_of.date()
    return [
        {
            "member_id": member,
            "incentive": kind,
            "computed_on": day,
            "offers": offers,
            "responses": responses,
            "response_rate": round(responses / offers, 4),
        }
        for (member, kind), (offers, responses) in sorted(counts.items())
    ]
