"""The pass's spend and grid read by a second process: the same figures as read in place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.analytics import aside
from cloud.analytics.aside import AsideFailed, Reads, shareable, worth_it
from cloud.analytics.demo import fill
from cloud.analytics.run import run_analytics
from cloud.storage import make_engine, migrate
from cloud.tables import (
    analytics_categories,
    analytics_cohorts,
    analytics_kpis,
    analytics_runs,
    member_analytics,
    member_categories,
    member_incentives,
    member_suggestions,
)
from common.pii import PiiVault

AS_OF = dt.datetime(2026, 11, 30, 20, tzinfo=dt.UTC)
COMPARED = (
    analytics_kpis,
    analytics_cohorts,
    analytics_categories,
    member_categories,
    member_suggestions,
    member_incentives,
    member_analytics,
)


def _tables(engine: sa.Engine) -> dict[str, list[Any]]:
    with engine.connect() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t))) for t in COMPARED}


def test_reading_aside_stores_what_reading_in_place_does(cloud_app_any: Flask) -> None:
    context = cloud_app_any.extensions["vafa"]
    engine, vault = context.engine, context.vault
    fill(engine, vault, 200, seed=11, as_of=AS_OF)
    in_place = run_analytics(engine, AS_OF, vault, aside=False)
    before = _tables(engine)
    read_aside = run_analytics(engine, AS_OF, vault, aside=True)  # a rerun replaces the day
    assert in_place["read_aside"] is False and read_aside["read_aside"] is True
    assert before["analytics_kpis"] and before["member_categories"]  # something compared
    assert before["member_incentives"]
    assert _tables(engine) == before
    for key in ("chain", "chain_months", "store_months", "cohorts", "preferences", "segments"):
        assert read_aside[key] == in_place[key], key
    assert "kpi_grid_wait" in read_aside["steps"] and "kpi_grid" in in_place["steps"]
    figures = read_aside["aside_figures"]  # as the other process measured itself
    assert figures["spend_cpu_s"] > 0 and figures["grid_cpu_s"] > 0
    assert figures["peak_rss_mb"] > 10 and in_place["aside_figures"] == {}
    with engine.connect() as conn:
        runs = conn.execute(sa.select(sa.func.count()).select_from(analytics_runs)).scalar()
    assert runs == 1


def test_a_failed_reading_process_fails_the_pass_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cloud.db'}")
    migrate(engine)
    # The other process is handed a database without tables: its first read fails.
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    started = Reads.start
    monkeypatch.setattr(Reads, "start", classmethod(lambda cls, _e, at: started(empty, at)))
    with pytest.raises(AsideFailed, match="no such table"):
        run_analytics(engine, AS_OF, aside=True)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(analytics_runs)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(analytics_kpis)).scalar() == 0


def test_a_dead_reading_process_is_reported(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cloud.db'}")
    migrate(engine)
    reads = Reads.start(engine, AS_OF)
    assert reads.aside
    reads._process.kill()  # type: ignore[union-attr]  # as the kernel's OOM killer would
    with engine.connect() as conn, pytest.raises(AsideFailed, match="died"):
        reads.grid(conn, AS_OF)
    reads.close()


def test_only_a_large_chain_in_a_shared_database_is_read_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not shareable(sa.create_engine("sqlite://"))
    assert not shareable(sa.create_engine("sqlite:///:memory:"))
    assert shareable(sa.create_engine("postgresql+psycopg://u@h/db"))
    engine = make_engine(f"sqlite:///{tmp_path / 'cloud.db'}")
    migrate(engine)
    fill(engine, PiiVault(b"k" * 32), 30, seed=1, as_of=AS_OF)
    assert not worth_it(engine)
    monkeypatch.setattr(aside, "ASIDE_FROM_MEMBERS", 30)
    assert worth_it(engine)
    assert run_analytics(engine, AS_OF)["read_aside"] is True
