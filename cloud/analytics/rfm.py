"""RFM scores (1-5, tie-safe quintiles) and the segment map read from ``segments.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import stats

from cloud.analytics.clv import AnalyticsError

SEGMENTS_FILE = Path(__file__).with_name("segments.toml")
Scores = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Segment:
    """One row of the segment map: score ranges and the labels people read."""

    key: str
    en: str
    fa: str
    r: tuple[int, int]
    f: tuple[int, int]

    def holds(self, r: int, f: int) -> bool:
        """Tell whether scores (r, f) fall in this segment's ranges."""
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1]


def load_segments(path: Path = SEGMENTS_FILE) -> tuple[Segment, ...]:
    """Read the segment map; raise naming the rule that is malformed."""
    try:
        rules = tomllib.loads(path.read_text(encoding="utf-8"))["segment"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise AnalyticsError(f"cannot read the segment map {path}: {exc}") from exc
    segments = []
    for i, rule in enumerate(rules, start=1):
        try:
            r, f = tuple(rule["r"]), tuple(rule["f"])
            segment = Segment(str(rule["key"]), str(rule["en"]), str(rule["fa"]), r, f)
        except (KeyError, TypeError) as exc:
            raise AnalyticsError(f"{path}: segment rule {i} lacks {exc}") from exc
        if not all(len(pair) == 2 and 1 <= pair[0] <= pair[1] <= 5 for pair in (r, f)):
            raise AnalyticsError(f"{path}: segment rule {i} ({segment.key}) ranges must be 1-5")
        segments.append(segment)
    return tuple(segments)


def segment_of(segments: tuple[Segment, ...], r: int, f: int) -> Segment:
    """Return the first segment holding scores (r, f)."""
    for segment in segments:
        if segment.holds(r, f):
            return segment
    raise AnalyticsError(f"no segment holds r={r}, f={f}: the segment map has a hole")


def segment_keys(segments: tuple[Segment, ...], r: Scores, f: Scores) -> list[str]:
    """Return every member's segment key from their R and F scores (arrays of 1-5)."""
    keys = np.array([""] * len(r), dtype=object)
    for r_score in range(1, 6):
        for f_score in range(1, 6):
            held = (r == r_score) & (f == f_score)
            if held.any():  # a hole in the map raises only when a member falls in it
                keys[held] = segment_of(segments, r_score, f_score).key
    return list(keys.tolist())


def quintile_scores(values: npt.ArrayLike, higher_is_better: bool = True) -> Scores:
    """Score values 1-5 by quintile of their rank; equal values always get equal scores."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = stats.rankdata(data if higher_is_better else -data, method="average")
    # A tie shares its average rank, so it shares its score: ties never split across bins.
    # The mid-rank percentile puts a set of all-equal values in the middle quintile (3).
    scores: Scores = np.clip(np.floor(5 * (ranks - 0.5) / data.size) + 1, 1, 5).astype(np.int64)
    return scores


def rfm_scores(
    gap_days: npt.ArrayLike, purchases: npt.ArrayLike, value_rial: npt.ArrayLike
) -> tuple[Scores, Scores, Scores]:
    """Return R, F and M scores: a short gap, many purchases and a high value score 5."""
    return (
        quintile_scores(gap_days, higher_is_better=False),
        quintile_scores(purchases),
        quintile_scores(value_rial),
    )
