"""The reliability harness itself, at a small scale, so `make reliability` cannot rot.

The full runs (hundreds of kills, minutes of chaos, tens of thousands of sales) are in
`make reliability` and docs/reliability.md; these prove the same code paths work and that
each scenario really checks what it claims.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from bench.reliability import chaos, crash, load, soak


def test_the_crash_scenario_kills_syncs_and_compares_with_the_cloud() -> None:
    with tempfile.TemporaryDirectory() as tmp:  # the cloud process needs a short, open path
        report = crash.run(Path(tmp), kills=6, seed=7)
    assert report.kills == 6
    assert report.terminal_sales == report.cloud_sales >= report.confirmed_sales > 0
    assert report.events > report.terminal_sales  # enrolments and refunds travel too


def test_the_chaos_scenario_meets_every_fault_and_ends_exact() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = chaos.run(Path(tmp), terminals=2, seconds=4, seed=3)
    assert report.terminals == 2 and report.sales > 0
    assert all(report.faults[name] > 0 for name in chaos.FAULTS)


def test_the_soak_scenario_samples_memory_every_thousand_sales() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = soak.run(Path(tmp), sales=1000)
    assert [n for n, _ in report.samples] == [0, 1000]
    assert 20 < report.start_mb < report.end_mb < 200


@pytest.mark.postgres
def test_the_load_scenario_runs_gunicorn_workers_on_postgresql() -> None:
    report = load.run(terminals=6, workers=2, sales_each=4)
    assert (report.terminals, report.events, report.errors) == (6, 30, 0)
    assert report.requests == 6 * 2  # one batch each, then one pull each
    assert 0 < report.p50_ms <= report.p99_ms <= report.max_ms
