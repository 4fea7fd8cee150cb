"""Members' preferences: sale lines from sealed events, affinity, suggestions, incentives."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from flask import Flask

from cloud.analytics.preferences import RESPONSE_DAYS, affinity_rows, suggestion_rows
from cloud.analytics.run import run_analytics
from cloud.tables import (
    analytics_categories,
    events,
    member_categories,
    member_incentives,
    member_suggestions,
    sale_lines,
    sales,
    scenario_entries,
    scenarios,
)
from common.pii import PiiVault
from tests.cloud.analytics.test_run import START, _seed

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DAY = AS_OF.date()


def _seal_items(
    engine: sa.Engine, vault: PiiVault, items: dict[int, list[tuple[str, int]]]
) -> None:
    """Give sale event e<seq> a sealed wire body with (category, Rials) lines."""
    with engine.begin() as conn:
        for seq, lines in items.items():
            member = conn.execute(
                sa.select(sales.c.member_id).where(sales.c.id == f"s{seq}")
            ).scalar_one()
            body = {
                "id": f"e{seq}",
                "seq": seq,
                "kind": "sale.completed",
                "terminal_time": "t",
                "payload": {
                    "sale_id": f"s{seq}",
                    "member_id": member,
                    "items": [
                        {"sku": f"{c}-1", "category": c, "quantity": 1, "amount_rial": r}
                        for c, r in lines
                    ],
                },
            }
            conn.execute(
                sa.update(events)
                .where(events.c.id == f"e{seq}")
                .values(kind="sale.completed", body_enc=vault.encrypt(f"e{seq}", json.dumps(body)))
            )


def test_lines_copied_from_sealed_events_once_and_affinity_stored(cloud_app_any: Flask) -> None:
    context = cloud_app_any.extensions["vafa"]
    engine, vault = context.engine, context.vault
    with engine.begin() as conn:
        _seed(
            conn,
            {
                "x": [(10, 300_000, "store"), (20, 100_000, "store")],
                "y": [(30, 400_000, "store")],
                "z": [(40, 50_000, "store")],
            },
        )
    _seal_items(
        engine,
        vault,
        {1: [("لبنیات", 200_000), ("نان", 100_000)], 2: [("نان", 100_000)], 3: [("نان", 400_000)]},
    )
    with engine.begin() as conn:  # z's body was sealed for another row: it cannot be opened
        conn.execute(
            sa.update(events)
            .where(events.c.id == "e4")
            .values(kind="sale.completed", body_enc=vault.encrypt("e1", "{}"))
        )
    first = run_analytics(engine, AS_OF, vault)
    with engine.begin() as conn:  # e3 came in within the hour before the watermark (e4)
        conn.execute(
            sa.update(events)
            .where(events.c.id == "e3")
            .values(received_at=START + dt.timedelta(days=40, minutes=-30))
        )
    second = run_analytics(engine, AS_OF, vault)  # the overlap rereads e3; nothing doubles
    assert first["sale_lines_copied"] == 4 and second["sale_lines_copied"] == 1
    with engine.connect() as conn:
        lines = list(conn.execute(sa.select(sale_lines).order_by(sale_lines.c.sale_id)))
        affinity = {
            (r.member_id, r.category): r for r in conn.execute(sa.select(member_categories))
        }
        chain = {r.category: r for r in conn.execute(sa.select(analytics_categories))}
    assert [(r.sale_id, r.line_no, r.category) for r in lines] == [
        ("s1", 0, "لبنیات"),
        ("s1", 1, "نان"),
        ("s2", 0, "نان"),
        ("s3", 0, "نان"),
    ]
    assert {r.member_id for r in lines} == {"x", "y"}
    # x spent 200k of 400k on dairy; the chain 200k of 800k: affinity 0.5 / 0.25 = 2.
    dairy = affinity[("x", "لبنیات")]
    assert (dairy.purchases, dairy.amount_rial, dairy.share, dairy.affinity) == (
        1,
        200_000,
        0.5,
        2.0,
    )
    assert affinity[("x", "نان")].purchases == 2
    assert affinity[("y", "نان")].affinity == pytest.approx(1 / 0.75, abs=1e-4)
    assert (chain["نان"].members, chain["نان"].sales, chain["نان"].amount_rial) == (2, 3, 600_000)
    with engine.begin() as conn:  # a refund takes the sale's lines out of the preferences
        conn.execute(sa.update(sales).where(sales.c.id == "s3").values(refunded_at=START))
    run_analytics(engine, AS_OF, vault)
    with engine.connect() as conn:
        members = set(conn.execute(sa.select(member_categories.c.member_id)).scalars())
    assert members == {"x"}


def _spend(baskets: dict[str, list[str]]) -> list[tuple[str, str, int, int]]:
    return [(m, c, 1, 100_000) for m, cats in baskets.items() for c in cats]


def test_suggestions_follow_co_purchase_lift() -> None:
    baskets = {f"both{i}": ["نان", "پنیر"] for i in range(10)}
    baskets |= {f"solo{i}": ["شوینده"] for i in range(10)}
    baskets |= {f"tea{i}": ["چای", "قند"] for i in range(5)}
    baskets["bread_only"] = ["نان"]
    rows = suggestion_rows(_spend(baskets), {}, DAY)
    mine = [(r["rank"], r["category"]) for r in rows if r["member_id"] == "bread_only"]
    assert mine == [(1, "پنیر")]  # bread buyers buy cheese; nothing else goes with bread
    lift = next(r["lift"] for r in rows if r["member_id"] == "bread_only")
    # P(cheese | bread) = 10/11; P(cheese) = 10/26.
    assert lift == pytest.approx((10 / 11) / (10 / 26), abs=1e-3)
    assert not [r for r in rows if r["member_id"].startswith("solo")]
    assert not [r for r in rows if r["member_id"].startswith("both")]  # nothing left to add


def test_suggestions_use_the_members_own_segment_when_it_is_large_enough() -> None:
    # In "vip" bread goes with cheese; in "lost" bread goes with jam. Each has 60 members.
    baskets = {f"v{i}": ["نان", "پنیر"] for i in range(30)}
    baskets |= {f"vx{i}": ["شوینده"] for i in range(29)}
    baskets |= {f"l{i}": ["نان", "مربا"] for i in range(30)}
    baskets |= {f"lx{i}": ["شوینده"] for i in range(29)}
    baskets |= {"v_new": ["نان"], "l_new": ["نان"]}
    segment = {m: "vip" if m.startswith("v") else "lost" for m in baskets}
    rows = suggestion_rows(_spend(baskets), segment, DAY)
    first = {r["member_id"]: r["category"] for r in rows if r["rank"] == 1}
    assert (first["v_new"], first["l_new"]) == ("پنیر", "مربا")


def test_affinity_rows_without_spend_do_not_divide_by_zero() -> None:
    rows, chain = affinity_rows([("m", "نان", 1, 0)], DAY)
    assert (rows[0]["share"], rows[0]["affinity"]) == (0.0, 0.0)
    assert chain[0]["amount_rial"] == 0


def test_incentive_responses_per_action_type(cloud_app_any: Flask) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    sent = START + dt.timedelta(days=100)
    with engine.begin() as conn:
        _seed(
            conn,
            {
                "p": [(103, 100_000, "store")],  # bought 3 days after the points offer
                "q": [(130, 100_000, "store")],  # 30 days after: not an answer
                "r": [(5, 100_000, "store")],
            },
        )
        for sid, actions in (
            ("points", [{"type": "points", "amount": 100}, {"type": "owner_note", "text": "x"}]),
            ("both", [{"type": "sms", "variants": ["x"]}, {"type": "coupon", "value_rial": 1}]),
        ):
            conn.execute(
                sa.insert(scenarios),
                [
                    {
                        "id": sid,
                        "definition": json.dumps({"actions": actions}),
                        "enabled": True,
                        "updated_at": START,
                    }
                ],
            )
        entries = [
            ("points", "p", "A", "acted", sent),
            ("points", "q", "A", "acted", sent),
            ("both", "p", "A", "acted:sms_skipped", sent),
            ("both", "r", "control", "control", sent),  # control: no offer
            ("points", "r", "A", "acted", AS_OF - dt.timedelta(days=RESPONSE_DAYS - 1)),  # open
        ]
        conn.execute(
            sa.insert(scenario_entries),
            [
                {
                    "id": f"x{n}",
                    "scenario_id": sid,
                    "member_id": member,
                    "period": f"p{n}",
                    "arm": arm,
                    "outcome": outcome,
                    "created_at": at,
                }
                for n, (sid, member, arm, outcome, at) in enumerate(entries)
            ],
        )
    run_analytics(engine, AS_OF)
    with engine.connect() as conn:
        got = {
            (r.member_id, r.incentive): (r.offers, r.responses, r.response_rate)
            for r in conn.execute(sa.select(member_incentives))
        }
    assert got == {
        ("p", "points"): (1, 1, 1.0),
        ("p", "coupon"): (1, 1, 1.0),  # the skipped SMS is no offer
        ("q", "points"): (1, 0, 0.0),
    }  # a note to the store owner is no offer to the member


def test_run_without_lines_stores_no_preferences(cloud_app_any: Flask) -> None:
    engine = cloud_app_any.extensions["vafa"].engine
    with engine.begin() as conn:
        _seed(conn, {"x": [(1, 100_000, "store")]})
    result = run_analytics(engine, AS_OF)  # no vault: the sealed bodies stay closed
    assert result["sale_lines_copied"] == 0
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(member_suggestions)) == 0
        assert conn.scalar(sa.select(sa.func.count()).select_from(member_categories)) == 0
