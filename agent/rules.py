"""Earning and redemption rules, as data.

The cloud sends these; the terminal starts from the defaults below. All arithmetic is on
integers: Rials, points and percentages, never floats.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from agent.errors import InputError

MAX_SALE_RIAL = 100_000_000_000  # ten billion Toman: anything above is a typing slip

TIER_LABELS = {"normal": "عادی", "silver": "نقره‌ای", "gold": "طلایی", "vip": "VIP"}


@dataclass(frozen=True)
class EarningRules:
    """How a purchase turns into points."""

    rial_per_point: int = 10_000  # one point per 1,000 Toman
    rounding: str = "down"  # a purchase's Rials to points: "down", "nearest" (half up) or "up"
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
    category_bonus_pct: dict[str, int] = field(default_factory=dict)  # extra % on those lines
    product_bonus_points: dict[str, int] = field(default_factory=dict)  # flat points per unit
    off_peak_hours: tuple[int, int] | None = None  # [start, end) hours, Tehran time
    off_peak_bonus_pct: int = 0
    birthday_week_pct: int = 100  # multiplier in the member's birthday week (±3 days)
    per_day_cap: int = 20_000  # points one member may earn in one Tehran day

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EarningRules:
        """Build rules from their JSON form, keeping defaults for absent keys; refuse bad ones."""
        defaults = cls()
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in cls.__dataclass_fields__:
                raise InputError(f"unknown earning rule {key!r}")
            values[key] = _rule_value(key, value, getattr(defaults, key))
        return cls(**values)


ROUNDINGS = ("down", "nearest", "up")
_POSITIVE = frozenset({"rial_per_point", "point_value_rial", "tier_window_days"})  # divisors


def _rule_value(key: str, value: Any, default: Any) -> Any:
    def whole(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if key == "rounding":
        if value in ROUNDINGS:
            return value
    elif key == "off_peak_hours":
        if value is None:
            return None
        if isinstance(value, list) and len(value) == 2 and all(whole(h) and h <= 24 for h in value):
            return (value[0], value[1])
    elif isinstance(default, dict):
        if isinstance(value, dict) and all(
            isinstance(k, str) and whole(v) for k, v in value.items()
        ):
            return dict(value)
    elif whole(value) and (value > 0 or key not in _POSITIVE):
        return value
    raise InputError(f"earning rule {key!r} has a bad value {value!r}")


def check_amount(amount_rial: int) -> int:
    """Return a sale amount if it is a sane non-negative integer of Rials, else raise."""
    if isinstance(amount_rial, bool) or not isinstance(amount_rial, int):
        raise InputError("amount must be an integer of Rials", fa="مبلغ باید عدد صحیح باشد")
    if amount_rial < 0:
        raise InputError("amount is negative", fa="مبلغ نمی‌تواند منفی باشد")
    if amount_rial > MAX_SALE_RIAL:
        raise InputError(f"amount {amount_rial} is absurd", fa="مبلغ بیش از حد بزرگ است")
    return amount_rial


@dataclass(frozen=True)
class SaleLine:
    """One line of a sale, as the POS sends it."""

    sku: str
    category: str
    quantity: int
    amount_rial: int  # the line total, after line discounts


@dataclass(frozen=True)
class SaleContext:
    """What the rules need to know about one sale."""

    amount_rial: int
    tier: str
    first_purchase: bool
    moment: dt.datetime  # Tehran time
    lines: tuple[SaleLine, ...] = ()
    birthday_week: bool = False
    earned_today: int = 0


MAX_LINES = 500


def parse_lines(raw: Any, amount_rial: int) -> tuple[SaleLine, ...]:
    """Validate the POS's item lines; their totals must add up to the sale amount."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_LINES:
        raise InputError(f"items must be a list of at most {MAX_LINES} lines")
    lines = tuple(_parse_line(index, item) for index, item in enumerate(raw))
    if lines and sum(line.amount_rial for line in lines) != amount_rial:
        raise InputError(
            f"item totals {sum(line.amount_rial for line in lines)} != amount {amount_rial}",
            fa="جمع اقلام با مبلغ خرید برابر نیست",
        )
    return lines


def _parse_line(index: int, item: Any) -> SaleLine:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        raise InputError(f"{where} must be an object")
    sku, category = item.get("sku"), item.get("category", "")
    quantity: Any = item.get("quantity", 1)
    amount: Any = item.get("amount_rial")
    if not isinstance(sku, str) or not sku or len(sku) > 64:
        raise InputError(f"{where}.sku must be a short non-empty string")
    if not isinstance(category, str) or len(category) > 64:
        raise InputError(f"{where}.category must be a short string")
    for name, value in (("quantity", quantity), ("amount_rial", amount)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(
                f"{where}.{name} must be a non-negative integer", fa="اقلام خرید نامعتبر است"
            )
    return SaleLine(sku, category, quantity, check_amount(amount))


def to_points(amount_rial: int, rules: EarningRules) -> int:
    """Turn Rials into whole points by the rules' rate and rounding rule."""
    whole, rest = divmod(amount_rial, rules.rial_per_point)
    if rest and (
        rules.rounding == "up" or (rules.rounding == "nearest" and 2 * rest >= rules.rial_per_point)
    ):
        whole += 1
    return whole


def points_for_sale(rules: EarningRules, sale: SaleContext) -> int:
    """Return the points a purchase earns: base points by the rounding rule; bonuses and
    multipliers on whole points, rounded down; then the per-sale and per-day caps."""
    if sale.amount_rial < rules.min_purchase_rial:
        return 0
    points = to_points(sale.amount_rial, rules)
    for line in sale.lines:
        bonus_pct = rules.category_bonus_pct.get(line.category, 0)
        points += to_points(line.amount_rial, rules) * bonus_pct // 100
        points += rules.product_bonus_points.get(line.sku, 0) * line.quantity
    points = points * rules.tier_multiplier_pct.get(sale.tier, 100) // 100
    if _off_peak(rules, sale.moment):
        points += points * rules.off_peak_bonus_pct // 100
    if sale.birthday_week:
        points = points * rules.birthday_week_pct // 100
    if sale.first_purchase:
        points += rules.first_purchase_bonus
    points = min(points, rules.per_sale_cap)
    return max(0, min(points, rules.per_day_cap - sale.earned_today))


def _off_peak(rules: EarningRules, moment: dt.datetime) -> bool:
    if rules.off_peak_hours is None:
        return False
    start, end = rules.off_peak_hours
    return start <= moment.hour < end


def tier_for(rules: EarningRules, earned_in_window: int) -> str:
    """Return the highest tier whose threshold the points earned in the window reach."""
    reached = [
        (need, tier) for tier, need in rules.tier_thresholds.items() if earned_in_window >= need
    ]
    return max(reached)[1] if reached else "normal"
