"""BG/NBD fit time on simulated members with whole-day histories, and, when the optional
``lifetimes`` library is installed (``pip install -e '.[analytics-compare]'``), its time
and parameters on the same data, side by side."""

from __future__ import annotations

import datetime as dt
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from cloud.analytics.clv import BGNBD, Summary, fit_bgnbd
from cloud.analytics.demo import fill
from cloud.analytics.run import run_analytics
from cloud.storage import make_engine, migrate
from common.pii import PiiVault
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


def main(argv: list[str] | None = None) -> None:
    """Print BG/NBD fit medians (ours, lifetimes) and the parameters' largest relative gap.

    ``--pass-only [MEMBERS] [--lines-copied]`` skips the fits and times the full pass alone;
    with ``--lines-copied`` the demo data comes with its sale lines copied already (as after
    a first pass), so a million members need not have ten million events sealed and opened.
    ``--data FILE`` (with ``--pass-only``) keeps the chain after its first pass in FILE (and
    its PII key in FILE.key) and, when FILE exists, starts from a copy of it: a million
    members are generated once, not for every measurement. ``--new-days`` (with
    ``--data``) adds a day of trade before each day's pass, as the chain's last day again.
    """
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--pass-only"]:
        rest = args[1:]
        data = None
        if "--data" in rest:
            at = rest.index("--data")
            data = Path(rest[at + 1])
            del rest[at : at + 2]
        copied = "--lines-copied" in rest
        new_days = "--new-days" in rest
        sizes = [a for a in rest if a not in ("--lines-copied", "--new-days")]
        members = int(sizes[0]) if sizes else PASS_MEMBERS
        if data is None:
            full_pass(members, lines_copied=copied)
        else:
            kept_pass(data, members, lines_copied=copied, new_days=new_days)
        return
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


PASS_MEMBERS, PASS_SEED = 20_000, 2026
AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def full_pass(members: int = PASS_MEMBERS, lines_copied: bool = False) -> None:
    """Print the time and peak memory of one `analytics run` pass on SQLite, then the next
    day's (the daily case: the lines of older events are copied already).

    The data comes from ``vafa-cloud analytics demo-data`` (``cloud.analytics.demo``):
    stores, members with demographics, two years of sealed sale events with lines, ledger
    postings, refunds, feedback and scenario entries, so the pass does all it does in
    production (lines copied out of the events, preferences, sentiment, HQ aggregates).
    """
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'cloud.db'}")
        migrate(engine)
        vault = PiiVault(secrets.token_bytes(32))
        _filled(engine, vault, members, lines_copied)
        _timed("first analytics pass (SQLite)", engine, AS_OF, vault)
        _timed("next day's pass", engine, AS_OF + dt.timedelta(days=1), vault)
        engine.dispose()


def _filled(engine: sa.Engine, vault: PiiVault, members: int, lines_copied: bool) -> None:
    """Fill the demo chain and print its size, time and peak memory."""
    start, cpu = time.perf_counter(), time.process_time()
    counts = fill(engine, vault, members, PASS_SEED, AS_OF, lines_copied=lines_copied, chunked=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"demo data: {counts['members']:,} members, {counts['sales']:,} sales, "
        f"{counts['lines']:,} lines{' (copied)' if lines_copied else ''}, "
        f"{counts['feedback']:,} answers in {time.perf_counter() - start:.1f} s "
        f"({time.process_time() - cpu:.1f} s CPU); peak RSS {peak / 1024:.0f} MB",
        flush=True,
    )


def kept_pass(data: Path, members: int, lines_copied: bool, new_days: bool = False) -> None:
    """Time the next two days' passes on a copy of the chain kept in ``data`` (generated and
    analysed once, as of AS_OF, when the file does not exist yet), each after a day of
    trade when ``new_days``."""
    key = data.with_name(data.name + ".key")
    if not data.exists():
        part = data.with_name(data.name + ".part")
        part.unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{part}")
        migrate(engine)
        secret = secrets.token_bytes(32)
        _filled(engine, PiiVault(secret), members, lines_copied)
        _timed("first pass", engine, AS_OF, PiiVault(secret))
        engine.dispose()
        key.write_bytes(secret)
        part.rename(data)
    vault = PiiVault(key.read_bytes())
    with tempfile.TemporaryDirectory(dir=data.parent) as folder:
        copy = Path(folder) / "cloud.db"
        shutil.copyfile(data, copy)
        engine = make_engine(f"sqlite:///{copy}")
        migrate(engine)
        for day in (1, 2):
            if new_days:
                _trade_a_day(engine, day)
            _timed(f"day {day} after", engine, AS_OF + dt.timedelta(days=day), vault)
        engine.dispose()


DAY = dt.timedelta(days=1)


def _shifted(column: str, days: int) -> str:
    """SQLite: a stored moment (``YYYY-MM-DD HH:MM:SS.ffffff``) ``days`` later."""
    return f"strftime('%Y-%m-%d %H:%M:%S', {column}, '+{days} days') || substr({column}, 20)"


