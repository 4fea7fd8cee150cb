"""A scenario as data, checked when it is stored so a run never meets a malformed one.

    {"name_fa": "تبریک تولد", "trigger": {"type": "birthday"},
     "conditions": {"tiers": ["gold", "vip"], "stores": [...], "min_spend_rial": 0},
     "actions": [{"type": "sms", "variants": ["{نام} عزیز، تولدت مبارک!", "..."]},
                 {"type": "points", "amount": 200}, {"type": "coupon", "value_rial": 500000,
                  "days": 14}, {"type": "gift", "note": "یک هدیه در فروشگاه منتظر شماست"},
                 {"type": "owner_note", "text": "با این مشتری تماس بگیرید"}],
     "guardrails": {"period": "year", "budget_rial": 50000000, "sms_per_week": 2},
     "control_pct": 10}

Triggers: ``birthday`` (the member's Jalali birthday, with the 30 Esfand rule),
``inactive`` (``days`` since the last purchase, entered once per ``period``), ``tier``
(members of ``tiers``, once per period: VIP thanks), ``feedback`` (an NPS of ``max_nps``
or less in the last day; run at once when the answer arrives: the apology), ``anniversary``
(the Jalali day of the member's first purchase, a year or more ago), ``occasion`` (every
member on the dates the occasions table gives the ``occasion`` key that year). Periods: day,
week, month, quarter, year (Jalali months and years), or ``once``.

Added later (every field optional unless said; older scenarios read the same):

Event triggers (``EVENT_TRIGGERS``): each occurrence has a date, and the entry's period is
taken from that date, so an event is acted on once however often it is seen. The daily run
looks at the events of its day and the day before; purchases, enrolments and referrals
also run at once when a sync batch commits (``IMMEDIATE``), an unhappy answer when it is
given:

- ``purchase``: a sale; ``min_amount_rial`` (default 0) is the least this sale must be.
- ``enrolment``: a new member.
- ``referral``: the referrer, when the member they referred makes a first purchase and the
  referral is rewarded (``cloud/referrals.py``; one past the monthly cap does not count).
- ``feedback`` (above) and ``rising_rate``, ``segment_change``, ``rfm_drop`` (below).

From the member's own history (``rising_rate`` is an event trigger: the purchase):

- ``rising_rate``: checked on each purchase. With at least ``min_purchases`` (default 4)
  kept purchases, the mean of the member's last ``recent`` (default 2) intervals between
  purchases is at most ``ratio`` (default 0.5) of the mean of their earlier intervals:
  they now come back at least twice as often as they used to.
- ``gap``: the time since the last purchase is more than ``k`` (a number, at least 1) times
  the member's own mean interval (first to last purchase over the number of intervals,
  at least one day), for members with at least ``min_purchases`` (default 3) purchases.
- ``inactive`` (above): no purchase for ``days``.
- ``segment_change``: an analytics run put the member in another RFM segment than the run
  before (``segment_changes``; a first segment is no change); ``from`` and ``to`` (lists
  of segment keys from ``cloud/analytics/segments.toml``) narrow it. A change counts for
  2 days after its run.
- ``rfm_drop``: the same change, when the segment's score fell by at least ``points``
  (default 2). The history keeps segments, not scores, so a segment's score is the middle
  of its recency range plus the middle of its frequency range (``segment_scores``).

Conditions, all optional and combined with "and": ``tiers``, ``stores`` (home store ids),
``min_spend_rial`` (lifetime), ``genders`` (``GENDERS`` keys), ``provinces`` and ``cities``
(names as ``common/iran_places.toml`` writes them), ``age_groups`` (``AGE_GROUPS`` keys;
the age is the current Jalali year minus the member's Jalali birth year). A member who did
not give a field never meets a condition on it.

Action ``owner_note``: a note for the store's owner (``text``, at most 500 characters) on
HQ's notes page, one per entry, for the store the event happened at (the answer's store for
``feedback``) or else the member's home store. No SMS, no cost; the control group gets none.

Period ``event``: one entry per triggering event (every qualifying purchase, every
referral …), only for event triggers; its budget counts per Jalali month of the events.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cloud.errors import BadRequest

if TYPE_CHECKING:
    from cloud.analytics.rfm import Segment

TRIGGERS = (
    "birthday",
    "inactive",
    "tier",
    "feedback",
    "anniversary",
    "occasion",
    "purchase",
    "enrolment",
    "referral",
    "rising_rate",
    "gap",
    "segment_change",
    "rfm_drop",
)
# Triggers whose every occurrence is an event with its own date (the entry's period).
EVENT_TRIGGERS = (
    "feedback",
    "purchase",
    "enrolment",
    "referral",
    "rising_rate",
    "segment_change",
    "rfm_drop",
)
# What the cloud receives -> the triggers it runs at once for the member.
IMMEDIATE = {
    "purchase": ("purchase", "rising_rate", "referral"),
    "enrolment": ("enrolment",),
    "feedback": ("feedback",),
}
ACTIONS = ("sms", "points", "credit", "coupon", "gift", "owner_note")
OWNER_NOTE_MAX = 500  # characters, the width of owner_notes.text
PERIODS = ("day", "week", "month", "quarter", "year", "once")
# One entry per triggering event, for event triggers only. Kept out of PERIODS so a page
# that labels each of PERIODS goes on working; parse() accepts ALL_PERIODS.
EVENT_PERIOD = "event"
ALL_PERIODS = (*PERIODS, EVENT_PERIOD)
TIERS = ("normal", "silver", "gold", "vip")

# Persian labels for the builder and the guide.
TRIGGER_LABELS = {
    "birthday": "تولد (تقویم شمسی)",
    "inactive": "چند روز بی‌خرید",
    "tier": "سطح عضویت",
    "feedback": "نظرسنجی پس از خرید",
    "anniversary": "سالگرد نخستین خرید",
    "occasion": "مناسبت",
    "purchase": "خرید",
    "enrolment": "عضویت",
    "referral": "معرفی دوست",
    "rising_rate": "خرید پرتکرارتر از همیشه",
    "gap": "غیبت طولانی‌تر از فاصلهٔ همیشگی",
    "segment_change": "تغییر بخش (RFM)",
    "rfm_drop": "افت امتیاز RFM",
}
PERIOD_LABELS = {
    "day": "روزانه",
    "week": "هفتگی",
    "month": "ماهانه",
    "quarter": "فصلی",
    "year": "سالانه",
    "once": "فقط یک‌بار",
    "event": "هر رویداد",
}
GENDERS = {"f": "زن", "m": "مرد"}  # as common/demographics.py stores them
# Age groups by whole years (the current Jalali year minus the Jalali birth year): the one
# place they are named. key -> (youngest, oldest or None, Persian label).
AGE_GROUPS: dict[str, tuple[int, int | None, str]] = {
    "under_18": (0, 17, "زیر ۱۸ سال"),
    "18_24": (18, 24, "۱۸ تا ۲۴ سال"),
    "25_34": (25, 34, "۲۵ تا ۳۴ سال"),
    "35_44": (35, 44, "۳۵ تا ۴۴ سال"),
    "45_54": (45, 54, "۴۵ تا ۵۴ سال"),
    "55_64": (55, 64, "۵۵ تا ۶۴ سال"),
    "65_plus": (65, None, "۶۵ سال و بیشتر"),
}


def age_group(birth_year: int | None, jalali_year: int) -> str | None:
    """Return the age group of a member born in ``birth_year`` (Jalali), or None if unknown."""
    if birth_year is None:
        return None
    age = jalali_year - birth_year
    for key, (youngest, oldest, _label) in AGE_GROUPS.items():
        if youngest <= age and (oldest is None or age <= oldest):
            return key
    return None


def segment_scores() -> dict[str, float]:
    """Return each segment's RFM score: the middles of its recency and frequency ranges."""
    return {s.key: (sum(s.r) + sum(s.f)) / 2 for s in _segments()}


