"""A full analytics pass on SQLite and PostgreSQL: patterns and segments stored per member."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.analytics.kpis import chain_kpis
from cloud.analytics.run import run_analytics
from cloud.cli import main
from cloud.tables import (
    events,
    member_analytics,
    members,
    sales,
    segment_history,
    stores,
    terminals,
)

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
START = dt.datetime(2025, 6, 1, 9, tzinfo=dt.UTC)


def _seed(conn: sa.Connection, histories: dict[str, list[tuple[int, int, str]]]) -> None:
    """Store members with (day after START, Rials, channel) purchases."""
    conn.execute(sa.insert(stores), [{"id": "s1", "name": "ونک", "created_at": START}])
    conn.execute(
        sa.insert(terminals),
        [{"id": "t1", "store_id": "s1", "public_key": "k", "created_at": START}],
    )
    seq = 0
    for n, (member, history) in enumerate(histories.items()):
        conn.execute(
            sa.insert(members),
            [
                {
                    "id": member,
                    "card_code": f"c{n}",
                    "mobile_hmac": bytes([n]) * 32,
                    "mobile_enc": b"x",
                    "name_enc": b"x",
                    "home_store_id": "s1",
                    "marketing_consent": True,
                    "enrolled_at": START,
                }
            ],
        )
        for day, rial, channel in history:
            seq += 1
            at = START + dt.timedelta(days=day)
            conn.execute(
                sa.insert(events),
                [
                    {
                        "id": f"e{seq}",
                        "terminal_id": "t1",
                        "seq": seq,
                        "kind": "sale",
                        "digest": "d",
                        "received_at": at,
                    }
                ],
            )
            conn.execute(
                sa.insert(sales),
                [
                    {
                        "id": f"s{seq}",
                        "event_id": f"e{seq}",
                        "member_id": member,
                        "store_id": "s1",
                        "terminal_id": "t1",
                        "receipt_no": seq,
                        "amount_rial": rial,
                        "points_earned": 0,
                        "points_redeemed": 0,
                        "channel": channel,
                        "terminal_time": at.isoformat(),
                        "received_at": at,
                    }
                ],
            )


HISTORIES = {
    # Every 30 days for a year, last bought 5 days before AS_OF: a VIP.
    "regular": [(d, 2_000_000, "store") for d in range(0, 366, 30)] + [(360, 500_000, "instagram")],
    "once_recent": [(362, 1_000_000, "website")],
    "once_long_ago": [(10, 300_000, "store")],
    "lapsed": [(0, 900_000, "store"), (20, 900_000, "store"), (40, 900_000, "store")],
    "pair": [(100, 700_000, "store"), (160, 700_000, "whatsapp")],
}


def test_run_stores_patterns_and_segments(cloud_app_any: Flask) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    with engine.begin() as conn:
        _seed(conn, HISTORIES)
        conn.execute(sa.update(sales).where(sales.c.id == "s1").values(refunded_at=START))
    result = run_analytics(engine, AS_OF)
    assert result["members"] == 5
    with engine.connect() as conn:
        rows = {r.member_id: r for r in conn.execute(sa.select(member_analytics))}
        history = list(conn.execute(sa.select(segment_history)))
    regular = rows["regular"]
    assert regular.purchases == 13  # 13 on the 30-day beat + Instagram - the refunded first
    assert regular.value_rial == 12 * 2_000_000 + 500_000
    assert regular.avg_payment_rial == regular.value_rial // 13
    assert json.loads(regular.channels) == {"instagram": 1, "store": 12}
    assert regular.mean_interval_days == pytest.approx(330 / 12)
    assert regular.gap_days == pytest.approx(365 - 360 - 9 / 24)
    assert regular.cycle == "in_cycle"
    assert (regular.r, regular.f) == (4, 5)  # once_recent bought two days later
    assert regular.segment == "vip"
    # Two of five members bought once: their tied mid-rank puts F in the second quintile.
    assert (rows["once_recent"].r, rows["once_recent"].f) == (5, 2)
    assert rows["once_recent"].cycle == "single"
    assert rows["once_recent"].segment == "potential"
    assert rows["once_long_ago"].segment == "lost"
    assert rows["lapsed"].cycle == "lapsed"
    assert rows["lapsed"].mean_interval_days == pytest.approx(20)
    assert len(history) == 5 and {h.computed_on for h in history} == {AS_OF.date()}
    assert result["segments"]["vip"] == 1
    assert result["chain"]["buying_members"] == 5
    with engine.connect() as conn:  # the run's chain figures agree with the SQL reference
        assert result["chain"] == chain_kpis(conn, AS_OF)
    assert sum(c["members"] for c in result["cohorts"]) == 5
    assert sum(m["sales"] for m in result["store_months"]) == 13 + 1 + 1 + 3 + 2


def test_rerun_on_the_same_day_replaces_and_clv_columns_fill_when_fittable(
    cloud_app_any: Flask,
) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    many = {
        f"m{i:02}": [(d, 100_000 * (1 + i % 4), "store") for d in range(i % 7, 360, 20 + i)]
        for i in range(40)
    }
    with engine.begin() as conn:
        _seed(conn, many)
    run_analytics(engine, AS_OF)
    result = run_analytics(engine, AS_OF)
    assert result["clv_fitted"] is True
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(member_analytics)))
        assert conn.scalar(sa.select(sa.func.count()).select_from(segment_history)) == 40
    assert len(rows) == 40
    assert all(0 < r.p_alive <= 1 and r.expected_purchases_90d > 0 for r in rows)
    assert all(r.clv_rial > 0 for r in rows)


def test_analytics_run_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    args = ["--database", url, "--instance", str(tmp_path), "analytics", "run", "--date"]
    assert main([*args, "2026-06-01"]) == 0
    assert json.loads(capsys.readouterr().out)["members"] == 0
    assert main([*args, "2026-13-01"]) == 1
    assert "--date must be YYYY-MM-DD" in capsys.readouterr().err
