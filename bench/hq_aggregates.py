"""The HQ aggregates step of the analytics run alone (``store_aggregates`` and
``store_preference_sums``: KPIs, cohorts, feedback, segments, moves, CLV buckets,
demographics, top members, categories, suggestions and incentives, per store and
chain-wide), on the demo chain of ``vafa-cloud analytics demo-data`` in SQLite.

The chain is filled (lines already copied) and analysed once by ``run_analytics``, so
the member rows exist; then the step is run again by itself from those stored rows,
``RUNS`` times, printing wall and CPU seconds each time (the machine is shared: CPU is the
steadier figure).

Usage: ``python -m bench.hq_aggregates [MEMBERS]`` (default 100,000).
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
import tempfile
import time
from pathlib import Path

from bench.hq_pages import run_aggregates
from cloud.analytics.demo import fill
from cloud.analytics.run import run_analytics
from cloud.storage import make_engine, migrate
from common.pii import PiiVault

MEMBERS = 100_000
SEED = 2026
AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
RUNS = 3


def main(argv: list[str] | None = None) -> None:
    """Fill a demo chain, analyse it once, then time the HQ aggregates step alone."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else MEMBERS
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'cloud.db'}")
        migrate(engine)
        vault = PiiVault(secrets.token_bytes(32))
        started = time.perf_counter()
        counts = fill(engine, vault, n, SEED, AS_OF, lines_copied=True)
        print(
            f"demo data: {counts['members']:,} members, {counts['sales']:,} sales"
            f" in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        started = time.perf_counter()
        result = run_analytics(engine, AS_OF, vault)
        print(
            f"one analytics pass: {time.perf_counter() - started:.1f} s"
            f" (its HQ aggregates step {result['steps'].get('hq_aggregates')} s)",
            flush=True,
        )
        for _ in range(RUNS):
            run_aggregates(engine, AS_OF)
        engine.dispose()


if __name__ == "__main__":
    main()
