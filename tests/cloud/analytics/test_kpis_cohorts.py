"""KPIs per store and Jalali month, chain-wide KPIs and cohort retention, on both back-ends."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.analytics.cohorts import retention_matrix
from cloud.analytics.kpis import chain_kpis, monthly_kpis
from cloud.analytics.months import month_key, month_start
from cloud.tables import members, stores
from tests.cloud.analytics.test_run import START, _seed

# Jalali 1404-04-01 is 2025-06-22; 1404-05-01 is 2025-07-23 (Tehran midnight).
TIR = dt.datetime(2025, 6, 22, 9, tzinfo=dt.UTC)  # 1404-04 (Tir)
AS_OF = dt.datetime(2025, 10, 1, tzinfo=dt.UTC)


def test_month_boundaries_are_tehran_midnight() -> None:
    assert month_start("1404-04") == dt.datetime(2025, 6, 21, 20, 30, tzinfo=dt.UTC)
    assert month_key(dt.datetime(2025, 6, 21, 20, 29, tzinfo=dt.UTC)) == "1404-03"
    assert month_key(dt.datetime(2025, 6, 21, 20, 30, tzinfo=dt.UTC)) == "1404-04"
    assert month_key(dt.datetime(2026, 3, 20, 20, 30, tzinfo=dt.UTC)) == "1405-01"


def _days(moment: dt.datetime) -> int:
    return (moment - START).days


@pytest.fixture
def seeded(cloud_app_any: Flask) -> sa.Engine:
    engine: sa.Engine = cloud_app_any.extensions["vafa"].engine
    tir, mordad, shahrivar = _days(TIR), _days(TIR) + 31, _days(TIR) + 62
    with engine.begin() as conn:
        _seed(
            conn,
            {
                "a": [
                    (tir, 100_000, "store"),
                    (tir + 2, 300_000, "store"),
                    (mordad, 50_000, "store"),
                ],
                "b": [(tir, 200_000, "store"), (shahrivar, 400_000, "store")],
                "c": [(mordad, 600_000, "store")],
            },
        )
        conn.execute(
            sa.insert(members),
            [
                {
                    "id": "never",
                    "card_code": "cn",
                    "mobile_hmac": b"n" * 32,
                    "mobile_enc": b"x",
                    "name_enc": b"x",
                    "home_store_id": "s1",
                    "marketing_consent": False,
                    "enrolled_at": START,
                }
            ],
        )
        conn.execute(sa.insert(stores), [{"id": "s2", "name": "تجریش", "created_at": START}])
    return engine


def test_monthly_kpis_per_store(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        rows = monthly_kpis(conn, AS_OF)
    assert [(r["store_id"], r["month"]) for r in rows] == [
        ("s1", "1404-04"),
        ("s1", "1404-05"),
        ("s1", "1404-06"),
    ]
    tir, mordad, shahrivar = rows
    assert (tir["sales"], tir["revenue_rial"], tir["buyers"]) == (3, 600_000, 2)
    assert tir["average_purchase_rial"] == 200_000
    assert tir["return_rate"] == 0.0  # everyone's first month
    assert (mordad["buyers"], mordad["return_rate"]) == (2, 0.5)  # a returns, c is new
    assert (shahrivar["buyers"], shahrivar["return_rate"]) == (1, 1.0)


def test_chain_kpis(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        chain = chain_kpis(conn, AS_OF)
        monthly = monthly_kpis(conn, AS_OF, by_store=False)
    assert chain["members"] == 4 and chain["buying_members"] == 3
    assert chain["activation_rate"] == 0.75
    assert chain["active_members_90d"] == 3
    assert chain["points_liability"] == 0
    assert {r["store_id"] for r in monthly} == {"*"}
    assert sum(r["revenue_rial"] for r in monthly) == 1_650_000


def test_cohort_retention_matrix(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        matrix = retention_matrix(conn, AS_OF)
    assert matrix == [
        {"cohort": "1404-04", "members": 2, "active": [2, 1, 1], "retention": [1.0, 0.5, 0.5]},
        {"cohort": "1404-05", "members": 1, "active": [1], "retention": [1.0]},
    ]
