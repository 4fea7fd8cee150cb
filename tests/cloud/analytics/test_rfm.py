"""RFM scores: tie-safe quintiles; the segment map covers every score pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloud.analytics.clv import AnalyticsError
from cloud.analytics.rfm import load_segments, quintile_scores, rfm_scores, segment_of


def test_quintiles_of_distinct_values_are_even() -> None:
    scores = quintile_scores(np.arange(10))
    assert list(scores) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_equal_values_always_get_equal_scores() -> None:
    values = [1, 1, 1, 1, 1, 1, 1, 2, 3, 4]  # seven ties would straddle three quintiles
    scores = quintile_scores(values)
    assert len(set(scores[:7])) == 1
    assert list(scores[7:]) == [4, 5, 5]
    assert list(quintile_scores([7, 7, 7])) == [3, 3, 3]


def test_recency_scores_a_short_gap_high() -> None:
    r, f, m = rfm_scores([1, 50, 300, 10, 5], [9, 3, 1, 5, 7], [900, 300, 100, 500, 700])
    assert list(r) == [5, 2, 1, 3, 4]
    assert list(f) == [5, 2, 1, 3, 4]
    assert list(m) == list(f)


def test_every_score_pair_lands_in_a_labelled_segment() -> None:
    segments = load_segments()
    reached = {segment_of(segments, r, f).key for r in range(1, 6) for f in range(1, 6)}
    assert reached == {
        "vip",
        "loyal",
        "potential",
        "new",
        "at_risk",
        "cant_lose",
        "sleeping",
        "lost",
    }
    assert all(s.fa and s.en for s in segments)
    assert segment_of(segments, 5, 1).key == "new"
    assert segment_of(segments, 5, 5).key == "vip"
    assert segment_of(segments, 1, 5).key == "cant_lose"
    assert segment_of(segments, 1, 1).key == "lost"


def test_a_map_with_a_hole_or_a_bad_range_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text('[[segment]]\nkey = "vip"\nen = "VIP"\nfa = "ویژه"\nr = [4, 5]\nf = [1, 5]\n')
    with pytest.raises(AnalyticsError, match="no segment holds r=1, f=1"):
        segment_of(load_segments(path), 1, 1)
    path.write_text('[[segment]]\nkey = "x"\nen = "X"\nfa = "ایکس"\nr = [0, 5]\nf = [1, 5]\n')
    with pytest.raises(AnalyticsError, match="rule 1 \\(x\\) ranges must be 1-5"):
        load_segments(path)