def _segments() -> tuple[Segment, ...]:
    from cloud.analytics.rfm import load_segments  # numpy and scipy: only when asked

    return load_segments()


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
    _new_trigger(trigger)
    actions = data.get("actions")
    if not isinstance(actions, list) or not actions:
        raise BadRequest("actions must be a non-empty list", field="actions")
    for index, action in enumerate(actions):
        _action(action, f"actions[{index}]")
    notes = [i for i, action in enumerate(actions) if action["type"] == "owner_note"]
    if len(notes) > 1:  # one note per entry (owner_notes.entry_id): a second fails the entry
        raise BadRequest("at most one owner_note action", field=f"actions[{notes[1]}].type")
    conditions = data.get("conditions", {})
    if not isinstance(conditions, dict):
        raise BadRequest("conditions must be an object", field="conditions")
    if "tiers" in conditions:
        _tiers(conditions["tiers"], "conditions.tiers")
    _audience(conditions)
    guardrails = data.get("guardrails", {})
    if not isinstance(guardrails, dict):
        raise BadRequest("guardrails must be an object", field="guardrails")
    period = guardrails.get("period", "year")
    if period not in ALL_PERIODS:
        raise BadRequest(
            f"guardrails.period must be one of {ALL_PERIODS}", field="guardrails.period"
        )
    if period == EVENT_PERIOD and trigger["type"] not in EVENT_TRIGGERS:
        raise BadRequest(
            f"guardrails.period event needs an event trigger {EVENT_TRIGGERS}",
            field="guardrails.period",
        )
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
    elif kind == "owner_note":
        text = action.get("text")
        if (
            not isinstance(text, str)
            or not text.strip()
            or len(text) > OWNER_NOTE_MAX
            or any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text)
        ):
            raise BadRequest(
                f"an owner_note action needs a text of 1..{OWNER_NOTE_MAX} characters",
                field=f"{where}.text",
            )
    elif not isinstance(action.get("note"), str) or not action["note"].strip():
        raise BadRequest("a gift action needs a note for the member", field=f"{where}.note")
    else:  # a surprise at the next visit: points handed over with the note by the terminal
        _whole(action, "amount", f"{where}.amount", low=1)


