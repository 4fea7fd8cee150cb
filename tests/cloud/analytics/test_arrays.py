"""Sort-based distinct values and hash-based string codes for the analytics' numpy code."""

from __future__ import annotations

import numpy as np

from cloud.analytics.arrays import Coder, contiguous_codes, distinct, distinct_rows


def test_distinct_values_and_rows_are_sorted_with_each_rows_index() -> None:
    assert distinct(np.array([3, 1, 3, 2, 1])).tolist() == [1, 2, 3]
    rows, which = distinct_rows(np.array([[2, 1], [1, 5], [2, 1], [1, 4]]))
    assert rows.tolist() == [[1, 4], [1, 5], [2, 1]]
    assert which.tolist() == [2, 1, 2, 0]


def test_codes_are_dense_and_name_their_values_across_chunks() -> None:
    coder = Coder()
    coder.add(("m1", "m2", "m1"))
    coder.add(("m3", "m2"))
    values, codes = coder.codes()
    assert sorted(values) == ["m1", "m2", "m3"]
    assert [values[c] for c in codes.tolist()] == ["m1", "m2", "m1", "m3", "m2"]
    assert Coder().codes()[0] == []


def test_codes_of_sorted_runs_and_of_values_that_come_back() -> None:
    values, codes = contiguous_codes(["m1", "m1", "m2", "m3", "m3"])
    assert (values, codes.tolist()) == (["m1", "m2", "m3"], [0, 0, 1, 2, 2])
    values, codes = contiguous_codes(["m2", "m1", "m2"])  # not in runs: coded by a dict
    assert (values, codes.tolist()) == (["m2", "m1"], [0, 1, 0])


class _Clash(str):
    """A string whose hash clashes with every other's, as two member ids' hashes might."""

    def __hash__(self) -> int:
        return 7


def test_values_sharing_a_hash_still_get_codes_of_their_own() -> None:
    coder = Coder()
    coder.add((_Clash("a"), _Clash("a")))
    coder.add((_Clash("b"), _Clash("a"), _Clash("c")))  # newcomers with the same hash
    coder.add((_Clash("c"), _Clash("b")))
    values, codes = coder.codes()
    assert sorted(values) == ["a", "b", "c"]
    assert [values[c] for c in codes.tolist()] == ["a", "a", "b", "a", "c", "c", "b"]
