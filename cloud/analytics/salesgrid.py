"""Sales figures and active members per store and Jalali month, from one read of the sales.

The SQL versions scanned the kept sales four times (figures per store and chain-wide, each
with a window for the first purchase; active members with one ``count(DISTINCT CASE …)``
per month and window) and took 9.4 s of a 23 s pass at 20,000 members. Here the kept sales
are read once into arrays and everything is counted with numpy: months by binary search
on the month boundaries, distinct buyers by unique (store, month, member) keys, active
members by slicing the time-sorted sales at each month's end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from cloud.analytics.arrays import Coder, distinct, micros_of, time_column
from cloud.analytics.bulk import driver_chunks
from cloud.tables import members, sales

Key = tuple[str, str]  # (store, month)
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


_NOTHING = np.zeros(0, np.int64)


class KeptSales:
    """The kept sales up to a moment, as arrays sorted by time."""

    def __init__(self, conn: sa.Connection, as_of: dt.datetime) -> None:
        # Read as the driver gives them, a chunk at a time into arrays, and sorted here.
        query = sa.select(
            time_column(conn, sales.c.received_at),
            sales.c.member_id,
            sales.c.store_id,
            sales.c.amount_rial,
            sales.c.points_earned,
            sales.c.points_redeemed,
        ).where(sales.c.refunded_at.is_(None), sales.c.received_at <= as_of)
        member_coder, store_coder = Coder(), Coder()
        parts: list[list[npt.NDArray[Any]]] = []
        for chunk in driver_chunks(conn, query):
            at, member, store, amount, earned, redeemed = zip(*chunk, strict=True)
            member_coder.add(member)
            store_coder.add(store)
            parts.append(
                [
                    _seconds(at, conn),
                    *(np.array(v, dtype=np.int64) for v in (amount, earned, redeemed)),
                ]
            )
        self.member_ids, member_codes = member_coder.codes()
        self.store_names, store_codes = store_coder.codes()
        # A column at a time, each chunk's piece let go once joined and the joined column
        # once ordered: nine million sales' columns are held about once, not three times.
        times = _taken(parts, 0).astype(np.float64, copy=False)
        order = np.argsort(times, kind="stable")  # in time order
        self.at: Floats = times[order]
        del times
        self.members: Ints = member_codes[order]
        self.stores: Ints = store_codes[order]
        self.amount: Ints = _taken(parts, 1)[order]
        self.earned: Ints = _taken(parts, 2)[order]
        self.redeemed: Ints = _taken(parts, 3)[order]

    def first_purchase(self) -> Floats:
        """Return each member code's first kept purchase (seconds since the epoch)."""
        codes, first = np.unique(self.members, return_index=True)  # the sorting path
        out = np.zeros(len(self.member_ids), dtype=np.float64)
        out[codes] = self.at[first]  # sales are in time order: the first index is the first
        return out


def _taken(parts: list[list[npt.NDArray[Any]]], k: int) -> npt.NDArray[Any]:
    """Join column ``k`` of every chunk, letting each chunk's piece go."""
    pieces = [p[k] for p in parts]
    for p in parts:
        p[k] = _NOTHING
    return np.concatenate(pieces) if pieces else np.zeros(0, np.int64)


def _seconds(values: Sequence[Any], conn: sa.Connection) -> Floats:
    return micros_of(values, conn) / 1e6  # the same float as datetime.timestamp() gives


class Enrolled:
    """The members enrolled by a moment: id, home store and when, as columns."""

    def __init__(self, conn: sa.Connection, as_of: dt.datetime) -> None:
        query = sa.select(
            members.c.id, members.c.home_store_id, time_column(conn, members.c.enrolled_at)
        ).where(members.c.enrolled_at <= as_of)
        rows = [row for chunk in driver_chunks(conn, query) for row in chunk]
        ids, stores, at = zip(*rows, strict=True) if rows else ((), (), ())
        self.ids: list[str] = list(ids)
        store_codes: dict[str, int] = {}
        self.stores: Ints = np.array(
            [store_codes.setdefault(s, len(store_codes)) for s in stores], dtype=np.int64
        )
        self.store_names = list(store_codes)
        self.at = _seconds(at, conn)


def _months(kept: KeptSales, starts: Sequence[dt.datetime]) -> Ints:
    return month_index(kept.at, starts)


def month_index(at: Floats, starts: Sequence[dt.datetime]) -> Ints:
    """Return the index of the month (by its start) each moment falls in."""
    bounds = np.array([s.timestamp() for s in starts])
    return (np.searchsorted(bounds, at, side="right") - 1).astype(np.int64)


def enrolment(
    enrolled: Enrolled, kept: KeptSales, keys: Sequence[str], starts: Sequence[dt.datetime]
) -> dict[Key, list[int]]:
    """Return [members enrolled, members activated] per home store and month: a member is
    activated in the later of their enrolment month and their first purchase's month."""
    n_months = len(keys)
    enrol = month_index(enrolled.at, starts)
    first = kept.first_purchase()
    codes = {member: code for code, member in enumerate(kept.member_ids)}
    code = np.fromiter(
        (codes.get(m, -1) for m in enrolled.ids), dtype=np.int64, count=len(enrolled.ids)
    )
    bought = code >= 0
    buy = np.full(len(code), -1, dtype=np.int64)
    buy[bought] = month_index(first, starts)[code[bought]]
    size = len(enrolled.store_names) * n_months
    new = np.bincount(enrolled.stores * n_months + enrol, minlength=size)
    later = np.maximum(enrol, buy)[bought]
    active = np.bincount(enrolled.stores[bought] * n_months + later, minlength=size)
    out: dict[Key, list[int]] = {}
    for c in np.flatnonzero(new + active).tolist():
        store, month = divmod(c, n_months)
        out[(enrolled.store_names[store], keys[month])] = [int(new[c]), int(active[c])]
    return out


