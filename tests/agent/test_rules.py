"""Earning rules as data: each rule on small hand-checked numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from agent.errors import InputError
from agent.rules import EarningRules, SaleContext, parse_lines, points_for_sale, tier_for
from common.persian import TEHRAN

NOON = dt.datetime(2026, 11, 22, 12, 0, tzinfo=TEHRAN)


def _points(rules: EarningRules, amount: int, **context: object) -> int:
    fields = {"tier": "normal", "first_purchase": False, "moment": NOON} | context
    return points_for_sale(rules, SaleContext(amount_rial=amount, **fields))  # type: ignore[arg-type]


def test_base_rate_rounds_down() -> None:
    assert _points(EarningRules(), 1_259_999) == 125


@pytest.mark.parametrize(
    ("rounding", "amounts", "points"),
    [
        ("down", (1_254_999, 1_255_000, 1_259_999, 1_260_000), (125, 125, 125, 126)),
        ("nearest", (1_254_999, 1_255_000, 1_259_999, 1_260_000), (125, 126, 126, 126)),
        ("up", (1_250_000, 1_250_001, 1_259_999, 1_260_000), (125, 126, 126, 126)),
    ],
)
def test_rounding_rule(rounding: str, amounts: tuple[int, ...], points: tuple[int, ...]) -> None:
    rules = EarningRules.from_dict({"rounding": rounding})
    assert tuple(_points(rules, amount) for amount in amounts) == points


def test_an_unknown_rounding_rule_is_refused() -> None:
    with pytest.raises(InputError, match="rounding"):
        EarningRules.from_dict({"rounding": "banker"})


def test_minimum_purchase() -> None:
    assert _points(EarningRules(min_purchase_rial=500_000), 499_999) == 0
    assert _points(EarningRules(min_purchase_rial=500_000), 500_000) == 50


@pytest.mark.parametrize(
    ("tier", "points"), [("normal", 100), ("silver", 125), ("gold", 150), ("vip", 200)]
)
def test_tier_multipliers(tier: str, points: int) -> None:
    assert _points(EarningRules(), 1_000_000, tier=tier) == points


def test_category_and_product_bonuses_use_the_lines() -> None:
    rules = EarningRules(category_bonus_pct={"لبنیات": 50}, product_bonus_points={"ISO-500": 3})
    lines = parse_lines(
        [
            {"sku": "MILK-1", "category": "لبنیات", "quantity": 2, "amount_rial": 400_000},
            {"sku": "ISO-500", "category": "نوشیدنی", "quantity": 4, "amount_rial": 600_000},
        ],
        1_000_000,
    )
    # base 100, +50% of the dairy line's 40 = 20, +3 × 4 isotonic drinks = 12
    assert _points(rules, 1_000_000, lines=lines) == 132


def test_off_peak_hours_bonus_in_tehran_time() -> None:
    rules = EarningRules(off_peak_hours=(14, 17), off_peak_bonus_pct=20)
    assert _points(rules, 1_000_000, moment=NOON.replace(hour=14)) == 120
    assert _points(rules, 1_000_000, moment=NOON.replace(hour=17)) == 100


def test_birthday_week_first_purchase_and_caps() -> None:
    rules = EarningRules(birthday_week_pct=200, first_purchase_bonus=50, per_sale_cap=10_000)
    assert _points(rules, 1_000_000, birthday_week=True) == 200
    assert _points(rules, 1_000_000, first_purchase=True) == 150
    assert _points(rules, 10**9) == 10_000
    assert _points(EarningRules(per_day_cap=150), 1_000_000, earned_today=120) == 30
    assert _points(EarningRules(per_day_cap=150), 1_000_000, earned_today=200) == 0


def test_tiers_from_thresholds() -> None:
    rules = EarningRules()
    assert [tier_for(rules, n) for n in (0, 999, 1_000, 5_000, 19_999, 20_000)] == [
        "normal",
        "normal",
        "silver",
        "gold",
        "gold",
        "vip",
    ]


@pytest.mark.parametrize(
    "items",
    [
        "not a list",
        [{"sku": "", "amount_rial": 1}],
        [{"sku": "A", "amount_rial": -1}],
        [{"sku": "A", "amount_rial": 1.5}],
        [{"sku": "A", "quantity": True, "amount_rial": 1}],
        [{"sku": "A", "amount_rial": 999}],  # does not add up to the sale amount
        [{"sku": "A", "amount_rial": 1}] * 501,
    ],
)
def test_bad_lines_are_refused(items: object) -> None:
    with pytest.raises(InputError):
        parse_lines(items, 1_000)


def test_sale_with_lines_and_birthday_through_the_flow(terminal) -> None:  # type: ignore[no-untyped-def]
    from agent.flow import CashierFlow

    birthday_noon = dt.datetime(2026, 11, 24, 12, 0, tzinfo=TEHRAN)  # 3 Azar 1405
    rules = EarningRules(birthday_week_pct=200)
    flow = CashierFlow(terminal.conn, terminal.vault, rules, clock=lambda: birthday_noon)
    member = flow.enrol("09123456789", "زهرا", consent=True, birthday="۰۹-۰۱")
    assert member.birthday == (9, 1)
    items = [{"sku": "BREAD", "category": "نان", "quantity": 1, "amount_rial": 500_000}]
    assert flow.sale(member.id, 500_000, items=items).points_earned == 100  # 50 doubled
    other = flow.enrol("09350000000", "علی", consent=True, birthday="03-15")
    assert flow.sale(other.id, 500_000).points_earned == 50
    with pytest.raises(InputError):
        flow.enrol("09120000001", "سارا", consent=True, birthday="07-31")  # Mehr has 30 days