def _trade_a_day(engine: sa.Engine, day: int) -> None:
    """Add day ``day`` after AS_OF to a kept SQLite chain: the chain's last day again (its
    sales, lines, events and ledger postings, under new ids, received a day later each)
    and a refund of one in sixty of the previous day's sales; the lines as copied."""
    since, until = (f"{moment:%Y-%m-%d %H:%M:%S}" for moment in (AS_OF - DAY, AS_OF))
    last_day = f"received_at > '{since}' AND received_at <= '{until}'"
    shift = _shifted("received_at", day)
    new = f"|| '-{day}'"
    far = day * 1_000_000_000
    sql = [
        f"INSERT INTO events (id, terminal_id, seq, kind, digest, body_enc, received_at) "
        f"SELECT id {new}, terminal_id, seq + {far}, kind, digest, NULL, {shift} "
        f"FROM events WHERE {last_day}",
        f"INSERT INTO ledger_entries (id, event_id, kind, reverses, memo) "
        f"SELECT l.id {new}, l.event_id {new}, l.kind, NULL, l.memo FROM ledger_entries l "
        f"WHERE l.event_id IN (SELECT id FROM events WHERE {last_day})",
        f"INSERT INTO ledger_postings (entry_id, account, amount) "
        f"SELECT p.entry_id {new}, p.account, p.amount FROM ledger_postings p "
        f"WHERE p.entry_id IN (SELECT l.id FROM ledger_entries l WHERE l.event_id IN "
        f"(SELECT id FROM events WHERE {last_day}))",
        f"INSERT INTO sales (id, event_id, member_id, store_id, terminal_id, receipt_no, "
        f"amount_rial, points_earned, points_redeemed, credit_redeemed_rial, coupon_code, "
        f"coupon_rial, channel, terminal_time, received_at, refunded_at) "
        f"SELECT id {new}, event_id {new}, member_id, store_id, terminal_id, receipt_no + {far}, "
        f"amount_rial, points_earned, points_redeemed, credit_redeemed_rial, NULL, coupon_rial, "
        f"channel, terminal_time, {shift}, NULL FROM sales WHERE {last_day} "
        f"AND refunded_at IS NULL",
        f"INSERT INTO sale_lines (sale_id, line_no, member_id, category, sku, quantity, "
        f"amount_rial, received_at) SELECT sale_id {new}, line_no, member_id, category, sku, "
        f"quantity, amount_rial, {shift} FROM sale_lines WHERE sale_id IN "
        f"(SELECT id FROM sales WHERE {last_day} AND refunded_at IS NULL)",
        f"UPDATE sales SET refunded_at = {_shifted('received_at', 1)} WHERE rowid IN "
        f"(SELECT rowid FROM sales WHERE id LIKE '%-{day - 1}' AND rowid % 60 = 0)"
        if day > 1
        else f"UPDATE sales SET refunded_at = {_shifted('received_at', 1)} WHERE rowid IN "
        f"(SELECT rowid FROM sales WHERE {last_day} AND refunded_at IS NULL "
        f"AND rowid % 60 = 0)",
        "UPDATE settings SET value = (SELECT replace(max(received_at), ' ', 'T') || '+00:00' "
        "FROM sale_lines) WHERE key = 'analytics.sale_lines_through'",
    ]
    with engine.begin() as conn:
        counts = [conn.exec_driver_sql(statement).rowcount for statement in sql]
    print(
        f"day {day}: {counts[3]:,} sales, {counts[4]:,} lines, {counts[0]:,} events, "
        f"{counts[2]:,} postings added; {counts[5]:,} sales refunded",
        flush=True,
    )


def _timed(label: str, engine: sa.Engine, as_of: dt.datetime, vault: PiiVault) -> None:
    """Run one pass and print its wall time, CPU and peak memory, and its reading
    process's (``cloud/analytics/aside.py``, as it measured itself), with the sum of the
    two peaks (an upper bound of the two at once)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = run_analytics(engine, as_of, vault)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    aside, both = "", peak
    if figures := result["aside_figures"]:
        aside = (
            " + reading aside: "
            + ", ".join(
                f"{name} {figures[name + '_s']:.2f} s ({figures[name + '_cpu_s']:.2f} s CPU)"
                for name in ("spend", "incentives", "grid")
            )
            + f", peak RSS {figures['peak_rss_mb']} MB"
        )
        both += figures["peak_rss_mb"]
    print(
        f"{label}: {seconds:.2f} s ({cpu:.2f} s CPU{aside}), {result['members']:,} buying "
        f"members, CLV fitted {result['clv_fitted']}, {result['sale_lines_copied']:,} lines "
        f"copied; peak RSS {peak:.0f} MB, both processes at most {both:.0f} MB",
        flush=True,
    )
    _steps(result)


def _steps(result: dict[str, Any]) -> None:
    cpu, peak = result["steps_cpu"], result["steps_peak_mb"]
    print(
        "  steps, wall s (CPU s, the process's peak MB by its end):",
        ", ".join(f"{k} {v:.2f} ({cpu[k]:.2f}, {peak[k]})" for k, v in result["steps"].items()),
    )


if __name__ == "__main__":
    main()
