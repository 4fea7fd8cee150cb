"""Run every benchmark (or those named) and print its figures.

Each runs with its own defaults (``python -m bench.<name> ARGS`` takes arguments); the
large runs quoted in docs/benchmarks.md (1,000,000 members for the HQ pages, 100,000 for
the analytics pass, the scenarios and the imports) are given there with their commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bench import (
    analytics,
    cashier_path,
    cloud_ingest,
    enrol_code,
    enrol_form,
    hq_aggregates,
    hq_pages,
    imports,
    owner_pages,
    scenarios,
    sentiment,
    sync_drain,
)

BENCHMARKS: dict[str, Callable[[], Any]] = {
    "cashier_path": cashier_path.main,
    "enrol_form": enrol_form.main,
    "enrol_code": enrol_code.main,
    "owner_pages": owner_pages.main,
    "sync_drain": sync_drain.main,
    "cloud_ingest": cloud_ingest.main,
    "analytics": analytics.main,
    "sentiment": sentiment.main,
    "scenarios": lambda: scenarios.main(20_000),
    "hq_pages": lambda: hq_pages.main(["100000", "20"]),
    "imports": lambda: imports.main(20_000),
    "hq_aggregates": lambda: hq_aggregates.main(["20000"]),
}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(BENCHMARKS)
    for name in chosen:
        print(f"== {name}", flush=True)
        sys.argv = [f"bench.{name}"]  # each reads its own arguments: none here
        BENCHMARKS[name]()
