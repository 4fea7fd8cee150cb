"""Earning and redemption rules, as data.

The cloud sends these; the terminal starts from the defaults below. All arithmetic is on
integers: Rials, points and percentages, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.errors import InputError

MAX_SALE_RIAL = 100_000_000_000  # ten billion Toman: anything above is a typing slip

TIER_LABELS = {"normal": "عادی", "silver": "نقره‌ای", "gold": "طلایی", "vip": "VIP"}


@dataclass(frozen=True)
class EarningRules:
    """How a purchase turns into points."""

    rial_per_point: int = 10_000  # one point per 1,000 Toman
    min_purchase_rial: int = 0
    tier_multiplier_pct: dict[str, int] = field(
        default_factory=lambda: {"normal": 100, "silver": 125, "gold": 150, "vip": 200}
    )
    first_purchase_bonus: int = 0
    per_sale_cap: int = 100_000
    point_value_rial: int = 1_000  # what one redeemed point takes off the bill
    points_validity_days: int = 365  # a lot expires this long after it was earned
    offline_redeem_cap: int = 2_000  # points a member may redeem here before the cloud confirms
    tier_window_days: int = 365  # tiers follow points earned in this window, not the balance
    tier_thresholds: dict[str, int] = field(
        default_factory=lambda: {"normal": 0, "silver": 1_000, "gold": 5_000, "vip": 20_000}
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EarningRules:
        """Build rules from their JSON form, keeping defaults for absent keys."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def check_amount(amount_rial: int) -> int:
    """Return a sale amount if it is a sane non-negative integer of Rials, else raise."""
    if isinstance(amount_rial, bool) or not isinstance(amount_rial, int):
        raise InputError("amount must be an integer of Rials", fa="مبلغ باید عدد صحیح باشد")
    if amount_rial < 0:
        raise InputError("amount is negative", fa="مبلغ نمی‌تواند منفی باشد")
    if amount_rial > MAX_SALE_RIAL:
        raise InputError(f"amount {amount_rial} is absurd", fa="مبلغ بیش از حد بزرگ است")
    return amount_rial


def points_for_sale(rules: EarningRules, amount_rial: int, tier: str, first_purchase: bool) -> int:
    """Return the points a purchase earns: whole points, rounded down, capped per sale."""
    if amount_rial < rules.min_purchase_rial:
        return 0
    base = amount_rial // rules.rial_per_point
    multiplied = base * rules.tier_multiplier_pct.get(tier, 100) // 100
    bonus = rules.first_purchase_bonus if first_purchase else 0
    return min(multiplied + bonus, rules.per_sale_cap)


def tier_for(rules: EarningRules, earned_in_window: int) -> str:
    """Return the highest tier whose threshold the points earned in the window reach."""
    reached = [
        (need, tier) for tier, need in rules.tier_thresholds.items() if earned_in_window >= need
    ]
    return max(reached)[1] if reached else "normal"
