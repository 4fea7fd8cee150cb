"""BG/NBD fit time on simulated members with whole-day histories, and, when the optional
``lifetimes`` library is installed (``pip install -e '.[analytics-compare]'``), its time
and parameters on the same data, side by side."""

from __future__ import annotations

import datetime as dt
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from cloud.analytics.clv import BGNBD, Summary, fit_bgnbd
from cloud.analytics.run import run_analytics
from cloud.storage import make_engine, migrate
from cloud.tables import events, members, sales, stores, terminals
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
    full_pass()


PASS_MEMBERS, PASS_ORDERS = 20_000, 200_000
AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _fill(engine: sa.Engine, rng: np.random.Generator) -> None:
    start = AS_OF - dt.timedelta(days=730)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(stores),
            [{"id": f"s{k}", "name": f"store {k}", "created_at": start} for k in range(5)],
        )
        conn.execute(
            sa.insert(terminals),
            [
                {"id": f"t{k}", "store_id": f"s{k}", "public_key": f"k{k}", "created_at": start}
                for k in range(5)
            ],
        )
        conn.execute(
            sa.insert(members),
            [
                {
                    "id": f"m{i}",
                    "card_code": f"c{i}",
                    "mobile_hmac": i.to_bytes(32, "big"),
                    "mobile_enc": b"x",
                    "name_enc": b"x",
                    "home_store_id": f"s{i % 5}",
                    "marketing_consent": True,
                    "enrolled_at": start,
                }
                for i in range(PASS_MEMBERS)
            ],
        )
        buyer = rng.integers(0, PASS_MEMBERS, PASS_ORDERS)
        minute = rng.integers(0, 730 * 24 * 60, PASS_ORDERS)
        amount = rng.integers(10, 5_000, PASS_ORDERS) * 10_000
        channels = ("store", "store", "store", "instagram", "website", "whatsapp")
        for lo in range(0, PASS_ORDERS, 20_000):
            span = range(lo, min(lo + 20_000, PASS_ORDERS))
            at = [start + dt.timedelta(minutes=int(minute[j])) for j in span]
            conn.execute(
                sa.insert(events),
                [
                    {
                        "id": f"e{j}",
                        "terminal_id": f"t{buyer[j] % 5}",
                        "seq": j,
                        "kind": "sale",
                        "digest": "d",
                        "received_at": at[j - lo],
                    }
                    for j in span
                ],
            )
            conn.execute(
                sa.insert(sales),
                [
                    {
                        "id": f"s{j}",
                        "event_id": f"e{j}",
                        "member_id": f"m{buyer[j]}",
                        "store_id": f"s{buyer[j] % 5}",
                        "terminal_id": f"t{buyer[j] % 5}",
                        "receipt_no": j,
                        "amount_rial": int(amount[j]),
                        "points_earned": 0,
                        "points_redeemed": 0,
                        "channel": channels[j % 6],
                        "terminal_time": "",
                        "received_at": at[j - lo],
                    }
                    for j in span
                ],
            )


def full_pass() -> None:
    """Print the time and peak memory of one `analytics run` pass on SQLite."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'cloud.db'}")
        migrate(engine)
        _fill(engine, np.random.default_rng(2026))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        result = run_analytics(engine, AS_OF)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        engine.dispose()
    print(
        f"full analytics pass (SQLite), {PASS_MEMBERS:,} members, {PASS_ORDERS:,} orders: "
        f"{seconds:.2f} s, {result['members']:,} members stored, "
        f"CLV fitted {result['clv_fitted']}; "
        f"peak RSS {peak / 1024:.0f} MB (before the pass {before / 1024:.0f} MB)"
    )


if __name__ == "__main__":
    main()