def _new_trigger(trigger: dict[str, Any]) -> None:
    """Check the options of the triggers added after the first six."""
    kind = trigger["type"]
    if kind == "purchase" and "min_amount_rial" in trigger:
        _whole(trigger, "min_amount_rial", "trigger.min_amount_rial", low=0)
    elif kind == "rising_rate":
        recent = _optional_whole(trigger, "recent", 2, low=1)
        least = _optional_whole(trigger, "min_purchases", 4, low=3)
        if least < recent + 2:
            raise BadRequest(
                "trigger.min_purchases must leave an earlier interval: at least recent + 2",
                field="trigger.min_purchases",
            )
        _number(trigger, "ratio", "trigger.ratio", 0.5, low=0.0, high=1.0)
    elif kind == "gap":
        if "k" not in trigger:
            raise BadRequest("trigger.k must be a number of at least 1", field="trigger.k")
        _number(trigger, "k", "trigger.k", 1.0, low=1.0, high=100.0)
        _optional_whole(trigger, "min_purchases", 3, low=2)
    elif kind in ("segment_change", "rfm_drop"):
        keys = {segment.key for segment in _segments()}
        for name in ("from", "to"):
            value = trigger.get(name)
            if value is not None and (
                not isinstance(value, list) or not value or not set(value) <= keys
            ):
                raise BadRequest(
                    f"trigger.{name} must list segments from {sorted(keys)}",
                    field=f"trigger.{name}",
                )
        if kind == "rfm_drop":
            _optional_whole(trigger, "points", 2, low=1)


def _optional_whole(data: dict[str, Any], name: str, default: int, low: int) -> int:
    if name not in data:
        return default
    return _whole(data, name, f"trigger.{name}", low)


def _number(
    data: dict[str, Any], name: str, where: str, default: float, low: float, high: float
) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"{where} must be a number from {low} to {high}", field=where)
    return float(value)


def _audience(conditions: dict[str, Any]) -> None:
    """Check the demographic conditions: genders, provinces, cities, age groups."""
    known = {"genders": set(GENDERS), "age_groups": set(AGE_GROUPS)}
    for name, allowed in known.items():
        value = conditions.get(name)
        if value is not None and (
            not isinstance(value, list) or not value or not set(value) <= allowed
        ):
            raise BadRequest(
                f"conditions.{name} must list some of {sorted(allowed)}", field=f"conditions.{name}"
            )
    for name, width in (("provinces", 40), ("cities", 60)):
        value = conditions.get(name)
        if value is not None and (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() and len(v) <= width for v in value)
        ):
            raise BadRequest(
                f"conditions.{name} must list names of at most {width} characters",
                field=f"conditions.{name}",
            )
