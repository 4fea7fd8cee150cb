"""Small helpers for reporting timings."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], pct: float) -> float:
    """Return the pct-th percentile (nearest rank) of samples."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def summary_ms(samples: list[float]) -> str:
    """Format p50/p99 of samples given in seconds."""
    return (
        f"p50 {statistics.median(samples) * 1000:.2f} ms, "
        f"p99 {percentile(samples, 99) * 1000:.2f} ms (n={len(samples)})"
    )
