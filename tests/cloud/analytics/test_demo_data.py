"""The demo-data generator: a whole chain from a seed, that the analytics run digests."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.analytics.clv import AnalyticsError
from cloud.analytics.demo import demo_definitions, fill
from cloud.analytics.run import run_analytics
from cloud.cli import main
from cloud.scenarios.model import parse
from cloud.tables import (
    analytics_demographics,
    analytics_feedback,
    analytics_kpis,
    events,
    feedback,
    member_categories,
    members,
    sales,
)

AS_OF = dt.datetime(2026, 11, 30, 20, tzinfo=dt.UTC)


def test_demo_chain_is_complete_and_the_run_digests_it(cloud_app_any: Flask) -> None:
    context = cloud_app_any.extensions["vafa"]
    engine, vault = context.engine, context.vault
    counts = fill(engine, vault, 300, seed=5, as_of=AS_OF)
    assert counts["members"] == 300 and counts["stores"] == 3
    assert counts["sales"] > 300 and counts["lines"] >= counts["sales"]
    with engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(sales.c.received_at), sa.func.max(sales.c.received_at))
        ).one()
        told = conn.execute(
            sa.select(sa.func.count(members.c.gender), sa.func.count(members.c.birth_year))
        ).one()
        sale_total = conn.execute(sa.select(sa.func.sum(sales.c.amount_rial))).scalar_one()
        body = conn.execute(sa.select(events.c.id, events.c.body_enc).limit(1)).one()
        answers = list(conn.execute(sa.select(feedback)))
    span = last.replace(tzinfo=dt.UTC) - first.replace(tzinfo=dt.UTC)
    assert dt.timedelta(days=600) < span <= dt.timedelta(days=730)  # two years of sales
    assert 0 < told[0] < 300 and 0 < told[1] < 300  # most said, not all
    opened = json.loads(vault.decrypt(body.id, body.body_enc))
    assert opened["kind"] == "sale.completed" and opened["payload"]["items"]
    assert answers and all(0 <= a.nps <= 10 for a in answers)
    assert {a.sentiment for a in answers if a.comment_enc} <= {"positive", "neutral", "negative"}
    result = run_analytics(engine, AS_OF, vault)
    assert result["sale_lines_copied"] == counts["lines"]
    assert result["clv_fitted"] is True
    with engine.connect() as conn:
        revenue = conn.execute(
            sa.select(sa.func.sum(analytics_kpis.c.revenue_rial)).where(
                analytics_kpis.c.store_id == "*"
            )
        ).scalar_one()
        refunded = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(sales.c.amount_rial), 0)).where(
                sales.c.refunded_at.is_not(None)
            )
        ).scalar_one()
        assert conn.scalar(sa.select(sa.func.count()).select_from(member_categories)) > 0
        assert conn.scalar(sa.select(sa.func.count()).select_from(analytics_feedback)) > 0
        ages = conn.execute(
            sa.select(analytics_demographics.c.value).where(
                analytics_demographics.c.dimension == "age"
            )
        ).scalars()
        assert "35_44" in set(ages)
    assert revenue == sale_total - refunded  # every kept sale lands in one month


def test_same_seed_same_chain_and_only_into_an_empty_database(tmp_path: Path) -> None:
    from cloud.app import create_app

    totals = []
    for n in range(2):
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp_path / f'c{n}.db'}",
                "PII_KEY_FILE": str(tmp_path / f"k{n}" / "pii.key"),
                "SECRET_KEY": "t",
                "TESTING": True,
            }
        )
        context = app.extensions["vafa"]
        counts = fill(context.engine, context.vault, 120, seed=11, as_of=AS_OF)
        with context.engine.connect() as conn:
            amounts = list(conn.execute(sa.select(sales.c.amount_rial).order_by(sales.c.id)))
        totals.append((counts, amounts))
        with pytest.raises(AnalyticsError, match="without members"):
            fill(context.engine, context.vault, 10, seed=1, as_of=AS_OF)
        context.engine.dispose()
    assert totals[0] == totals[1]


def test_demo_scenarios_are_valid_and_stay_disabled() -> None:
    for key, definition in demo_definitions().items():
        assert parse(key, definition, enabled=False).actions


def test_demo_data_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    args = ["--database", url, "--instance", str(tmp_path), "analytics", "demo-data"]
    assert main([*args, "--members", "50", "--seed", "3", "--date", "2026-11-30"]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == 50
    assert main([*args, "--members", "0"]) == 1
    assert "at least one member" in capsys.readouterr().err
