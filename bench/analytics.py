"""BG/NBD fit time on simulated members with whole-day histories, and, when the optional
``lifetimes`` library is installed (``pip install -e '.[analytics-compare]'``), its time
and parameters on the same data, side by side."""

from __future__ import annotations

import statistics
import time

import numpy as np

from cloud.analytics.clv import BGNBD, Summary, fit_bgnbd
from tests.support.clv_simulation import simulate

MEMBERS = (10_000, 100_000)
TRUE = (0.25, 4.0, 0.8, 2.5)  # r, alpha (weeks), a, b
RUNS = 3


def _whole_days(n: int) -> Summary:
    weeks = simulate(n, 52.0, TRUE, seed=2026)
    recency = np.round(weeks.recency * 7) / 7  # purchases fall on days
    return Summary(weeks.members, weeks.frequency, recency, weeks.T, weeks.monetary)


def _time(fit: object, runs: int = RUNS) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fit()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _lifetimes(s: Summary) -> tuple[float, BGNBD] | None:
    try:
        from lifetimes import BetaGeoFitter
    except Exception as exc:
        print(f"  lifetimes not available ({type(exc).__name__}: {exc}); no comparison")
        return None

    def fit() -> BGNBD:
        model = BetaGeoFitter().fit(s.frequency, s.recency, s.T)
        p = model.params_
        return BGNBD(float(p["r"]), float(p["alpha"]), float(p["a"]), float(p["b"]))

    seconds, params = _time(fit)
    assert isinstance(params, BGNBD)
    return seconds, params


def _show(label: str, seconds: float, p: BGNBD) -> None:
    print(
        f"  {label:<10} {seconds * 1000:9.1f} ms  "
        f"r={p.r:.4f} alpha={p.alpha:.4f} a={p.a:.4f} b={p.b:.4f}"
    )


def main() -> None:
    """Print BG/NBD fit medians (ours, lifetimes) and the parameters' largest relative gap."""
    for n in MEMBERS:
        s = _whole_days(n)
        print(
            f"BG/NBD fit, {n:,} members ({int(np.count_nonzero(s.frequency)):,} repeat), "
            f"median of {RUNS}; true r={TRUE[0]} alpha={TRUE[1]} a={TRUE[2]} b={TRUE[3]}"
        )
        ours_s, ours = _time(lambda s=s: fit_bgnbd(s))
        assert isinstance(ours, BGNBD)
        _show("vafa", ours_s, ours)
        theirs = _lifetimes(s)
        if theirs is None:
            continue
        theirs_s, params = theirs
        _show("lifetimes", theirs_s, params)
        gap = max(
            abs(getattr(ours, k) - getattr(params, k)) / abs(getattr(params, k))
            for k in ("r", "alpha", "a", "b")
        )
        print(
            f"  time ratio lifetimes/vafa {theirs_s / ours_s:.1f}x; largest parameter gap {gap:.2%}"
        )


if __name__ == "__main__":
    main()
