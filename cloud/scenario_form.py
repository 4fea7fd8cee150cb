"""HQ's scenario builder form: turn its fields into the JSON `scenarios.model` checks, and back.

The form has one slot per action kind (a text with one or two variants, points, credit, a
coupon, a surprise gift, a note to the store owner), the trigger's own fields, conditions,
guardrails and the control share. Reading it gives either the definition
`cloud.scenarios.model.parse` accepts or a Persian message for each bad field, keyed by the
form field's name so the page can show it next to that field. Nothing is stored here: the
caller saves only a clean definition.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.datastructures import MultiDict

from cloud.errors import BadRequest
from cloud.scenarios.model import (
    ACTIONS,
    AGE_GROUPS,
    ALL_PERIODS,
    EVENT_PERIOD,
    EVENT_TRIGGERS,
    GENDERS,
    PERIOD_LABELS,
    TIERS,
    TRIGGER_LABELS,
    TRIGGERS,
    parse,
)
from common.demographics import provinces
from common.persian import group_thousands, is_plain_number, to_ascii_digits

Form = MultiDict[str, str]  # werkzeug's request.form, or a test's MultiDict
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
SEPARATORS = str.maketrans("", "", "٬,،_ ")

TRIGGERS_FA = dict(TRIGGER_LABELS)
PERIODS_FA = dict(PERIOD_LABELS)
AGE_GROUPS_FA = {key: label for key, (_, _, label) in AGE_GROUPS.items()}
CONDITIONS = ("tiers", "stores", "min_spend_rial", "genders", "age_groups", "provinces", "cities")
LIST_SPLIT = re.compile(r"[،,\n]+")
TIERS_FA = {"normal": "عادی", "silver": "نقره‌ای", "gold": "طلایی", "vip": "VIP"}
ACTIONS_FA = {
    "sms": "پیامک",
    "points": "امتیاز",
    "credit": "اعتبار خرید",
    "coupon": "کوپن",
    "gift": "هدیهٔ غافلگیری",
    "owner_note": "یادداشت برای مدیر فروشگاه",
}

# Where each of the model's error fields shows on the form, and what it says there.
MODEL_FIELDS: dict[str, tuple[str, str]] = {
    "trigger.type": ("trigger", "رویداد را از فهرست انتخاب کنید"),
    "trigger.days": ("trigger_days", "تعداد روزهای غیبت را بنویسید (دست‌کم ۱)"),
    "trigger.tiers": ("trigger_tiers", "دست‌کم یک سطح عضویت را انتخاب کنید"),
    "trigger.occasion": ("trigger_occasion", "کلید مناسبت را بنویسید (مثلاً yalda)"),
    "trigger.max_nps": ("trigger_max_nps", "بیشترین امتیاز نظرسنجی باید بین ۰ تا ۱۰ باشد"),
    "actions": ("actions", "دست‌کم یک کار را انتخاب کنید"),
    "conditions.tiers": ("cond_tiers", "سطح‌های انتخاب‌شده درست نیست"),
    "trigger.min_amount_rial": ("trigger_min_amount", "کمترین مبلغ خرید را به ریال بنویسید"),
    "trigger.recent": ("trigger_recent", "تعداد فاصله‌های اخیر دست‌کم ۱ است"),
    "trigger.ratio": ("trigger_ratio", "نسبت عددی از ۰ تا ۱ است (مثلاً ۰٫۵)"),
    "trigger.k": ("trigger_k", "ضریب غیبت عددی از ۱ تا ۱۰۰ است (مثلاً ۲)"),
    "trigger.from": ("trigger_from", "بخش‌های مبدأ درست نیست"),
    "trigger.to": ("trigger_to", "بخش‌های مقصد درست نیست"),
    "trigger.points": ("trigger_points", "افت امتیاز دست‌کم ۱ است"),
    "conditions.genders": ("cond_genders", "جنسیت انتخاب‌شده درست نیست"),
    "conditions.age_groups": ("cond_age_groups", "گروه سنی انتخاب‌شده درست نیست"),
    "conditions.provinces": ("cond_provinces", "استان انتخاب‌شده درست نیست"),
    "conditions.cities": ("cond_cities", "نام شهر درست نیست"),
    "guardrails.period": ("period", "دورهٔ تکرار را از فهرست انتخاب کنید"),
    "guardrails.budget_rial": ("budget", "بودجه را به ریال و بدون اعشار بنویسید"),
    "control_pct": ("control_pct", "سهم گروه کنترل باید بین ۰ تا ۹۰ درصد باشد"),
}
ACTION_FIELDS: dict[str, tuple[str, str]] = {
    "sms.variants": ("sms_a", "متن پیامک را بنویسید (یک یا دو متن)"),
    "points.amount": ("points_amount", "تعداد امتیاز را بنویسید (دست‌کم ۱)"),
    "credit.amount": ("credit_amount", "مبلغ اعتبار را به ریال بنویسید (دست‌کم ۱)"),
    "coupon.value_rial": ("coupon_value", "مبلغ کوپن را به ریال بنویسید (دست‌کم ۱)"),
    "coupon.days": ("coupon_days", "چند روز اعتبار دارد؟ (دست‌کم ۱)"),
    "gift.note": ("gift_note", "پیامی را که عضو در فروشگاه می‌بیند بنویسید"),
    "gift.amount": ("gift_amount", "امتیاز هدیه را بنویسید (دست‌کم ۱)"),
    "owner_note.text": (
        "owner_note_text",
        "متن یادداشت برای مدیر فروشگاه را بنویسید (حداکثر ۵۰۰ نویسه)",
    ),
}


class FormErrors(Exception):
    """The form has bad fields; ``errors`` maps each field's name to a Persian message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(f"bad scenario form fields: {', '.join(sorted(errors))}")
        self.errors = errors


