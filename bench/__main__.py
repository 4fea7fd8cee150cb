"""Run every benchmark and print its figures."""

from __future__ import annotations

import sys

from bench import analytics, cashier_path, cloud_ingest, sync_drain

BENCHMARKS = {
    "cashier_path": cashier_path.main,
    "sync_drain": sync_drain.main,
    "cloud_ingest": cloud_ingest.main,
    "analytics": analytics.main,
}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        print(f"== {name}", flush=True)
        BENCHMARKS[name]()
