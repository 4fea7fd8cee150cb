"""The scheduler runs analytics daily, early, before the scenarios of the day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.scenarios.scheduler import build
from cloud.sms.providers import FileProvider
from cloud.tables import analytics_runs
from common.persian import TEHRAN


def test_analytics_job_fires_before_the_scenarios_and_stores_a_run(
    cloud_app_any: Flask, tmp_path: Path
) -> None:
    context = cloud_app_any.extensions["vafa"]
    moment = dt.datetime(2026, 6, 1, 4, 0, tzinfo=TEHRAN)
    scheduler = build(
        context.engine, context.vault, FileProvider(tmp_path / "sms.jsonl"), now=lambda: moment
    )
    analytics, scenarios = scheduler.get_job("analytics"), scheduler.get_job("scenarios")
    assert analytics is not None and scenarios is not None
    after = dt.datetime(2026, 6, 1, 0, 0, tzinfo=TEHRAN)
    first = analytics.trigger.get_next_fire_time(None, after)
    then = scenarios.trigger.get_next_fire_time(None, after)
    assert first == dt.datetime(2026, 6, 1, 4, 0, tzinfo=TEHRAN) and first < then
    assert analytics.misfire_grace_time == 6 * 3600  # started late, it still runs that morning
    analytics.func()
    with context.engine.connect() as conn:
        run = conn.execute(sa.select(analytics_runs)).one()
    assert run.computed_on == dt.date(2026, 6, 1)  # 04:00 Tehran is 00:30 UTC the same day


def test_analytics_after_the_scenarios_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="before the scenarios"):
        build(
            sa.create_engine("sqlite://"),
            None,  # type: ignore[arg-type]
            FileProvider(tmp_path / "sms.jsonl"),
            analytics_at=dt.time(11, 0),
        )