def read_form(form: Form, known_stores: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
    """Return (Persian name, definition) from the builder's fields; raise FormErrors."""
    reader = _Reader(form)
    name = form.get("name_fa", "").strip()
    if not name or len(name) > 80:
        reader.errors["name_fa"] = "نام سناریو را بنویسید (حداکثر ۸۰ نویسه)"
    definition: dict[str, Any] = {
        "name_fa": name,
        "trigger": _trigger(reader, form),
        "actions": _actions(reader, form),
        "guardrails": _guardrails(reader, form),
        "control_pct": reader.number("control_pct", 0, 90, "سهم گروه کنترل", default=10),
    }
    conditions = _conditions(reader, form, known_stores)
    if conditions:  # none is every member, as in the library's scenarios
        definition["conditions"] = conditions
    if reader.errors:
        raise FormErrors(reader.errors)
    try:
        parse("form", definition)
    except BadRequest as exc:  # what the model checks beyond the form's own fields
        raise FormErrors(dict([_model_error(exc.field, definition)])) from exc
    return name, definition


def unsupported(definition: Mapping[str, Any]) -> str:
    """Say in Persian why the builder cannot edit a stored scenario without losing part of it."""
    if definition.get("trigger", {}).get("type") not in TRIGGERS_FA:
        return "رویداد این سناریو در این فرم نیست"
    kinds = [action.get("type") for action in definition.get("actions", [])]
    if len(kinds) != len(set(kinds)):
        return "این سناریو چند کار از یک نوع دارد"
    if set(definition.get("conditions", {})) - set(CONDITIONS):
        return "این سناریو شرط‌هایی دارد که در این فرم نیست"
    if definition.get("guardrails", {}).get("period", "year") not in ALL_PERIODS:
        return "دورهٔ این سناریو در این فرم نیست"
    return ""


def segments() -> dict[str, str]:
    """Return the RFM segments' keys with their Persian names, for the segment triggers."""
    from cloud.analytics.rfm import load_segments  # numpy and scipy: only when asked

    return {segment.key: segment.fa for segment in load_segments()}


def check_new_id(scenario_id: str) -> str:
    """Return a new scenario id, or the Persian reason it cannot be one."""
    if not ID_PATTERN.match(scenario_id):
        return "شناسه با حروف کوچک لاتین، رقم و خط تیره، حداکثر ۴۰ نویسه (مثلاً yalda-1405)"
    return ""


def form_values(definition: Mapping[str, Any]) -> dict[str, Any]:
    """Return the builder's field values for a stored definition, to edit it."""
    trigger = definition.get("trigger", {})
    conditions = definition.get("conditions", {})
    guardrails = definition.get("guardrails", {})
    values: dict[str, Any] = {
        "name_fa": definition.get("name_fa", ""),
        "trigger": trigger.get("type", ""),
        "trigger_days": trigger.get("days", ""),
        "trigger_tiers": list(trigger.get("tiers", [])),
        "trigger_max_nps": trigger.get("max_nps", ""),
        "trigger_occasion": trigger.get("occasion", ""),
        "trigger_min_amount": trigger.get("min_amount_rial", ""),
        "trigger_recent": trigger.get("recent", ""),
        "rising_min_purchases": trigger.get("min_purchases", "")
        if trigger.get("type") == "rising_rate"
        else "",
        "trigger_ratio": _decimal_text(trigger.get("ratio")),
        "trigger_k": _decimal_text(trigger.get("k")),
        "gap_min_purchases": trigger.get("min_purchases", "")
        if trigger.get("type") == "gap"
        else "",
        "trigger_from": list(trigger.get("from", [])),
        "trigger_to": list(trigger.get("to", [])),
        "trigger_points": trigger.get("points", ""),
        "cond_tiers": list(conditions.get("tiers", [])),
        "cond_genders": list(conditions.get("genders", [])),
        "cond_age_groups": list(conditions.get("age_groups", [])),
        "cond_provinces": list(conditions.get("provinces", [])),
        "cond_cities": "، ".join(conditions.get("cities", [])),
        "cond_stores": list(conditions.get("stores", [])),
        "cond_min_spend": conditions.get("min_spend_rial", "") or "",
        "period": guardrails.get("period", "year"),
        "budget": "" if guardrails.get("budget_rial") is None else guardrails["budget_rial"],
        "sms_per_week": guardrails.get("sms_per_week", 2),
        "control_pct": definition.get("control_pct", 10),
    }
    for action in definition.get("actions", []):
        kind = action.get("type")
        values[f"act_{kind}"] = True
        if kind == "sms":
            variants = [*action.get("variants", []), "", ""]
            values["sms_a"], values["sms_b"] = variants[0], variants[1]
        elif kind == "coupon":
            values["coupon_value"] = action.get("value_rial", "")
            values["coupon_days"] = action.get("days", "")
        elif kind == "owner_note":
            values["owner_note_text"] = action.get("text", "")
        else:
            values[f"{kind}_amount"] = action.get("amount", "")
            values[f"{kind}_note"] = action.get("note", "")
    return values


def _decimal_text(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


def submitted_values(form: Form) -> dict[str, Any]:
    """Return what was typed, to show the form again beside its errors."""
    values: dict[str, Any] = {key: form.get(key, "") for key in FIELDS}
    for key in MULTI_FIELDS:
        values[key] = form.getlist(key)
    for kind in ACTIONS:
        values[f"act_{kind}"] = form.get(f"act_{kind}", "") == "on"
    return values


FIELDS = (
    "name_fa",
    "trigger",
    "trigger_days",
    "trigger_max_nps",
    "trigger_occasion",
    "trigger_min_amount",
    "trigger_recent",
    "rising_min_purchases",
    "trigger_ratio",
    "trigger_k",
    "gap_min_purchases",
    "trigger_points",
    "cond_min_spend",
    "cond_cities",
    "period",
    "budget",
    "sms_per_week",
    "control_pct",
    "sms_a",
    "sms_b",
    "points_amount",
    "points_note",
    "credit_amount",
    "coupon_value",
    "coupon_days",
    "gift_amount",
    "gift_note",
    "owner_note_text",
)
MULTI_FIELDS = (
    "trigger_tiers",
    "trigger_from",
    "trigger_to",
    "cond_tiers",
    "cond_stores",
    "cond_genders",
    "cond_age_groups",
    "cond_provinces",
)


class _Reader:
    """Read numbers typed with any digits and separators, noting a Persian error per field."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.errors: dict[str, str] = {}

    def number(
        self, name: str, low: int, high: int, label: str, default: int | None = None
    ) -> int | None:
        raw = to_ascii_digits(self.form.get(name, "")).translate(SEPARATORS)
        if not raw and default is not None:
            return default
        if not is_plain_number(raw) or not low <= int(raw) <= high:
            self.errors[name] = f"{label}: عددی درست بنویسید (از {_fa(low)} تا {_fa(high)})"
            return None
        return int(raw)

    def decimal(self, name: str, low: float, high: float, label: str) -> float | None:
        raw = to_ascii_digits(self.form.get(name, "")).strip().replace("٫", ".").replace("/", ".")
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN and infinities fail here too
            self.errors[name] = (
                f"{label}: عددی درست بنویسید (از {_fa(int(low))} تا {_fa(int(high))})"
            )
            return None
        return value

    def optional(self, name: str, low: int, high: int, label: str) -> int | None:
        """Read a whole number the model has a default for; blank means that default."""
        if not self.form.get(name, "").strip():
            return None
        return self.number(name, low, high, label)


def _fa(number: int) -> str:
    return group_thousands(number)


def _trigger(reader: _Reader, form: Form) -> dict[str, Any]:
    kind = form.get("trigger", "")
    if kind not in TRIGGERS:
        reader.errors["trigger"] = MODEL_FIELDS["trigger.type"][1]
        return {"type": kind}
    trigger: dict[str, Any] = {"type": kind}
    if kind == "inactive":
        trigger["days"] = reader.number("trigger_days", 1, 3650, "روزهای غیبت")
    elif kind == "tier":
        trigger["tiers"] = [t for t in TIERS if t in form.getlist("trigger_tiers")]
        if not trigger["tiers"]:
            reader.errors["trigger_tiers"] = MODEL_FIELDS["trigger.tiers"][1]
    elif kind == "feedback":
        trigger["max_nps"] = reader.number("trigger_max_nps", 0, 10, "بیشترین امتیاز نظرسنجی")
    elif kind == "occasion":
        trigger["occasion"] = form.get("trigger_occasion", "").strip()
        if not re.fullmatch(r"[a-z0-9-]{1,40}", trigger["occasion"]):
            reader.errors["trigger_occasion"] = MODEL_FIELDS["trigger.occasion"][1]
    else:
        _later_trigger(reader, form, trigger)
    return {key: value for key, value in trigger.items() if value is not None}


def _later_trigger(reader: _Reader, form: Form, trigger: dict[str, Any]) -> None:
    """Read the options of the triggers added after the first six; blank means the default."""
    kind = trigger["type"]
    if kind == "purchase":
        trigger["min_amount_rial"] = reader.optional(
            "trigger_min_amount", 0, 10**13, "کمترین مبلغ خرید (ریال)"
        )
    elif kind == "rising_rate":
        trigger["recent"] = reader.optional("trigger_recent", 1, 50, "تعداد فاصله‌های اخیر")
        trigger["min_purchases"] = reader.optional(
            "rising_min_purchases", 3, 1000, "کمترین تعداد خرید"
        )
        if form.get("trigger_ratio", "").strip():
            trigger["ratio"] = reader.decimal("trigger_ratio", 0.0, 1.0, "نسبت")
    elif kind == "gap":
        trigger["k"] = reader.decimal("trigger_k", 1.0, 100.0, "ضریب غیبت")
        trigger["min_purchases"] = reader.optional(
            "gap_min_purchases", 2, 1000, "کمترین تعداد خرید"
        )
    elif kind in ("segment_change", "rfm_drop"):
        known = segments()
        for name in ("from", "to"):
            chosen = form.getlist(f"trigger_{name}")
            if any(key not in known for key in chosen):
                reader.errors[f"trigger_{name}"] = MODEL_FIELDS[f"trigger.{name}"][1]
            if chosen:
                trigger[name] = [key for key in known if key in chosen]
        if kind == "rfm_drop":
            trigger["points"] = reader.optional("trigger_points", 1, 10, "افت امتیاز")


def _actions(reader: _Reader, form: Form) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    chosen = [kind for kind in ACTIONS if form.get(f"act_{kind}", "") == "on"]
    if not chosen:
        reader.errors["actions"] = MODEL_FIELDS["actions"][1]
    for kind in chosen:
        if kind == "sms":
            variants = [form.get(k, "").strip() for k in ("sms_a", "sms_b")]
            if not variants[0]:
                reader.errors["sms_a"] = ACTION_FIELDS["sms.variants"][1]
            actions.append({"type": "sms", "variants": [v for v in variants if v]})
        elif kind in ("points", "gift"):
            action = {
                "type": kind,
                "amount": reader.number(f"{kind}_amount", 1, 1_000_000, "امتیاز"),
            }
            note = form.get(f"{kind}_note", "").strip()
            if note:
                action["note"] = note[:200]
            elif kind == "gift":
                reader.errors["gift_note"] = ACTION_FIELDS["gift.note"][1]
            actions.append(action)
        elif kind == "owner_note":
            text = form.get("owner_note_text", "").replace("\r\n", "\n").strip()
            if not text:
                reader.errors["owner_note_text"] = ACTION_FIELDS["owner_note.text"][1]
            actions.append({"type": "owner_note", "text": text})
        elif kind == "credit":
            amount = reader.number("credit_amount", 1, 10**12, "مبلغ اعتبار (ریال)")
            actions.append({"type": "credit", "amount": amount})
        else:
            value = reader.number("coupon_value", 1, 10**12, "مبلغ کوپن (ریال)")
            days = reader.number("coupon_days", 1, 365, "روزهای اعتبار کوپن")
            actions.append({"type": "coupon", "value_rial": value, "days": days})
    return actions


def _conditions(reader: _Reader, form: Form, known_stores: Sequence[str]) -> dict[str, Any]:
    conditions: dict[str, Any] = {}
    tiers = [t for t in TIERS if t in form.getlist("cond_tiers")]
    if len(form.getlist("cond_tiers")) != len(tiers):
        reader.errors["cond_tiers"] = MODEL_FIELDS["conditions.tiers"][1]
    if tiers and len(tiers) < len(TIERS):  # every tier ticked is the same as none
        conditions["tiers"] = tiers
    stores = form.getlist("cond_stores")
    if any(store not in known_stores for store in stores):
        reader.errors["cond_stores"] = "فروشگاه انتخاب‌شده پیدا نشد"
    if stores:
        conditions["stores"] = sorted(set(stores))
    _audience(reader, form, conditions)
    if form.get("cond_min_spend", "").strip():
        spend = reader.number("cond_min_spend", 0, 10**13, "کمترین خرید (ریال)")
        if spend:
            conditions["min_spend_rial"] = spend
    return conditions


def _audience(reader: _Reader, form: Form, conditions: dict[str, Any]) -> None:
    """Read the demographic conditions: genders, age groups, provinces and cities."""
    places = provinces()
    for name, known in (
        ("genders", list(GENDERS)),
        ("age_groups", list(AGE_GROUPS)),
        ("provinces", list(places)),
    ):
        chosen = form.getlist(f"cond_{name}")
        if any(value not in known for value in chosen):
            reader.errors[f"cond_{name}"] = MODEL_FIELDS[f"conditions.{name}"][1]
        if chosen:
            conditions[name] = [value for value in known if value in chosen]
    typed = [c.strip() for c in LIST_SPLIT.split(form.get("cond_cities", "")) if c.strip()]
    cities = {city for names in places.values() for city in names}
    unknown = [c for c in typed if c not in cities]
    if unknown:
        reader.errors["cond_cities"] = f"این شهر در فهرست شهرها نیست: {'، '.join(unknown)}"
    if typed:
        conditions["cities"] = list(dict.fromkeys(typed))


def _guardrails(reader: _Reader, form: Form) -> dict[str, Any]:
    period = form.get("period", "")
    if period not in ALL_PERIODS:
        reader.errors["period"] = MODEL_FIELDS["guardrails.period"][1]
    guardrails: dict[str, Any] = {
        "period": period,
        "sms_per_week": reader.number("sms_per_week", 1, 14, "سقف پیامک در هفته", default=2),
    }
    if form.get("budget", "").strip():
        guardrails["budget_rial"] = reader.number("budget", 0, 10**14, "بودجه (ریال)")
    return guardrails


def _model_error(field: str, definition: dict[str, Any]) -> tuple[str, str]:
    kind = definition["trigger"]["type"]
    if field == "trigger.min_purchases":
        where = "rising_min_purchases" if kind == "rising_rate" else "gap_min_purchases"
        return where, "کمترین تعداد خرید باید دست‌کم دو تا بیشتر از فاصله‌های اخیر باشد"
    if field == "guardrails.period" and definition["guardrails"]["period"] == EVENT_PERIOD:
        named = "، ".join(TRIGGERS_FA[t] for t in EVENT_TRIGGERS)
        return "period", f"«{PERIODS_FA[EVENT_PERIOD]}» فقط برای این رویدادهاست: {named}"
    if field in MODEL_FIELDS:
        return MODEL_FIELDS[field]
    found = re.fullmatch(r"actions\[(\d+)\]\.(\w+)", field)
    if found:
        kind = definition["actions"][int(found.group(1))].get("type", "")
        if f"{kind}.{found.group(2)}" in ACTION_FIELDS:
            return ACTION_FIELDS[f"{kind}.{found.group(2)}"]
    return "form", "سناریو پذیرفته نشد؛ فیلدها را بازبینی کنید"