def _sums(index: Ints, values: Ints, size: int) -> Ints:
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, values)  # exact integer sums (bincount would go through float)
    return out


def sale_figures(
    kept: KeptSales, keys: Sequence[str], starts: Sequence[dt.datetime], chain: str
) -> dict[Key, list[int]]:
    """Return [sales, revenue, buyers, returning buyers, points earned, points redeemed]."""
    if not len(kept.at):
        return {}
    month = _months(kept, starts)
    n_months = len(keys)
    width = int(kept.members.max()) + 1
    first = np.full(width, n_months, dtype=np.int64)
    np.minimum.at(first, kept.members, month)
    out: dict[Key, list[int]] = {}
    scopes = [(kept.stores, [str(s) for s in kept.store_names])]
    scopes.append((np.zeros_like(kept.stores), [chain]))
    for store_index, names in scopes:
        cell = store_index * n_months + month
        size = len(names) * n_months
        count = np.bincount(cell, minlength=size)
        columns = [_sums(cell, values, size) for values in (kept.amount, kept.earned)]
        redeemed = _sums(cell, kept.redeemed, size)
        # Distinct buyers: one (cell, member) pair each, with whether they had bought before.
        pairs = distinct(cell * width + kept.members)
        pair_cell, pair_member = pairs // width, pairs % width
        buyers = np.bincount(pair_cell, minlength=size)
        back = np.bincount(
            pair_cell, weights=first[pair_member] < pair_cell % n_months, minlength=size
        ).astype(np.int64)
        for c in (int(i) for i in np.flatnonzero(count)):
            out[(names[c // n_months], keys[c % n_months])] = [
                int(count[c]),
                int(columns[0][c]),
                int(buyers[c]),
                int(back[c]),
                int(columns[1][c]),
                int(redeemed[c]),
            ]
    return out


def active_members(
    kept: KeptSales,
    keys: Sequence[str],
    ends: Sequence[dt.datetime],
    windows: Sequence[int],
    chain: str,
) -> dict[Key, list[int]]:
    """Count members buying in each window before each month's end, per store and chain."""
    out: dict[Key, list[int]] = {}
    if not len(kept.at):
        return out
    names = [str(s) for s in kept.store_names]
    width = int(kept.members.max()) + 1
    for key, end in zip(keys, ends, strict=True):
        hi = int(np.searchsorted(kept.at, end.timestamp(), side="right"))
        for w, days in enumerate(windows):
            since = (end - dt.timedelta(days=days)).timestamp()
            lo = int(np.searchsorted(kept.at, since, side="right"))
            members, stores = kept.members[lo:hi], kept.stores[lo:hi]
            per_store = np.bincount(
                distinct(stores * width + members) // width, minlength=len(names)
            )
            for s, name in enumerate(names):
                out.setdefault((name, key), [0] * len(windows))[w] = int(per_store[s])
            out.setdefault((chain, key), [0] * len(windows))[w] = len(distinct(members))
    return out


def cohort_retention(
    kept: KeptSales, keys: Sequence[str], starts: Sequence[dt.datetime]
) -> list[dict[str, Any]]:
    """Return each cohort (month of first purchase) as ``cohorts.retention_matrix`` does."""
    return _retention(kept, keys, starts, np.zeros_like(kept.stores), ["*"]).get("*", [])


def store_cohort_retention(
    kept: KeptSales, keys: Sequence[str], starts: Sequence[dt.datetime]
) -> dict[str, list[dict[str, Any]]]:
    """Return each store's cohorts: members by the month of their first purchase there."""
    return _retention(kept, keys, starts, kept.stores, [str(s) for s in kept.store_names])


def _retention(
    kept: KeptSales,
    keys: Sequence[str],
    starts: Sequence[dt.datetime],
    group: Ints,
    names: Sequence[str],
) -> dict[str, list[dict[str, Any]]]:
    """Count cohorts within each group of sales (a store, or one group for the chain)."""
    if not len(kept.at):
        return {}
    month = _months(kept, starts)
    n_months, n_groups = len(keys), len(names)
    width = int(kept.members.max()) + 1
    # A key per (group, member): their first month in the group, and their months there.
    # Keys index a dense array (groups × member codes) rather than np.unique's inverse:
    # sorting ten million sales twice for it took 30 s at a million members.
    buyer = group * width + kept.members
    first = np.full(n_groups * width, n_months, dtype=np.int32)
    np.minimum.at(first, buyer, month.astype(np.int32))
    pairs = distinct(buyer * n_months + month)  # each buyer once per month
    who, when = pairs // n_months, pairs % n_months
    cohort = first[who].astype(np.int64)
    cells = (who // width * n_months + cohort) * n_months + when - cohort
    counts = np.bincount(cells, minlength=n_groups * n_months * n_months).reshape(
        n_groups, n_months, n_months
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for g, c in zip(*np.nonzero(counts[:, :, 0]), strict=True):
        active = counts[g, c]
        last = int(np.flatnonzero(active).max())
        size = int(active[0])
        out.setdefault(names[g], []).append(
            {
                "cohort": keys[c],
                "members": size,
                "active": [int(a) for a in active[: last + 1]],
                "retention": [round(int(a) / size, 4) for a in active[: last + 1]],
            }
        )
    return out
