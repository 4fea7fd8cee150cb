"""The sort-based distinct helpers give what np.unique gives."""

from __future__ import annotations

import numpy as np

from cloud.analytics.arrays import distinct, distinct_rows


def test_distinct_matches_np_unique() -> None:
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 1000):
        values = rng.integers(-5, 50, n)
        assert distinct(values).tolist() == np.unique(values).tolist()


def test_distinct_rows_match_np_unique_axis0_with_inverse() -> None:
    rng = np.random.default_rng(8)
    matrix = rng.integers(0, 3, (500, 3))
    rows, which = distinct_rows(matrix)
    expected, inverse = np.unique(matrix, axis=0, return_inverse=True)
    assert rows.tolist() == expected.tolist()
    assert which.tolist() == inverse.ravel().tolist()
    assert (rows[which] == matrix).all()
    floats = np.array([[1.5, 0.0], [0.5, 2.0], [1.5, 0.0]])
    rows, which = distinct_rows(floats)
    assert rows.tolist() == [[0.5, 2.0], [1.5, 0.0]]
    assert which.tolist() == [1, 0, 1]
    empty, none = distinct_rows(np.zeros((0, 2), dtype=np.int64))
    assert len(empty) == 0 and len(none) == 0
