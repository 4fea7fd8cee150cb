"""A scenario as data, checked when it is stored so a run never meets a malformed one.

    {"name_fa": "تبریک تولد", "trigger": {"type": "birthday"},
     "conditions": {"tiers": ["gold", "vip"], "stores": [...], "min_spend_rial": 0},
     "actions": [{"type": "sms", "variants": ["{نام} عزیز، تولدت مبارک!", "..."]},
                 {"type": "points", "amount": 200}, {"type": "coupon", "value_rial": 500000,
                  "days": 14}, {"type": "gift", "note": "یک هدیه در فروشگاه منتظر شماست"}],
     "guardrails": {"period": "year", "budget_rial": 50000000, "sms_per_week": 2},
     "control_pct": 10}

Triggers: ``birthday`` (the member's Jalali birthday, with the 30 Esfand rule),
``inactive`` (``days`` since the last purchase, entered once per ``period``), ``tier``
(members of ``tiers``, once per period: VIP thanks), ``feedback`` (an NPS of ``max_nps``
or less in the last day; run at once when the answer arrives: the apology), ``anniversary``
(the Jalali day of the member's first purchase, a year or more ago), ``occasion`` (every
member on the dates the occasions table gives the ``occasion`` key that year). Periods: day,
week, month, quarter, year (Jalali months and years), or ``once``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloud.errors import BadRequest

TRIGGERS = ("birthday", "inactive", "tier", "feedback", "anniversary", "occasion")
ACTIONS = ("sms", "points", "credit", "coupon", "gift")
PERIODS = ("day", "week", "month", "quarter", "year", "once")
TIERS = ("normal", "silver", "gold", "vip")


@dataclass(frozen=True)
class Scenario:
    """One checked scenario."""

    id: str
    name_fa: str
    trigger: dict[str, Any]
    actions: tuple[dict[str, Any], ...]
    conditions: dict[str, Any] = field(default_factory=dict)
    period: str = "year"
    budget_rial: int | None = None
    sms_per_week: int = 2
    control_pct: int = 10
    enabled: bool = True


def parse(scenario_id: str, data: Any, enabled: bool = True) -> Scenario:
    """Check a scenario's JSON form and return it; raise BadRequest naming the field."""
    if not isinstance(data, dict):
        raise BadRequest("a scenario is a JSON object", field="definition")
    trigger = _object(data, "trigger")
    if trigger.get("type") not in TRIGGERS:
        raise BadRequest(f"trigger.type must be one of {TRIGGERS}", field="trigger.type")
    if trigger["type"] == "inactive":
        _whole(trigger, "days", "trigger.days", low=1)
    if trigger["type"] == "tier":
        _tiers(trigger.get("tiers"), "trigger.tiers")
    if trigger["type"] == "occasion":
        key = trigger.get("occasion")
        if not isinstance(key, str) or not key.strip():
            raise BadRequest("trigger.occasion names an occasion key", field="trigger.occasion")
    if trigger["type"] == "feedback":
        score = trigger.get("max_nps")
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
            raise BadRequest("trigger.max_nps must be 0..10", field="trigger.max_nps")
    actions = data.get("actions")
    if not isinstance(actions, list) or not actions:
        raise BadRequest("actions must be a non-empty list", field="actions")
    for index, action in enumerate(actions):
        _action(action, f"actions[{index}]")
    conditions = data.get("conditions", {})
    if not isinstance(conditions, dict):
        raise BadRequest("conditions must be an object", field="conditions")
    if "tiers" in conditions:
        _tiers(conditions["tiers"], "conditions.tiers")
    guardrails = data.get("guardrails", {})
    if not isinstance(guardrails, dict):
        raise BadRequest("guardrails must be an object", field="guardrails")
    period = guardrails.get("period", "year")
    if period not in PERIODS:
        raise BadRequest(f"guardrails.period must be one of {PERIODS}", field="guardrails.period")
    budget = guardrails.get("budget_rial")
    if budget is not None:
        _whole(guardrails, "budget_rial", "guardrails.budget_rial", low=0)
    control = data.get("control_pct", 10)
    if isinstance(control, bool) or not isinstance(control, int) or not 0 <= control <= 90:
        raise BadRequest("control_pct must be 0..90", field="control_pct")
    return Scenario(
        id=scenario_id,
        name_fa=str(data.get("name_fa", scenario_id)),
        trigger=trigger,
        actions=tuple(actions),
        conditions=conditions,
        period=period,
        budget_rial=budget,
        sms_per_week=int(guardrails.get("sms_per_week", 2)),
        control_pct=control,
        enabled=enabled,
    )


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object", field=name)
    return value


def _whole(data: dict[str, Any], name: str, where: str, low: int) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise BadRequest(f"{where} must be an integer of at least {low}", field=where)
    return value


def _tiers(value: Any, where: str) -> None:
    if not isinstance(value, list) or not value or not set(value) <= set(TIERS):
        raise BadRequest(f"{where} must list tiers from {TIERS}", field=where)


def _action(action: Any, where: str) -> None:
    if not isinstance(action, dict) or action.get("type") not in ACTIONS:
        raise BadRequest(f"{where}.type must be one of {ACTIONS}", field=f"{where}.type")
    kind = action["type"]
    if kind == "sms":
        variants = action.get("variants")
        if (
            not isinstance(variants, list)
            or not 1 <= len(variants) <= 2
            or not all(isinstance(v, str) and v.strip() for v in variants)
        ):
            raise BadRequest(
                "an sms action has one or two text variants", field=f"{where}.variants"
            )
    elif kind in ("points", "credit"):
        _whole(action, "amount", f"{where}.amount", low=1)
    elif kind == "coupon":
        _whole(action, "value_rial", f"{where}.value_rial", low=1)
        _whole(action, "days", f"{where}.days", low=1)
    elif not isinstance(action.get("note"), str) or not action["note"].strip():
        raise BadRequest("a gift action needs a note for the member", field=f"{where}.note")
    else:  # a surprise at the next visit: points handed over with the note by the terminal
        _whole(action, "amount", f"{where}.amount", low=1)
