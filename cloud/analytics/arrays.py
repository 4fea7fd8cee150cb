"""Arrays for the analytics' numpy code: distinct values, codes for strings, times and sums
as the database driver gives them.

``np.unique`` without ``return_inverse``/``return_counts`` goes through a hash table in
numpy 2.3 and later, which is 60 times slower than sorting on a million int64 values
(1.2 s against 0.02 s CPU), and ``np.unique(axis=0)`` is 10 times slower than a lexsort.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

Ints = npt.NDArray[np.int64]


def distinct(values: Ints) -> Ints:
    """Return the distinct values, sorted."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def distinct_rows(matrix: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], Ints]:
    """Return the distinct rows of a 2-D array (sorted) and each row's index among them."""
    if not len(matrix):
        return matrix, np.zeros(0, dtype=np.int64)
    order = np.lexsort(matrix.T[::-1])  # the first column is the primary key
    ordered = matrix[order]
    new = np.empty(len(ordered), dtype=bool)
    new[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=new[1:])
    which = np.empty(len(matrix), dtype=np.int64)
    which[order] = np.cumsum(new) - 1
    return ordered[new], which


class Coder:
    """Dense integer codes for values met chunk by chunk (member ids of ten million sales).

    A dict's ``setdefault`` per value costs a Python call each, a second per million. Here
    each value is keyed by its hash, computed at C speed by ``map``, and the keys made
    dense by one sort at the end; only the distinct values are kept, not every row's. A
    value new to the coder is checked against the value already holding its hash: should
    two share one (once in billions), the newcomer gets a key of its own, and the rows
    with that hash are keyed one by one from then on (earlier rows can only be the first
    value). Codes follow the keys' order, arbitrary but fixed within the process.
    """

    def __init__(self) -> None:
        self._keys: list[Ints] = []
        self._by_key: dict[int, Any] = {}
        self._seen: set[Any] = set()
        self._shared: dict[int, dict[Any, int]] = {}  # a hash two values have → their keys

    def add(self, values: Sequence[Any]) -> None:
        """Take a chunk of values."""
        keys = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
        new = set(values).difference(self._seen)
        for value in new:  # a million members in all, however many rows they have
            self._register(value)
        self._seen.update(new)
        if self._shared:
            for i in np.flatnonzero(np.isin(keys, list(self._shared))).tolist():
                keys[i] = self._shared[int(keys[i])][values[i]]
        self._keys.append(keys)

    def _register(self, value: Any) -> None:
        key = hash(value)
        holder = self._by_key.setdefault(key, value)
        if holder is value or holder == value:
            return
        own = -1
        while own in self._by_key:
            own -= 1
        self._by_key[own] = value
        self._shared.setdefault(key, {holder: key})[value] = own

    def codes(self) -> tuple[list[Any], Ints]:
        """Return the distinct values and each value's code (its index among them)."""
        if not self._keys:
            return [], np.zeros(0, dtype=np.int64)
        distinct_keys, codes = np.unique(np.concatenate(self._keys), return_inverse=True)
        by_key = self._by_key
        return [by_key[k] for k in distinct_keys.tolist()], codes.astype(np.int64)


def contiguous_codes(values: list[str]) -> tuple[list[str], Ints]:
    """Return the distinct values in the order they come and each value's code.

    For rows a query orders by member: a new code starts where the value changes
    (compared at C speed). Should a value come back after another, which such a query
    rules out, each value is coded by a dict instead.
    """
    column = np.array(values, dtype=object)
    starts = np.ones(len(column), dtype=bool)
    if len(column) > 1:
        starts[1:] = column[1:] != column[:-1]
    if int(starts.sum()) == len(set(values)):
        return column[starts].tolist(), np.cumsum(starts, dtype=np.int64) - 1
    known: dict[str, int] = {}
    codes = np.array([known.setdefault(v, len(known)) for v in values], np.int64)
    return list(known), codes


def ints(values: Sequence[Any]) -> Ints:
    """Return SQL counts or sums as int64 (a sum of nothing is NULL; PostgreSQL's are
    Decimals)."""
    if all(type(v) is int for v in values):
        return np.array(values, dtype=np.int64)
    return np.array([int(v or 0) for v in values], dtype=np.int64)


def time_column(conn: sa.Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """Select a time for ``micros_of``: SQLite's stored text (UTC, no zone), parsed by numpy
    a chunk at a time, or elsewhere seconds since the epoch; a datetime made per row,
    then its timestamp, was more than half of reading a million sales."""
    if conn.dialect.name == "sqlite":
        return sa.cast(column, sa.String)
    return sa.cast(sa.extract("epoch", column), sa.Float)


def micros_of(values: Sequence[Any], conn: sa.Connection) -> Ints:
    """Return ``time_column`` values as whole microseconds since the epoch."""
    if conn.dialect.name == "sqlite":
        return np.array(values, dtype="datetime64[us]").astype(np.int64)
    return np.round(np.array(values, dtype=np.float64) * 1e6).astype(np.int64)
